// The extension point end to end: a SampleSet with `spec.csi.driver: example` realised by the real
// SampleSet operator (this process, the production informers, work queue, API and runtime clients)
// on the real control plane, with the example engine's real runtime — paddle-runtime serving the
// example package (test/harness/paddle-runtime-example.ts) for each runtime pod KWOK runs. No
// operator code knows the engine: it is only in the registry handed to the operator. The example
// engine's volume is a hostPath PV, which the cache-node simulator maps to a per-node directory.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import type { V1Node, V1PersistentVolume, V1Pod, V1Secret } from '@kubernetes/client-node';
import { NODE, POD, PV, SAMPLESET, SAMPLESET_LABEL, SECRET } from '../../src/api/constants.js';
import type { SampleSet, SampleSetSpec } from '../../src/api/sampleset.js';
import { EXAMPLE_ENGINE, EXAMPLE_PACKAGE } from '../../src/engines/example/example-engine.js';
import { INSTALLED_ENGINES, installedEngines } from '../../src/engines/installed.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { EXAMPLE_RUNTIME_ENTRY, startCacheNodeSimulator, type CacheNodeSimulator } from '../harness/cache-nodes.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { httpRequest, waitFor } from '../harness/util.js';
import { deleteTestNamespaces, testCluster } from './cluster.js';
import { startSampleSetOperator } from './sampleset-helpers.js';

const NS_PREFIX = 'e2e-example-';
const WAIT = { timeoutMs: 90_000, intervalMs: 250 };

/** Relative path → content of every regular file under `dir`. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[path.relative(dir, p)] = fs.readFileSync(p, 'utf8');
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

describe('example cache engine through the SampleSet operator (real control plane, example runtime)', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let agent: http.Agent;
  let stopOperator: (() => Promise<void>) | undefined;
  const namespaces: string[] = [];

  /** The SampleSet operator with the example engine registered next to the installed ones. */
  async function startOperator(): Promise<() => Promise<void>> {
    const operator = await startSampleSetOperator(agent, {}, installedEngines({}, [...INSTALLED_ENGINES, EXAMPLE_PACKAGE]));
    return () => operator.stop();
  }

  before(async function () {
    this.timeout(120_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    agent = new http.Agent({ keepAlive: true });
    sim = await startCacheNodeSimulator(cp, {
      runtimeEntry: EXAMPLE_RUNTIME_ENTRY,
      podFilter: (p) => (p.metadata?.namespace ?? '').startsWith(NS_PREFIX),
    });
    stopOperator = await startOperator();
  });

  after(async function () {
    this.timeout(180_000);
    // the operator stays up while the namespaces go: the SampleSet finalizer needs it
    if (namespaces.length) await deleteTestNamespaces(cp, namespaces, 'example-engine');
    await stopOperator?.();
    await sim?.stop();
    agent?.destroy();
  });

  it('a SampleSet with spec.csi.driver: example goes Ready, its initial sync copying the source files with the example runtime', async function () {
    this.timeout(180_000);
    const ns = `${NS_PREFIX}${crypto.randomBytes(3).toString('hex')}`;
    await cp.ensureNamespace(ns);
    namespaces.push(ns);
    const name = 'demo';

    // the source: a local directory the runtime (a process on this host) reads through file://
    const source = path.join(cp.runDir, `example-source-${ns}`);
    const files: Record<string, string> = {
      'README.txt': 'example dataset\n',
      'train/a.txt': 'alpha',
      'train/b.txt': 'bravo',
      'val/deep/c.txt': 'charlie',
    };
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(source, rel)), { recursive: true });
      fs.writeFileSync(path.join(source, rel), content);
    }

    // the example engine needs no volume Secret keys, but the operator requires the Secret to exist
    await api.create<V1Secret>(SECRET, { metadata: { name: 'example-volume', namespace: ns }, stringData: {} });
    const spec: SampleSetSpec = {
      partitions: 2,
      csi: { driver: EXAMPLE_ENGINE },
      secretRef: { name: 'example-volume' },
      source: { uri: `file://${source}/` },
    };
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name, namespace: ns },
      spec,
    });

    let last: SampleSet | undefined;
    const ready = await waitFor(
      `SampleSet ${ns}/${name} Ready`,
      async () => {
        last = await api.get<SampleSet>(SAMPLESET, name, ns);
        return last?.status?.phase === 'Ready' ? last : undefined;
      },
      WAIT,
    ).catch((e: unknown) => {
      throw new Error(
        `${(e as Error).message}\nlast status: ${JSON.stringify(last?.status, null, 1)}\nsimulator errors: ${sim.errors.slice(-5).join(' | ')}`,
      );
    });
    expect(ready.status!.syncJob).to.include({ phase: 'Succeeded' });
    expect(ready.status!.conditions!.find((c) => c.type === 'Ready')).to.include({ status: 'True' });

    // the objects are the example engine's: a hostPath PV, its runtime pods running paddle-runtime --engine example
    const pv = (await api.get<V1PersistentVolume>(PV, `${ns}.${name}-example`))!;
    expect(pv.spec?.hostPath?.path).to.equal(`/var/lib/paddle-example/${ns}/${name}`);
    const pods = (await api.list<V1Pod>(POD, ns, { labelSelector: `${SAMPLESET_LABEL}=${name}` })).items;
    expect(pods.map((p) => p.metadata!.name).sort()).to.deep.equal([`${name}-runtime-0`, `${name}-runtime-1`]);
    for (const p of pods) {
      const served = await sim.waitForRuntime(ns, p.metadata!.name!);
      const health = await httpRequest(`http://${served.podIP}:7716/healthz`, { timeoutMs: 2000 });
      expect(JSON.parse(health.body), `${p.metadata!.name} /healthz`).to.include({ ok: true, engine: EXAMPLE_ENGINE });
    }

    // the cache nodes carry the example engine's label, valued with the pod on the node
    const key = `paddlepaddle.org/${EXAMPLE_ENGINE}-${name}`;
    const labelled = (await api.list<V1Node>(NODE)).items.filter((n) => n.metadata?.labels?.[key]);
    expect(labelled.map((n) => n.metadata!.labels![key]).sort()).to.deep.equal([`${name}-runtime-0`, `${name}-runtime-1`]);

    // the sync ran on one runtime pod (fan-out "one") and wrote the source tree into its node's volume directory
    const copies = pods.map((p) => tree(sim.hostPath(p.spec!.nodeName!, pv.spec!.hostPath!.path))).filter((t) => Object.keys(t).length > 0);
    expect(copies, 'one node holds the synced files').to.have.length(1);
    expect(copies[0]).to.deep.equal(files);
  });
});
