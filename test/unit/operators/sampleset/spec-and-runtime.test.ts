import { expect } from 'chai';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import type { SampleSet, SampleSetSpec } from '../../../../src/api/sampleset.js';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { ExampleEngine } from '../../../../src/engines/example/example-engine.js';
import { EngineRegistry } from '../../../../src/engines/registry.js';
import type { RuntimePod } from '../../../../src/operators/shared/runtime-pods.js';
import { observeRuntime, podProblem } from '../../../../src/operators/sampleset/runtime-status.js';
import { checkSpec, type SecretKey } from '../../../../src/operators/sampleset/spec-check.js';

/** The pure phases of a SampleSet pass: the spec check (1) and what the runtime pods show (4). */
describe('SampleSet spec check and runtime observation', () => {
  const engines = new EngineRegistry([new ExampleEngine()]);
  const ss = (spec: Partial<SampleSetSpec>): SampleSet =>
    ({
      metadata: { name: 'ds', namespace: 'ns' },
      spec: { partitions: 1, secretRef: { name: 'vol' }, csi: { driver: 'example' }, ...spec },
    }) as SampleSet;
  const secrets =
    (...names: string[]) =>
    (k: SecretKey): V1Secret | undefined =>
      k.namespace === 'ns' && names.includes(k.name) ? { metadata: { name: k.name } } : undefined;
  const reason = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof SpecError ? e.reason : `not a SpecError: ${(e as Error).message}`;
    }
    return undefined;
  };

  it("refuses another namespace's Secret, a missing volume Secret and a missing source Secret", () => {
    expect(reason(() => checkSpec(ss({ secretRef: { name: 'vol', namespace: 'other' } }), engines, secrets('vol')))).to.equal(
      'CrossNamespaceSecret',
    );
    expect(reason(() => checkSpec(ss({}), engines, secrets()))).to.equal('SecretNotFound');
    expect(reason(() => checkSpec(ss({ source: { uri: 'file:///in', secretRef: { name: 'src' } } }), engines, secrets('vol')))).to.equal(
      'SourceSecretNotFound',
    );
  });

  it('wants a sync only with a source and without noSync; the source credentials default to the volume Secret', () => {
    expect(checkSpec(ss({}), engines, secrets('vol')).wantsSync).to.equal(false);
    expect(checkSpec(ss({ noSync: true, source: { uri: 'file:///in' } }), engines, secrets('vol')).wantsSync).to.equal(false);
    const synced = checkSpec(ss({ source: { uri: 'file:///in' } }), engines, secrets('vol'));
    expect(synced.wantsSync).to.equal(true);
    expect(synced.sourceSecret?.metadata?.name).to.equal('vol');
  });

  it('observes only partition pods; two ready pods on one node are not on distinct nodes', () => {
    const p = (i: number, node: string, ready = true): RuntimePod => ({
      pod: { status: { phase: 'Running' } },
      name: `ds-runtime-${i}`,
      ordinal: i,
      ready,
      nodeName: node,
    });
    const o = observeRuntime([p(0, 'a'), p(1, 'a'), p(2, 'b')], 2);
    expect(o.partitionPods.map((x) => x.ordinal)).to.deep.equal([0, 1]);
    expect(o.ready.length).to.equal(2);
    expect(o.distinctNodes).to.equal(false);
    expect(observeRuntime([p(0, 'a'), p(1, 'b', false)], 2).distinctNodes).to.equal(true);
  });

  it('says why a partition pod is not ready', () => {
    expect(podProblem('x-0', undefined)).to.equal('x-0: not created yet');
    const unscheduled = {
      pod: { status: { conditions: [{ type: 'PodScheduled', status: 'False', message: '0/3 nodes are available' }] } } as V1Pod,
      name: 'x-0',
      ordinal: 0,
      ready: false,
    };
    expect(podProblem('x-0', unscheduled)).to.equal('x-0: not scheduled: 0/3 nodes are available');
    const waiting = {
      pod: { status: { containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] } } as V1Pod,
      name: 'x-0',
      ordinal: 0,
      ready: false,
      nodeName: 'a',
    };
    expect(podProblem('x-0', waiting)).to.equal('x-0: ImagePullBackOff');
  });
});
