// Many objects at once, for the footprint and scale benchmarks: create them with bounded
// concurrency and follow, through one watch, when each first reaches a status phase.
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { ResourceType } from '../../../src/api/constants.js';
import { SAMPLEJOB, SAMPLESET, SECRET } from '../../../src/api/constants.js';
import type { SampleJob } from '../../../src/api/samplejob.js';
import type { SampleSet } from '../../../src/api/sampleset.js';
import { Informer } from '../../../src/kube/informer.js';
import type { KubeApi } from '../../../src/kube/kube-api.js';
import { mapSettled } from '../../../src/operators/paddlejob/concurrency.js';
import { waitFor } from '../../harness/util.js';

/** Creates every object (`concurrency` requests in flight); throws the first failure. */
export async function createAll<T extends KubernetesObject>(
  api: KubeApi,
  type: ResourceType,
  objects: T[],
  concurrency = 16,
): Promise<void> {
  const results = await mapSettled(objects, concurrency, (o) => api.create(type, o));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** When each object of `type` in `namespace` was first seen with `status.phase` in `phases`. */
export class PhaseClock<T extends KubernetesObject & { status?: { phase?: string } }> {
  readonly reached = new Map<string, number>();
  private readonly informer: Informer<T>;

  constructor(
    api: KubeApi,
    type: ResourceType,
    namespace: string,
    private readonly phases: string[],
  ) {
    this.informer = new Informer<T>(api, type, { namespace });
    this.informer.addHandler((t, o) => {
      const name = o.metadata!.name!;
      if (t !== 'delete' && this.phases.includes(o.status?.phase ?? '') && !this.reached.has(name))
        this.reached.set(name, performance.now());
    });
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  /** Waits until `count` objects reached a phase; the error names a few that did not and their phases. */
  async waitForCount(count: number, timeoutMs: number): Promise<number> {
    try {
      await waitFor(`${count} ${this.phases.join('/')}`, () => this.reached.size >= count, { timeoutMs, intervalMs: 50 });
    } catch (e) {
      const late = this.informer.list(undefined, (o) => !this.reached.has(o.metadata!.name!)).slice(0, 5);
      const what = late.map((o) => `${o.metadata!.name}: ${o.status?.phase ?? '(no phase)'}`).join(', ');
      throw new Error(`${(e as Error).message} (${this.reached.size} did; e.g. ${what})`);
    }
    return performance.now();
  }

  objects(): T[] {
    return this.informer.list();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

/** A JuiceFS volume Secret with valid fields; the cheap runtimes never mount it. */
export function createVolumeSecret(api: KubeApi, namespace: string, name = 'vol'): Promise<V1Secret> {
  return api.create<V1Secret>(SECRET, {
    metadata: { name, namespace },
    stringData: {
      name: 'bench-vol',
      metaurl: 'sqlite3:///tmp/paddle-bench-unused.db',
      storage: 'file',
      bucket: '/tmp/paddle-bench-unused/',
    },
  });
}

/** A one-partition SampleSet without an initial sync, on the volume Secret `vol`. */
export function sampleSet(namespace: string, name: string): SampleSet {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name, namespace },
    spec: {
      partitions: 1,
      noSync: true,
      secretRef: { name: 'vol' },
      cache: { levels: [{ mediumType: 'SSD', path: `/var/lib/paddle-operator/cache/${name}`, cacheSize: 256 }] },
    },
  };
}

/** An `rmr` SampleJob of one path against `sampleSetName`. */
export function rmrJob(namespace: string, name: string, sampleSetName: string): SampleJob {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleJob',
    metadata: { name, namespace },
    spec: { type: 'rmr', sampleSetRef: { name: sampleSetName }, rmrOptions: { paths: [`/files/${name}`] } },
  };
}

export { SAMPLEJOB, SAMPLESET };
