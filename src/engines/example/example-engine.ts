/**
 * A minimal second cache engine, `example`, to show the extension point (see ../README.md).
 *
 * The "volume" is a hostPath directory per SampleSet on each node, `/var/lib/paddle-example/<ns>/<name>`,
 * and the runtime copies `file://` sources into it with fs.cp. It has no real cache: warmup reads
 * its shard of files once, clear does nothing. It is deliberately small — enough to show both
 * halves, the registration and that no operator changes — and is not meant for production.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import {
  cacheNodeLabelKey,
  CREATED_BY_LABEL,
  CREATED_BY_VALUE,
  RUNTIME_PORT,
  RUNTIME_PORT_NAME,
  SAMPLESET_LABEL,
} from '../../api/constants.js';
import type { SampleJob, SampleJobType } from '../../api/samplejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import { formatRuntimeArgs } from '../../api/runtime-cli.js';
import { walkFiles } from '../toolkit/fs-walk.js';
import { normalizeUserPath } from '../toolkit/path-safety.js';
import { openDirBeneath, readRegularFileBeneath, removeIn, splitParent, walkBeneath, writeFileBeneath } from '../toolkit/beneath.js';
import {
  RUNTIME_TOKEN_ENV,
  RUNTIME_TOKEN_KEY,
  type NodeCacheStats,
  type RmrRequest,
  type RuntimeJobOptions,
  type RuntimeJobRequest,
  type SyncRequest,
  type WarmupRequest,
} from '../../api/runtime-protocol.js';
import {
  SpecError,
  type CacheEngine,
  type CacheRuntime,
  type CacheRuntimeFactory,
  type EnginePackage,
  type JobExecution,
  type RuntimeEnvironment,
  type SampleSetContext,
  type SampleSetObjects,
} from '../cache-engine.js';

export const EXAMPLE_ENGINE = 'example';

const labels = (s: SampleSet): Record<string, string> => ({ [SAMPLESET_LABEL]: s.metadata.name!, [CREATED_BY_LABEL]: CREATED_BY_VALUE });
const hostDir = (s: SampleSet): string => `/var/lib/paddle-example/${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;

/** Controller half: pure builders. */
export class ExampleEngine implements CacheEngine {
  readonly name = EXAMPLE_ENGINE;

  validateVolumeSecret(_secret: V1Secret | undefined, _s: SampleSet): void {
    // This engine needs no volume Secret.
  }

  validateSpec(s: SampleSet): void {
    const uri = s.spec.source?.uri;
    if (uri && !uri.startsWith('file:///')) throw new SpecError('InvalidSource', 'the example engine only syncs from file:/// sources');
  }

  persistentVolumeName(s: SampleSet): string {
    return `${s.metadata.namespace ?? 'default'}.${s.metadata.name}-example`;
  }
  persistentVolumeClaimName(s: SampleSet): string {
    return s.metadata.name!;
  }
  /**
   * `<name>-runtime`; past 52 characters (the StatefulSet controller labels pods with the name plus a
   * hash, a label value of at most 63) a shortened name with a hash of the SampleSet's name.
   */
  statefulSetName(s: SampleSet): string {
    const full = `${s.metadata.name}-runtime`;
    if (full.length <= 52) return full;
    return `${s.metadata.name!.slice(0, 40).replace(/-+$/, '')}-${createHash('sha256').update(s.metadata.name!).digest('hex').slice(0, 8)}-rt`;
  }
  serviceName(s: SampleSet): string {
    return this.statefulSetName(s);
  }
  tokenSecretName(s: SampleSet): string {
    return `${s.metadata.name}-runtime-token`;
  }
  nodeLabelKey(s: SampleSet): string {
    return cacheNodeLabelKey(this.name, s.metadata.name!);
  }

  buildObjects(ctx: SampleSetContext): SampleSetObjects {
    const s = ctx.sampleSet;
    const ns = s.metadata.namespace ?? 'default';
    const selector = { [SAMPLESET_LABEL]: s.metadata.name!, 'app.kubernetes.io/component': 'cache-runtime' };
    return {
      persistentVolume: {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: this.persistentVolumeName(s), labels: labels(s) },
        spec: {
          accessModes: ['ReadWriteMany'],
          capacity: { storage: '1Ti' },
          storageClassName: 'paddle-operator',
          persistentVolumeReclaimPolicy: 'Retain',
          claimRef: { namespace: ns, name: this.persistentVolumeClaimName(s) },
          hostPath: { path: hostDir(s), type: 'DirectoryOrCreate' },
        },
      },
      persistentVolumeClaim: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: this.persistentVolumeClaimName(s), namespace: ns, labels: labels(s) },
        spec: {
          accessModes: ['ReadWriteMany'],
          storageClassName: 'paddle-operator',
          volumeName: this.persistentVolumeName(s),
          resources: { requests: { storage: '1Ti' } },
        },
      },
      tokenSecret: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: this.tokenSecretName(s), namespace: ns, labels: labels(s) },
        data: { [RUNTIME_TOKEN_KEY]: Buffer.from(ctx.runtimeToken).toString('base64') },
      },
      service: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: this.serviceName(s), namespace: ns, labels: labels(s) },
        spec: { clusterIP: 'None', selector, ports: [{ name: RUNTIME_PORT_NAME, port: RUNTIME_PORT }] },
      },
      statefulSet: {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: this.statefulSetName(s), namespace: ns, labels: labels(s) },
        spec: {
          replicas: s.spec.partitions,
          serviceName: this.serviceName(s),
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: { ...selector, ...labels(s) } },
            spec: {
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [
                    { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' },
                  ],
                },
                ...(s.spec.nodeAffinity ? { nodeAffinity: structuredClone(s.spec.nodeAffinity) } : {}),
              },
              ...(s.spec.tolerations?.length ? { tolerations: structuredClone(s.spec.tolerations) } : {}),
              containers: [
                {
                  name: 'runtime',
                  image: ctx.runtimeImage,
                  command: ['paddle-runtime'],
                  args: formatRuntimeArgs({ engine: EXAMPLE_ENGINE, dataDir: '/data' }),
                  env: [
                    { name: RUNTIME_TOKEN_ENV, valueFrom: { secretKeyRef: { name: this.tokenSecretName(s), key: RUNTIME_TOKEN_KEY } } },
                  ],
                  ports: [{ name: RUNTIME_PORT_NAME, containerPort: RUNTIME_PORT }],
                  readinessProbe: { httpGet: { path: '/healthz', port: RUNTIME_PORT_NAME } },
                  volumeMounts: [{ name: 'data', mountPath: '/data' }],
                },
              ],
              volumes: [{ name: 'data', persistentVolumeClaim: { claimName: this.persistentVolumeClaimName(s) } }],
            },
          },
        },
      },
    };
  }

  initialSyncRequest(s: SampleSet, id: string, _sourceSecret: V1Secret | undefined): RuntimeJobRequest {
    if (!s.spec.source?.uri) throw new SpecError('SourceMissing', 'spec.source.uri is required');
    return { id, type: 'sync', options: { source: s.spec.source.uri } };
  }

  jobRequest(job: SampleJob, s: SampleSet, id: string, shard: number, shards: number, _secret: V1Secret | undefined): RuntimeJobRequest {
    const check = (p: string): string => {
      try {
        normalizeUserPath(p);
        return p;
      } catch (err) {
        throw new SpecError('InvalidPath', (err as Error).message);
      }
    };
    switch (job.spec.type) {
      case 'sync':
        return {
          id,
          type: 'sync',
          options: {
            source: String(job.spec.syncOptions?.source ?? s.spec.source?.uri ?? ''),
            destination: check(job.spec.syncOptions?.destination ?? ''),
          },
        };
      case 'warmup':
        return { id, type: 'warmup', options: { shard, shards, paths: (job.spec.warmupOptions?.paths ?? []).map(check) } };
      case 'rmr':
        return { id, type: 'rmr', options: { paths: (job.spec.rmrOptions?.paths ?? []).map(check) } };
      case 'clear':
        return { id, type: 'clear', options: {} };
    }
  }

  fanOut(type: SampleJobType): 'one' | 'all' {
    return type === 'warmup' || type === 'clear' ? 'all' : 'one';
  }
}

/** Runtime half: runs jobs inside the runtime pod. */
export class ExampleRuntime implements CacheRuntime {
  readonly name = EXAMPLE_ENGINE;
  constructor(private readonly env: RuntimeEnvironment) {}

  async run(
    type: SampleJobType,
    options: RuntimeJobOptions,
    _credentials: Record<string, string> | undefined,
    exec: JobExecution,
  ): Promise<void> {
    const root = this.env.dataDir;
    switch (type) {
      case 'sync': {
        // Copies file by file through engines/toolkit/beneath.ts: a link planted in the dataset is never followed.
        const o = options as SyncRequest;
        if (!o.source.startsWith('file:///')) throw new Error('only file:/// sources are supported');
        const from = decodeURIComponent(o.source.slice('file://'.length));
        const dest = normalizeUserPath(o.destination ?? '');
        const w = await walkFiles(from, '', { signal: exec.signal });
        for (const f of w.files) await writeFileBeneath(root, dest ? `${dest}/${f.rel}` : f.rel, await fs.readFile(f.abs));
        exec.onProgress({ filesDone: w.fileCount, filesTotal: w.fileCount, bytesDone: w.bytes, bytesTotal: w.bytes });
        return;
      }
      case 'warmup': {
        const o = options as WarmupRequest;
        const all: string[] = [];
        await walkBeneath(root, '', { signal: exec.signal, onFile: (f) => all.push(f.rel) });
        const files = all.sort().filter((_f, i) => i % o.shards === o.shard);
        for (const rel of files) {
          if (exec.signal.aborted) throw new Error('cancelled');
          await readRegularFileBeneath(root, rel, { maxBytes: 2 ** 31 - 1, timeoutMs: 60_000, signal: exec.signal });
        }
        exec.onProgress({ filesDone: files.length, filesTotal: files.length });
        return;
      }
      case 'rmr':
        for (const p of (options as RmrRequest).paths) {
          const { parent, name } = splitParent(p);
          const dir = await openDirBeneath(root, parent);
          try {
            await removeIn(dir, name, exec.signal);
          } finally {
            await dir.close();
          }
        }
        return;
      case 'clear':
        return;
    }
  }

  async stats(): Promise<NodeCacheStats> {
    const w = await walkBeneath(this.env.dataDir, '', { onFile: () => {} });
    const s = await fs.statfs(path.resolve(this.env.dataDir));
    return {
      totalBytes: w.bytes,
      totalFiles: w.files,
      cachedBytes: w.bytes,
      tiers: [
        {
          path: this.env.dataDir,
          sizeBytes: s.blocks * s.bsize,
          usedBytes: (s.blocks - s.bfree) * s.bsize,
          availBytes: s.bavail * s.bsize,
        },
      ],
    };
  }
}

export const createExampleRuntime: CacheRuntimeFactory = (env) => new ExampleRuntime(env);

/** The package, exactly as a real engine exports it (listed in src/engines/installed.ts to install it). */
export const EXAMPLE_PACKAGE: EnginePackage = {
  name: EXAMPLE_ENGINE,
  controller: () => new ExampleEngine(),
  runtime: createExampleRuntime,
};
