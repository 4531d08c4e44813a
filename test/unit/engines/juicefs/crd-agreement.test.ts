// The CRD schemas and the JuiceFS engine agree (issue class 9): every mount option and sync flag
// the engine supports is in the CRD with the same type, range and pattern, the CRD offers nothing
// the engine refuses, and `partitions` stops where warmup sharding stops. Values at and around
// every limit get the same verdict from the schema and from the engine, so neither can drift.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { SampleJob } from '../../../../src/api/samplejob.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { jobRequest } from '../../../../src/engines/juicefs/job-requests.js';
import {
  DURATION_PATTERN,
  formatMountOption,
  MOUNT_OPTIONS,
  MOUNT_SCALAR_MAX_LENGTH,
  mountOptionRange,
  SIZE_PATTERN,
} from '../../../../src/engines/juicefs/mount-flags.js';
import { buildMountConfig } from '../../../../src/engines/juicefs/mount-options.js';
import { MAX_SHARDS } from '../../../../src/engines/juicefs/sharding.js';
import {
  IGNORED_SYNC_FLAGS,
  NO_CONTROL_CHARS,
  SYNC_FLAGS,
  SYNC_STRING_MAX_LENGTH,
  syncIntRange,
  validateSyncFlags,
} from '../../../../src/engines/juicefs/sync-flags.js';
import { MAX_WARMUP_SHARDS } from '../../../../src/api/runtime-protocol.js';
import { sampleJob, sampleSet } from '../fixtures.js';
import { at, celRegex, crdSchema, schemaAccepts, type Json } from './crd-schema.js';

const sampleSets = crdSchema('SampleSet');
const sampleJobs = crdSchema('SampleJob');
const mountSchema = at(sampleSets, 'spec.csi.juiceFSMountOptions');
const syncSchema = at(sampleJobs, 'spec.syncOptions');

function engineAcceptsMount(name: string, value: unknown): boolean {
  try {
    buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { [name]: value as string } } }));
    return true;
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    return false;
  }
}

function engineAcceptsSync(name: string, value: unknown): boolean {
  try {
    validateSyncFlags({ [name]: value });
    return true;
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    return false;
  }
}

/** The flag names among the syncOptions fields. */
function flagKeysOf(schema: Json): string[] {
  return Object.keys(schema.properties as Json)
    .filter((k) => k !== 'source' && k !== 'destination')
    .sort();
}

/** The pattern a string field is checked with: `pattern`, else the first `matches` of its CEL rules. */
function schemaPattern(node: Json): string | undefined {
  if (node.pattern) return node.pattern;
  for (const v of node['x-kubernetes-validations'] ?? []) {
    const re = celRegex(v.rule);
    if (re && !v.rule.trimStart().startsWith('!')) return re;
  }
  return undefined;
}

/** Values at and just beyond the limits of a field, plus typical good and bad ones. */
function probes(node: Json): unknown[] {
  const out: unknown[] = [true, false, 'x', '', '1,allow_other', 'a b', '\u0001'];
  if (node.type === 'integer' || node['x-kubernetes-int-or-string']) {
    out.push(node.minimum, (node.minimum ?? NaN) - 1, node.maximum, (node.maximum ?? NaN) + 1, 1, 1.5);
  }
  if (node.type === 'string' || node['x-kubernetes-int-or-string']) {
    out.push(
      '0',
      '1',
      '07',
      '0600',
      '022',
      '0.2',
      '.5',
      '1',
      '1.0',
      '90s',
      '1h30m',
      '2d',
      '500ms',
      '1.5',
      'soon',
      '512M',
      '2G',
      '1Gi',
      '128K',
      '100MiB',
      '1.5GiB',
      '72h',
    );
    out.push(
      'none',
      '2-random',
      'lru',
      'extend',
      'relatime',
      'sometimes',
      '1-6',
      '25',
      '1000:1000',
      '0',
      'root',
      'STANDARD_IA',
      'a/b',
      '127.0.0.1:9567',
      '[::1]:9567',
      ':9567',
      'not an address',
    );
    out.push('env:prod;team:ml', 'env=prod', '2006-01-02 15:04:05', 'yesterday');
    if (node.maxLength !== undefined) {
      out.push('1'.repeat(node.maxLength), '1'.repeat(node.maxLength + 1), 'a'.repeat(node.maxLength), 'a'.repeat(node.maxLength + 1));
    }
  }
  return out.filter((v) => v !== undefined && !(typeof v === 'number' && Number.isNaN(v)));
}

describe('CRD ↔ JuiceFS engine agreement', () => {
  describe('SampleSet spec.csi.juiceFSMountOptions', () => {
    const crdKeys = Object.keys(mountSchema.properties as Json).sort();
    const engineKeys = Object.keys(MOUNT_OPTIONS).sort();

    it('lists exactly the mount options the engine supports', () => {
      expect(crdKeys).to.deep.equal(engineKeys);
      expect(engineKeys.length).to.be.at.least(50);
      // JuiceFS v1.3 has no --max-downloads; options that reach outside the volume are not offered.
      for (const refused of ['max-downloads', 'storage', 'bucket', 'consul', 'log', 'update-fstab', 'background', 'force', 'subdir']) {
        expect(crdKeys, refused).to.not.include(refused);
        expect(engineAcceptsMount(refused, 'x'), refused).to.equal(false);
      }
    });

    for (const name of Object.keys(MOUNT_OPTIONS)) {
      it(`${name}: same type, range and pattern; described with its limits`, () => {
        const def = MOUNT_OPTIONS[name];
        const node = at(mountSchema, name);
        expect(node.description, 'description')
          .to.be.a('string')
          .and.include(`\`--${def.flag ?? name}\``);
        const { min, max } = mountOptionRange(def);
        switch (def.kind) {
          case 'bool':
            expect(node.type).to.equal('boolean');
            break;
          case 'int':
            expect(node).to.deep.include({ type: 'integer', minimum: min, maximum: max });
            expect(node.description).to.include(`from ${min} to ${max}`);
            break;
          case 'duration':
          case 'size':
            expect(node['x-kubernetes-int-or-string']).to.equal(true);
            expect(node).to.deep.include({ minimum: min, maximum: max, maxLength: MOUNT_SCALAR_MAX_LENGTH });
            expect(node.pattern).to.equal((def.kind === 'duration' ? DURATION_PATTERN : SIZE_PATTERN).source);
            expect(node.description).to.include(`from ${min} to ${max}`);
            break;
          case 'string':
            expect(node.type).to.equal('string');
            expect(node.maxLength).to.equal(def.maxLength);
            if (def.pattern) expect(schemaPattern(node)).to.equal(def.pattern.source);
            expect(node.description).to.match(new RegExp(`at most ${def.maxLength}|absolute|decimal number in \\[0, 1\\)`, 'i'));
            break;
        }
      });
    }

    it('gives every probe value the same verdict in the schema and in the engine', () => {
      // cache-dir and sub-dir are paths with their own rules (checked in mount-options.test.ts).
      for (const name of Object.keys(MOUNT_OPTIONS).filter((n) => n !== 'cache-dir' && n !== 'sub-dir')) {
        const node = at(mountSchema, name);
        for (const value of probes(node)) {
          expect(engineAcceptsMount(name, value), `${name}: ${JSON.stringify(value)}`).to.equal(schemaAccepts(node, value));
        }
      }
    });

    it('passes every accepted value through to the mount options unchanged', () => {
      expect(formatMountOption('attr-cache', 7200)).to.equal('7200');
      expect(formatMountOption('attr-cache', '1h30m')).to.equal('1h30m');
      expect(formatMountOption('buffer-size', '2G')).to.equal('2G');
      expect(formatMountOption('read-only', true)).to.equal('');
      expect(formatMountOption('read-only', false)).to.equal(undefined);
      expect(
        buildMountConfig(
          sampleSet({ csi: { juiceFSMountOptions: { 'no-usage-report': true, 'cache-eviction': 'none', 'max-deletes': 4 } } }),
        ).options,
      ).to.include.members(['no-usage-report', 'cache-eviction=none', 'max-deletes=4']);
    });
  });

  describe('SampleJob spec.syncOptions', () => {
    const flagKeys = flagKeysOf(syncSchema);

    it('lists exactly the sync flags the engine supports (and the ignored http-port)', () => {
      expect(flagKeys).to.deep.equal([...Object.keys(SYNC_FLAGS), ...IGNORED_SYNC_FLAGS].sort());
      for (const refused of ['manager', 'worker', 'manager-addr', 'files-from', 'metrics', 'consul']) {
        expect(flagKeys, refused).to.not.include(refused);
        expect(engineAcceptsSync(refused, 'x'), refused).to.equal(false);
      }
      expect(at(syncSchema, 'http-port').description).to.match(/^Ignored/);
    });

    for (const name of Object.keys(SYNC_FLAGS)) {
      it(`${name}: same type, range and pattern; described with its limits`, () => {
        const def = SYNC_FLAGS[name];
        const node = at(syncSchema, name);
        expect(node.description, 'description').to.be.a('string').and.include(`\`--${name}\``);
        if (def.kind === 'bool') {
          expect(node.type).to.equal('boolean');
        } else if (def.kind === 'int') {
          const { min, max } = syncIntRange(def);
          expect(node).to.deep.include({ type: 'integer', minimum: min, maximum: max });
          expect(node.description).to.include(`from ${min} to ${max}`);
        } else {
          // `strings` flags (include/exclude) take one pattern in the CRD, as in the original API.
          const maxLength = def.maxLength ?? SYNC_STRING_MAX_LENGTH;
          expect(node).to.deep.include({ type: 'string', minLength: 1, maxLength, pattern: (def.pattern ?? NO_CONTROL_CHARS).source });
          expect(node.description).to.match(new RegExp(`at most ${maxLength} characters`, 'i'));
        }
      });
    }

    it('gives every probe value the same verdict in the schema and in the engine', () => {
      for (const name of Object.keys(SYNC_FLAGS)) {
        const node = at(syncSchema, name);
        for (const value of probes(node)) {
          // The engine also takes numeric strings for integers (never produced by the apiserver).
          if (node.type === 'integer' && typeof value === 'string') continue;
          expect(engineAcceptsSync(name, value), `${name}: ${JSON.stringify(value)}`).to.equal(schemaAccepts(node, value));
        }
      }
    });
  });

  describe('the e2e fixtures the apiserver accepts at every limit (fixtures/valid)', () => {
    const docs = (file: string) =>
      parseAllDocuments(readFileSync(path.join(process.cwd(), 'test', 'e2e', 'fixtures', 'valid', file), 'utf8')).map(
        (d) => d.toJS() as SampleSet | SampleJob,
      );
    const named = (file: string, name: string) => docs(file).find((d) => d.metadata.name === name)!;

    it('edge-mount-options: the engine takes every option', () => {
      const set = named('sampleset-edge-cases.yaml', 'edge-mount-options') as SampleSet;
      const options = buildMountConfig(set).options.map((o) => o.split('=')[0]);
      const set_ = Object.entries(set.spec.csi!.juiceFSMountOptions!)
        .filter(([, v]) => v !== false)
        .map(([k]) => k);
      expect(options).to.include.members(set_);
      // The fixture covers every supported option but cache-dir and sub-dir (path rules of their own).
      expect([...Object.keys(set.spec.csi!.juiceFSMountOptions!), 'cache-dir', 'sub-dir'].sort()).to.deep.equal(
        Object.keys(MOUNT_OPTIONS).sort(),
      );
    });

    it('edge-sync-flags and edge-warmup-paths-at-limit: the engine translates them', () => {
      const sync = named('samplejob-edge-cases.yaml', 'edge-sync-flags') as SampleJob;
      expect(Object.keys(sync.spec.syncOptions!).sort()).to.deep.equal(flagKeysOf(syncSchema));
      expect(() => jobRequest(sync, sampleSet(), 'j', 0, 1, undefined)).to.not.throw();
      const warmup = named('samplejob-edge-cases.yaml', 'edge-warmup-paths-at-limit') as SampleJob;
      expect(warmup.spec.warmupOptions!.paths!.join('').length).to.equal(65536);
      expect(() => jobRequest(warmup, sampleSet({ partitions: MAX_SHARDS }), 'j', MAX_SHARDS - 1, MAX_SHARDS, undefined)).to.not.throw();
    });
  });

  describe('partitions and warmup shards', () => {
    it('stops partitions where warmup sharding stops', () => {
      expect(MAX_SHARDS).to.equal(MAX_WARMUP_SHARDS);
      expect(at(sampleSets, 'spec.partitions')).to.deep.include({ minimum: 1, maximum: MAX_SHARDS });
      expect(at(sampleJobs, 'spec.warmupOptions.partitions')).to.deep.include({ minimum: 1, maximum: MAX_SHARDS });
      expect(at(sampleSets, 'spec.partitions').description).to.include(`1 to ${MAX_SHARDS}`);
    });

    it('translates a warmup for every shard of the largest SampleSet, and refuses one more', () => {
      const s = sampleSet({ partitions: MAX_SHARDS });
      const job = sampleJob({ type: 'warmup' });
      expect(jobRequest(job, s, 'w', MAX_SHARDS - 1, MAX_SHARDS, undefined).options).to.include({
        shard: MAX_SHARDS - 1,
        shards: MAX_SHARDS,
      });
      expect(() => jobRequest(job, s, 'w', 0, MAX_SHARDS + 1, undefined)).to.throw(SpecError, /at most|1-5000/);
    });
  });
});
