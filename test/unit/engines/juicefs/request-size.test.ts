// Every valid SampleJob, and a SampleSet's initial sync, fits the runtime's request limit (issue
// class 5). The worst case is built from the CRDs' own limits (read from crds/*.yaml): the most
// items of the longest strings, in the characters that cost the most bytes once JSON-serialised,
// with source credentials as long as the engine accepts. It goes through the engine's real
// translation, and the runtime's validation must accept the result.
import type { V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { CREDENTIAL_KEYS, initialSyncRequest, jobRequest } from '../../../../src/engines/juicefs/job-requests.js';
import { MAX_SHARDS } from '../../../../src/engines/juicefs/sharding.js';
import { IGNORED_SYNC_FLAGS, validateSyncFlags } from '../../../../src/engines/juicefs/sync-flags.js';
import { MAX_CREDENTIAL_LENGTH, MAX_JOB_REQUEST_BYTES, type RuntimeJobRequest } from '../../../../src/api/runtime-protocol.js';
import { validateJobRequest } from '../../../../src/runtime/validation.js';
import { sampleJob, sampleSet, secret } from '../fixtures.js';
import { at, celUpperBound, crdSchema, schemaAccepts, type Json } from './crd-schema.js';

const sampleJobs = crdSchema('SampleJob');
const sampleSets = crdSchema('SampleSet');

/** At most this share of the runtime's limit may be used: room for fields added later. */
const MARGIN = 0.75;
const BUDGET = Math.floor(MAX_JOB_REQUEST_BYTES * MARGIN);

/**
 * Characters by their cost in a JSON body: a control character becomes `\u0001` (6 bytes), as does
 * a lone surrogate; a BMP character above U+07FF takes 3 UTF-8 bytes; `"` is escaped to 2.
 */
const COSTLY = ['\u0001', '\ud800', '€', '"', 'a', '9'];

/** The longest, costliest string a field and `accepts` both take, `prefix` first. */
function worstString(node: Json, accepts: (v: string) => boolean, prefix = ''): string {
  const length = node.maxLength as number;
  expect(length, 'maxLength').to.be.a('number');
  for (const c of COSTLY) {
    const v = prefix + c.repeat(length - prefix.length);
    if (schemaAccepts(node, v) && accepts(v)) return v;
  }
  throw new Error(`no worst-case value for ${JSON.stringify(node.description)}`);
}

function accepted(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof SpecError) return false;
    throw err;
  }
}

/** The most paths of the costliest characters the list's item length, item count and combined-length rule allow. */
function worstPaths(list: Json): string[] {
  const maxItems = list.maxItems as number;
  const itemLength = list.items!.maxLength as number;
  const total = celUpperBound(list, 'sum()');
  expect(maxItems * itemLength, 'the combined rule is what limits the list').to.be.greaterThan(total);
  const each = Math.floor(total / maxItems);
  const paths = Array.from({ length: maxItems }, () => '\u0001'.repeat(each));
  paths[0] += '\u0001'.repeat(total - each * maxItems);
  expect(paths.reduce((n, p) => n + p.length, 0)).to.equal(total);
  return paths;
}

/** The longest id the runtime accepts. */
const ID = `a${'b'.repeat(252)}`;

/** Source credentials as long as the engine accepts, in the costliest characters. */
function worstCredentials(): V1Secret {
  return secret(Object.fromEntries(CREDENTIAL_KEYS.map((k) => [k, '\u0001'.repeat(MAX_CREDENTIAL_LENGTH)])));
}

function bytes(req: RuntimeJobRequest): number {
  return Buffer.byteLength(JSON.stringify(req), 'utf8');
}

/** The request fits with margin, and the runtime's validation takes it as it is. */
function expectFits(req: RuntimeJobRequest): number {
  const n = bytes(req);
  expect(n, `${req.type} request of ${n} bytes`).to.be.at.most(BUDGET);
  expect(validateJobRequest(JSON.parse(JSON.stringify(req)))).to.deep.equal(req);
  return n;
}

/** syncOptions at every limit of the CRD: the costliest longest strings, the largest integers, every boolean set. */
function worstSyncOptions(): Record<string, unknown> {
  const schema = at(sampleJobs, 'spec.syncOptions');
  const options: Record<string, unknown> = {};
  for (const [name, node] of Object.entries(schema.properties!)) {
    if (IGNORED_SYNC_FLAGS.includes(name)) continue;
    if (node.type === 'boolean') options[name] = true;
    else if (node.type === 'integer') options[name] = node.maximum;
    else if (name === 'source')
      options[name] = worstString(
        node,
        (v) => accepted(() => jobRequest(sampleJob({ type: 'sync', syncOptions: { source: v } }), sampleSet(), ID, 0, 1, undefined)),
        's3://bucket/',
      );
    else if (name === 'destination')
      options[name] = worstString(node, (v) =>
        accepted(() => jobRequest(sampleJob({ type: 'sync', syncOptions: { destination: v } }), sampleSet(), ID, 0, 1, undefined)),
      );
    else options[name] = worstString(node, (v) => accepted(() => validateSyncFlags({ [name]: v })));
  }
  return options;
}

describe('runtime request size: every valid object fits MAX_JOB_REQUEST_BYTES', () => {
  const sizes: Record<string, number> = {};
  after(() => {
    // Shows how close each worst case comes to the limit.
    console.log(`      worst-case request bytes (limit ${MAX_JOB_REQUEST_BYTES}, budget ${BUDGET}): ${JSON.stringify(sizes)}`);
  });

  it('the runtime limit is 1 MiB', () => {
    expect(MAX_JOB_REQUEST_BYTES).to.equal(1024 * 1024);
  });

  it('warmup: the most, longest paths, the longest file, every shard of the largest SampleSet', () => {
    const o = at(sampleJobs, 'spec.warmupOptions');
    const job = sampleJob({
      type: 'warmup',
      warmupOptions: {
        paths: worstPaths(at(o, 'paths')),
        file: worstString(at(o, 'file'), () => true),
        threads: at(o, 'threads').maximum as number,
        strategyName: 'sequence',
      },
    });
    const shards = at(sampleSets, 'spec.partitions').maximum as number;
    expect(shards).to.equal(MAX_SHARDS);
    sizes.warmup = expectFits(jobRequest(job, sampleSet({ partitions: shards }), ID, shards - 1, shards, undefined));
  });

  it('rmr: the most, longest paths', () => {
    const job = sampleJob({ type: 'rmr', rmrOptions: { paths: worstPaths(at(sampleJobs, 'spec.rmrOptions.paths')) } });
    sizes.rmr = expectFits(jobRequest(job, sampleSet(), ID, 0, 1, undefined));
  });

  it('clear: the most, longest paths', () => {
    const job = sampleJob({ type: 'clear', clearOptions: { paths: worstPaths(at(sampleJobs, 'spec.clearOptions.paths')) } });
    sizes.clear = expectFits(jobRequest(job, sampleSet(), ID, 0, 1, undefined));
  });

  it('sync: every option at its limit, with the longest credentials', () => {
    const options = worstSyncOptions();
    const req = jobRequest(sampleJob({ type: 'sync', syncOptions: options as never }), sampleSet(), ID, 0, 1, worstCredentials());
    expect(Object.keys((req.options as { flags: object }).flags).length, 'every flag reached the request').to.equal(
      Object.keys(options).length - 2,
    );
    sizes.sync = expectFits(req);
  });

  it("a SampleSet's initial sync: the longest source URI, with the longest credentials", () => {
    const uriNode = at(sampleSets, 'spec.source.uri');
    const uri = worstString(
      uriNode,
      (v) => accepted(() => initialSyncRequest(sampleSet({ source: { uri: v } }), ID, undefined)),
      's3://bucket/',
    );
    sizes.initialSync = expectFits(initialSyncRequest(sampleSet({ source: { uri } }), ID, worstCredentials()));
  });

  it('refuses longer credentials than the runtime takes, without echoing them', () => {
    const long = secret({ 'access-key': 'AK', 'secret-key': `S${'x'.repeat(MAX_CREDENTIAL_LENGTH)}` });
    expect(() => initialSyncRequest(sampleSet(), ID, long))
      .to.throw(SpecError, /secret-key/)
      .with.property('message')
      .that.does.not.include('xxxx');
  });

  it('refuses, at translation, a job stored before these limits whose request would not fit (1,000 paths of 4,096 characters)', () => {
    const paths = Array.from({ length: 1000 }, (_, i) => `${i}/${'p'.repeat(4090)}`);
    const job = sampleJob({ type: 'warmup', warmupOptions: { paths } });
    let err: unknown;
    try {
      jobRequest(job, sampleSet(), ID, 0, 1, undefined);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SpecError).with.property('reason', 'RequestTooLarge');
    expect((err as Error).message).to.match(/at most 1048576/);
    // The CRD no longer admits it.
    expect(paths.reduce((n, p) => n + p.length, 0)).to.be.greaterThan(celUpperBound(at(sampleJobs, 'spec.warmupOptions.paths'), 'sum()'));
  });
});
