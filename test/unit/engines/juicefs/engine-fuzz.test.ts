// The operator's fuzz pass over its inputs: SampleSets, SampleJobs and Secrets mutated at random
// (seeded: FUZZ_SEED, FUZZ_CASES) from valid ones — every field with values of its schema type but
// nasty content: traversal, control files, NUL, huge strings and lists, out-of-range numbers, planted
// credentials —, then handed to the JuiceFS engine the way the operators do. Properties:
//  - the engine answers with a result or a SpecError (a condition with a reason), never anything
//    else (a TypeError would be a crash loop in a reconcile);
//  - every runtime request it builds is accepted by the runtime's own validation and fits the
//    runtime's body limit (nothing valid here is refused there);
//  - no planted credential appears in a SpecError message (messages become conditions and Events).
import { expect } from 'chai';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { JuiceFsEngine } from '../../../../src/engines/juicefs/juicefs-engine.js';
import { MAX_JOB_REQUEST_BYTES } from '../../../../src/api/runtime-protocol.js';
import { validateJobRequest } from '../../../../src/runtime/validation.js';
import { sampleJob, sampleSet, secret } from '../fixtures.js';
import { seededRandom } from '../../support/seeded-random.js';

const SECRET = 'Zq9/xW7+PLANTED-s3cr3t';

const rng = seededRandom;

// The apiserver enforces the CRDs' structural schema (types) before the operator sees anything, so
// each field gets values of its schema type, with nasty content; wrong types are the CRD tests' job.
const STRINGS = [
  '',
  ' ',
  '/',
  '..',
  '../..',
  '/../etc',
  'a/../../b',
  '.trash',
  '/.control',
  '.accesslog',
  'x\u0000y',
  'line\nbreak',
  'a'.repeat(5000),
  '\u202e\u0301',
  '%2e%2e/x',
  '%zz',
  '-1',
  '1e308',
  'true',
  's3://AK:sk@bucket/',
  'file:///etc/',
  'jfs://PADDLE_RUNTIME_TOKEN/',
  'redis://h:6379/1',
  'memory',
  '/var/lib/etcd',
  '/dev/shm/paddle-operator/x',
  '/var/lib/paddle-operator/cache/../../etcd',
  '/dev/shm/paddle-operator/other_ns/raw',
  'other-namespace',
  'MEM',
  'SSD',
  's3://bucket/x/',
  '/train',
  'random',
  'sequence',
];
// Credentials are planted where a user could put them by mistake: in source URIs, and in Secrets.
const URIS = [
  ...STRINGS,
  `s3://AK:${SECRET}@bucket/`,
  `s3://AK:${encodeURIComponent(SECRET)}@bucket/`,
  `webdav://u:${SECRET}@host/`,
  `s3://bucket/${SECRET}@x/`,
  `ks3://AK:${SECRET}@b.example.com/x/`,
];
const NUMBERS = [0, -1, 1, 2, 1.5, 5000, 5001, 1e308, Number.MAX_SAFE_INTEGER];
const POOLS: Record<string, unknown[]> = {
  string: STRINGS,
  number: NUMBERS,
  bool: [true, false],
  uri: URIS,
  type: ['sync', 'warmup', 'rmr', 'clear'],
  strings: [
    [],
    [''],
    ['/', '..'],
    ['/train', '/train/'],
    Array.from({ length: 2000 }, (_, i) => `p${i}`),
    Array.from({ length: 20 }, () => 'a'.repeat(4096)),
    STRINGS,
  ],
  object: [{}, { name: 'x' }, { name: 'x', namespace: 'other' }],
  levels: [
    [],
    [{}],
    [{ path: '/dev/shm/paddle-operator/a:/var/lib/paddle-operator/cache/b', cacheSize: 0 }],
    [{ mediumType: 'MEM', path: '/etc' }],
    Array.from({ length: 10 }, (_, i) => ({ path: `/dev/shm/paddle-operator/l${i}`, cacheSize: i })),
  ],
};

const SET_PATHS: [(string | number)[], string][] = [
  [['partitions'], 'number'],
  [['noSync'], 'bool'],
  [['secretRef'], 'object'],
  [['secretRef', 'name'], 'string'],
  [['secretRef', 'namespace'], 'string'],
  [['source'], 'object'],
  [['source', 'uri'], 'uri'],
  [['source', 'secretRef'], 'object'],
  [['source', 'secretRef', 'namespace'], 'string'],
  [['source', 'allowCredentialsInArguments'], 'bool'],
  [['cache', 'levels'], 'levels'],
  [['cache', 'levels', 0, 'path'], 'string'],
  [['cache', 'levels', 0, 'cacheSize'], 'number'],
  [['cache', 'levels', 0, 'mediumType'], 'string'],
  [['csi', 'driver'], 'string'],
  [['csi', 'juiceFSMountOptions', 'cache-dir'], 'string'],
  [['csi', 'juiceFSMountOptions', 'subdir'], 'string'],
  [['csi', 'juiceFSMountOptions', 'buffer-size'], 'number'],
  [['csi', 'juiceFSMountOptions', 'attr-cache'], 'string'],
  [['csi', 'juiceFSMountOptions', 'cache-size'], 'number'],
  [['csi', 'juiceFSMountOptions', 'writeback'], 'bool'],
];
const JOB_PATHS: [(string | number)[], string][] = [
  [['type'], 'type'],
  [['secretRef'], 'object'],
  [['secretRef', 'namespace'], 'string'],
  [['syncOptions', 'source'], 'uri'],
  [['syncOptions', 'destination'], 'string'],
  [['syncOptions', 'threads'], 'number'],
  [['syncOptions', 'bwlimit'], 'number'],
  [['syncOptions', 'delete-dst'], 'bool'],
  [['syncOptions', 'exclude'], 'string'],
  [['syncOptions', 'include'], 'string'],
  [['warmupOptions', 'paths'], 'strings'],
  [['warmupOptions', 'paths', 0], 'string'],
  [['warmupOptions', 'file'], 'string'],
  [['warmupOptions', 'threads'], 'number'],
  [['warmupOptions', 'partitions'], 'number'],
  [['warmupOptions', 'strategyName'], 'string'],
  [['rmrOptions', 'paths'], 'strings'],
  [['rmrOptions', 'paths', 0], 'string'],
  [['clearOptions', 'paths'], 'strings'],
  [['clearOptions', 'paths', 0], 'string'],
];

function setAt(obj: Record<string, unknown>, p: (string | number)[], value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  for (let i = 0; i < p.length - 1; i++) {
    const k = p[i];
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = typeof p[i + 1] === 'number' ? [] : {};
    cur = cur[k] as Record<string | number, unknown>;
  }
  cur[p[p.length - 1]] = structuredClone(value);
}

function mutate<T>(base: T, paths: [(string | number)[], string][], next: () => number): T {
  const copy = structuredClone(base) as T & { spec: Record<string, unknown> };
  const n = 1 + Math.floor(next() * 3);
  for (let i = 0; i < n; i++) {
    const [p, kind] = paths[Math.floor(next() * paths.length)];
    const pool = POOLS[kind];
    setAt(copy.spec, p, pool[Math.floor(next() * pool.length)]);
  }
  return copy;
}

/** Runs fn; returns 'ok' or the SpecError; anything else fails the test with the case. */
function specOnly<T>(what: string, fn: () => T): T | SpecError {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof SpecError)) throw new Error(`${what}: threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    expect(err.message, what).to.not.include(SECRET);
    expect(err.message, what).to.not.include(encodeURIComponent(SECRET));
    return err;
  }
}

function checkRequest(what: string, req: unknown): void {
  expect(() => validateJobRequest(JSON.parse(JSON.stringify(req))), `${what}: refused by the runtime`).to.not.throw();
  expect(Buffer.byteLength(JSON.stringify(req)), what).to.be.at.most(MAX_JOB_REQUEST_BYTES);
}

describe('operator fuzz pass: engine translation of mutated SampleSets, SampleJobs and Secrets', function () {
  this.timeout(60_000);
  const seed = Number(process.env.FUZZ_SEED ?? 20261203);
  const cases = Number(process.env.FUZZ_CASES ?? 1500);
  const engine = new JuiceFsEngine();
  const validSet = sampleSet({ cache: { levels: [{ mediumType: 'MEM', path: '/dev/shm/paddle-operator/imagenet', cacheSize: 1024 }] } });
  const credentials = secret({ 'access-key': 'AKID', 'secret-key': SECRET }, 'creds');
  const volume = secret({ name: 'vol', metaurl: `redis://:${SECRET}@redis:6379/1` });

  it(`never throws anything but a SpecError, and what it builds the runtime accepts (seed ${seed}, ${cases} cases)`, () => {
    const next = rng(seed);
    let built = 0;
    let refused = 0;
    for (let i = 0; i < cases; i++) {
      const set = mutate(validSet, SET_PATHS, next);
      const what = `case ${i} (seed ${seed}): ${JSON.stringify(set.spec).slice(0, 300)}`;
      const ok = specOnly(what, () => {
        engine.validateSpec(set);
        engine.validateVolumeSecret(volume, set);
        return engine.buildObjects({ sampleSet: set, volumeSecret: volume, runtimeToken: 'token', runtimeImage: 'img' });
      });
      if (ok instanceof SpecError) {
        refused++;
        continue;
      }
      built++;
      if (set.spec.source?.uri && !set.spec.noSync) {
        const r = specOnly(`${what} initial sync`, () => engine.initialSyncRequest(set, 'sync-1', credentials));
        if (!(r instanceof SpecError)) checkRequest(`${what} initial sync`, r);
      }
      const type = (['sync', 'warmup', 'rmr', 'clear'] as const)[Math.floor(next() * 4)];
      const base = sampleJob({
        type,
        syncOptions: { source: 's3://bucket/x/' },
        warmupOptions: { paths: ['/train'] },
        rmrOptions: { paths: ['/old'] },
        clearOptions: { paths: [] },
      });
      const job = mutate(base, JOB_PATHS, next);
      const jobWhat = `${what} job ${JSON.stringify(job.spec).slice(0, 300)}`;
      const req = specOnly(jobWhat, () =>
        engine.jobRequest(job, set, `job-${i}`, 0, Math.max(1, Number(set.spec.partitions) || 1), credentials),
      );
      if (!(req instanceof SpecError)) checkRequest(jobWhat, req);
    }
    // the pass exercised both sides
    expect(built, 'objects built').to.be.greaterThan(cases / 20);
    expect(refused, 'objects refused').to.be.greaterThan(cases / 20);
  });
});
