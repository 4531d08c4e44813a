import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { SAMPLESET_LABEL } from '../../../../src/api/constants.js';
import { CacheStatsNotifier } from '../../../../src/operators/shared/cache-stats-notifier.js';
import { isPodReady, podOrdinal, readRuntimeToken, runtimeBaseUrl, runtimePodsOf } from '../../../../src/operators/shared/runtime-pods.js';

const pod = (
  name: string,
  opts: { label?: string; owner?: string; ready?: boolean; ip?: string; node?: string; deleting?: boolean } = {},
): V1Pod => ({
  metadata: {
    name,
    namespace: 'ml',
    uid: `uid-${name}`,
    labels: opts.label === undefined ? { [SAMPLESET_LABEL]: 'imagenet' } : { [SAMPLESET_LABEL]: opts.label },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: opts.owner ?? 'imagenet-runtime', uid: 'sts', controller: true }],
    deletionTimestamp: opts.deleting ? new Date() : undefined,
  },
  spec: { nodeName: opts.node, containers: [] },
  status: {
    phase: 'Running',
    podIP: opts.ip ?? '127.20.0.5',
    conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
  },
});

describe('operators/shared', () => {
  it('parses StatefulSet ordinals', () => {
    expect(podOrdinal('imagenet-runtime-0', 'imagenet-runtime')).to.equal(0);
    expect(podOrdinal('imagenet-runtime-12', 'imagenet-runtime')).to.equal(12);
    expect(podOrdinal('imagenet-runtime-01', 'imagenet-runtime')).to.equal(-1);
    expect(podOrdinal('imagenet-runtime-x', 'imagenet-runtime')).to.equal(-1);
    expect(podOrdinal('other-0', 'imagenet-runtime')).to.equal(-1);
  });

  it('finds the runtime pods of a SampleSet, sorted, ignoring look-alikes', () => {
    const pods = [
      pod('imagenet-runtime-1', { node: 'n1' }),
      pod('imagenet-runtime-0', { node: 'n0', ready: false }),
      pod('imagenet-runtime-2', { label: 'other' }),
      pod('imagenet-runtime-3', { owner: 'someone-else' }),
      pod('imagenet-runtime-4', { deleting: true }),
    ];
    const rps = runtimePodsOf(pods, 'imagenet', 'imagenet-runtime');
    expect(rps.map((p) => [p.name, p.ordinal, p.ready, p.nodeName])).to.deep.equal([
      ['imagenet-runtime-0', 0, false, 'n0'],
      ['imagenet-runtime-1', 1, true, 'n1'],
      ['imagenet-runtime-4', 4, false, undefined],
    ]);
  });

  it('knows ready pods and their URLs', () => {
    expect(isPodReady(pod('a'))).to.equal(true);
    expect(isPodReady(pod('a', { ready: false }))).to.equal(false);
    expect(isPodReady(pod('a', { deleting: true }))).to.equal(false);
    expect(runtimeBaseUrl(pod('a', { ip: '127.20.0.9' }))).to.equal('http://127.20.0.9:7716');
    expect(runtimeBaseUrl({ podIP: 'fd00::1' })).to.equal('http://[fd00::1]:7716');
    expect(runtimeBaseUrl({ podIP: undefined })).to.equal(undefined);
  });

  it('reads the runtime token from data or stringData', () => {
    expect(readRuntimeToken({ data: { token: Buffer.from('abc').toString('base64') } })).to.equal('abc');
    expect(readRuntimeToken({ stringData: { token: 'xyz' } })).to.equal('xyz');
    expect(readRuntimeToken({ data: {} })).to.equal(undefined);
    expect(readRuntimeToken(undefined)).to.equal(undefined);
  });

  it('notifies subscribers of stale cache statistics and lets them go', () => {
    const n = new CacheStatsNotifier();
    const seen: string[] = [];
    const off = n.subscribe((r) => seen.push(`${r.namespace}/${r.name}`));
    n.subscribe(() => {
      throw new Error('a broken listener does not break the caller');
    });
    n.invalidate('ml', 'imagenet');
    off();
    n.invalidate('ml', 'other');
    expect(seen).to.deep.equal(['ml/imagenet']);
    expect(n.listenerCount).to.equal(1);
  });
});
