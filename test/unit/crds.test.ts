// Static checks of the CustomResourceDefinitions in crds/ (the real apiserver checks them again in
// test/e2e/crd-validation.test.ts): structural schemas with a description on every field, the API
// names of the original paddle-operator, printer columns, defaults, the status shapes the
// operators write, and the CEL regular expressions, exercised here with JavaScript's engine.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { V1Deployment, V1PolicyRule } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';

const root = process.cwd();
const crdDir = path.join(root, 'crds');
const fixtureDir = path.join(root, 'test', 'e2e', 'fixtures');

/** A parsed YAML document: only the fields every manifest has are typed. */
interface Json {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  [key: string]: unknown;
}

/** A CEL rule in `x-kubernetes-validations`. */
interface CelRule {
  rule: string;
  message?: string;
  fieldPath?: string;
  reason?: string;
}

/** An OpenAPI v3 schema node of a CRD (the fields these tests read; anything else is `unknown`). */
interface Schema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  anyOf?: Schema[];
  minimum?: number;
  maxLength?: number;
  maxItems?: number;
  minItems?: number;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: CelRule[];
  [key: string]: unknown;
}

interface PrinterColumn {
  name: string;
  jsonPath: string;
  type: string;
  description?: string;
  priority?: number;
}

/** A CustomResourceDefinition as written in crds/. */
interface Crd extends Json {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: unknown;
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

interface Column {
  name: string;
  jsonPath: string;
  type?: string;
}

function readDocs(file: string): Json[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => d !== null);
}

function loadCrd(file: string): Crd {
  const docs = readDocs(path.join(crdDir, file));
  expect(docs, file).to.have.length(1);
  return docs[0] as Crd;
}

function schemaOf(crd: Crd): Schema {
  return crd.spec.versions[0].schema.openAPIV3Schema;
}

/** Follows a dotted path of property names (`[]` steps into array items) through a schema. */
function at(schema: Schema, dotted: string): Schema {
  let node = schema;
  for (const step of dotted.split('.')) {
    if (step === '[]') node = node.items!;
    else node = node.properties?.[step] as Schema;
    expect(node, `schema path ${dotted} (at ${step})`).to.be.an('object');
  }
  return node;
}

/** The read figures a SampleSet shows in total and per partition (counters are int64). */
const READ_COUNTERS = ['cacheHits', 'cacheMisses', 'bytesFromCache', 'bytesFromStore'];
const READ_FIGURES = ['cacheHitRatio', ...READ_COUNTERS];

function keysAt(schema: Schema, dotted: string): string[] {
  return Object.keys(at(schema, dotted).properties ?? {}).sort();
}

interface SchemaNode {
  where: string;
  node: Schema;
  /** true when the node is the value of a `properties` entry (a named field). */
  isField: boolean;
}

function walk(node: Schema, where: string, isField: boolean, out: SchemaNode[]): SchemaNode[] {
  out.push({ where, node, isField });
  for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${where}.${name}`, true, out);
  if (node.items) walk(node.items, `${where}[]`, false, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${where}{}`, false, out);
  return out;
}

/** The string literal inside the first `matches('…')` of a CEL rule. */
function celRegex(rule: string, index = 0): string {
  const found = [...rule.matchAll(/matches\('((?:[^'\\]|\\.)*)'\)/g)];
  expect(found.length, `regex #${index} in ${rule}`).to.be.greaterThan(index);
  return found[index][1].replace(/\\\\/g, '\\');
}

/** RE2's scoped case-insensitive groups `(?i:…)` are not JavaScript; every letter in ours is case-insensitive. */
function toJsRegExp(re2: string): RegExp {
  return new RegExp(re2.replace(/\(\?i:/g, '(?:'), 'i');
}

const FILES = {
  SampleSet: 'batch.paddlepaddle.org_samplesets.yaml',
  SampleJob: 'batch.paddlepaddle.org_samplejobs.yaml',
  PaddleJob: 'batch.paddlepaddle.org_paddlejobs.yaml',
} as const;
type Kind = keyof typeof FILES;
const KINDS = Object.keys(FILES) as Kind[];

const EXPECTED: Record<Kind, { plural: string; singular: string; version: string; shortNames?: string[]; columns: Column[] }> = {
  SampleSet: {
    plural: 'samplesets',
    singular: 'sampleset',
    version: 'v1alpha1',
    columns: [
      { name: 'TOTAL SIZE', jsonPath: '.status.cacheStatus.totalSize' },
      { name: 'CACHED SIZE', jsonPath: '.status.cacheStatus.cachedSize' },
      { name: 'CACHED %', jsonPath: '.status.cacheStatus.cachedPercentage' },
      { name: 'AVAIL SPACE', jsonPath: '.status.cacheStatus.diskAvail' },
      { name: 'RUNTIME', jsonPath: '.status.runtimeStatus.runtimeReady' },
      { name: 'PHASE', jsonPath: '.status.phase' },
      { name: 'AGE', jsonPath: '.metadata.creationTimestamp', type: 'date' },
    ],
  },
  SampleJob: {
    plural: 'samplejobs',
    singular: 'samplejob',
    version: 'v1alpha1',
    columns: [
      { name: 'TYPE', jsonPath: '.spec.type' },
      { name: 'SAMPLESET', jsonPath: '.spec.sampleSetRef.name' },
      { name: 'PHASE', jsonPath: '.status.phase' },
      { name: 'PROGRESS', jsonPath: '.status.progress.percent' },
      { name: 'AGE', jsonPath: '.metadata.creationTimestamp', type: 'date' },
    ],
  },
  PaddleJob: {
    plural: 'paddlejobs',
    singular: 'paddlejob',
    version: 'v1',
    shortNames: ['pdj'],
    columns: [
      { name: 'STATUS', jsonPath: '.status.phase' },
      { name: 'MODE', jsonPath: '.status.mode' },
      { name: 'AGE', jsonPath: '.metadata.creationTimestamp', type: 'date' },
    ],
  },
};

const crds = Object.fromEntries(KINDS.map((k) => [k, loadCrd(FILES[k])])) as Record<Kind, Crd>;

describe('CRDs (crds/)', () => {
  it('has one file per kind, and crds/Kustomization lists exactly those files', () => {
    const yamlFiles = readdirSync(crdDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    expect(yamlFiles).to.deep.equal(Object.values(FILES).sort());
    const kustomization = parse(readFileSync(path.join(crdDir, 'Kustomization'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).to.deep.equal(yamlFiles);
  });

  for (const kind of KINDS) {
    describe(kind, () => {
      const crd = crds[kind];
      const want = EXPECTED[kind];
      const schema = schemaOf(crd);
      const nodes = walk(schema, kind, false, []);

      it('has the group, version, names, scope, category and status subresource', () => {
        expect(crd.apiVersion).to.equal('apiextensions.k8s.io/v1');
        expect(crd.kind).to.equal('CustomResourceDefinition');
        expect(crd.metadata.name).to.equal(`${want.plural}.batch.paddlepaddle.org`);
        expect(crd.spec.group).to.equal('batch.paddlepaddle.org');
        expect(crd.spec.scope).to.equal('Namespaced');
        const names = crd.spec.names;
        expect(names.kind).to.equal(kind);
        expect(names.listKind).to.equal(`${kind}List`);
        expect(names.plural).to.equal(want.plural);
        expect(names.singular).to.equal(want.singular);
        expect(names.shortNames).to.deep.equal(want.shortNames);
        expect(names.categories).to.include('paddle');
        expect(crd.spec.versions).to.have.length(1);
        const v = crd.spec.versions[0];
        expect(v.name).to.equal(want.version);
        expect(v.served).to.equal(true);
        expect(v.storage).to.equal(true);
        expect(v.subresources).to.deep.equal({ status: {} });
      });

      it('has the printer columns in order', () => {
        const cols = crd.spec.versions[0].additionalPrinterColumns.filter((c) => !c.priority);
        expect(cols.map((c) => ({ name: c.name, jsonPath: c.jsonPath, type: c.type }))).to.deep.equal(
          want.columns.map((c) => ({ name: c.name, jsonPath: c.jsonPath, type: c.type ?? 'string' })),
        );
        for (const c of crd.spec.versions[0].additionalPrinterColumns)
          expect(c.description, c.name).to.be.a('string').with.length.greaterThan(0);
      });

      it('has a structural schema: every node typed, no unions except int-or-string, required fields exist', () => {
        expect(schema.type).to.equal('object');
        expect(schema.required).to.include('spec');
        for (const { where, node } of nodes) {
          const intOrString = node['x-kubernetes-int-or-string'] === true;
          expect(intOrString || typeof node.type === 'string', `${where} has a type`).to.equal(true);
          if (node['x-kubernetes-preserve-unknown-fields']) expect(node.type, `${where} preserves unknown fields`).to.equal('object');
          for (const union of ['oneOf', 'allOf', 'not']) expect(node[union], `${where}.${union}`).to.equal(undefined);
          if (node.anyOf) {
            expect(intOrString, `${where} anyOf only for int-or-string`).to.equal(true);
            expect(node.anyOf).to.deep.equal([{ type: 'integer' }, { type: 'string' }]);
          }
          for (const r of node.required ?? []) expect(node.properties, `${where} requires ${r}`).to.have.property(r);
          if (node.type === 'array') expect(node.items, `${where} items`).to.be.an('object');
          if (node.enum) for (const e of node.enum) expect(typeof e, `${where} enum ${String(e)}`).to.equal(node.type);
          if (node.default !== undefined && node.enum) expect(node.enum, `${where} default`).to.include(node.default);
        }
      });

      it('describes every field (kubectl explain)', () => {
        expect(schema.description).to.be.a('string').with.length.greaterThan(0);
        const undescribed = nodes.filter(
          (n) => n.isField && n.where !== `${kind}.metadata` && !(typeof n.node.description === 'string' && n.node.description.length > 0),
        );
        expect(undescribed.map((n) => n.where)).to.deep.equal([]);
      });

      it('gives every CEL rule a message and bounds what CEL walks (estimated cost)', () => {
        for (const { where, node } of nodes) {
          for (const v of node['x-kubernetes-validations'] ?? []) {
            expect(v.rule, `${where} rule`).to.be.a('string').with.length.greaterThan(0);
            expect(v.message, `${where} message of ${v.rule}`).to.be.a('string').with.length.greaterThan(0);
            if (v.fieldPath !== undefined) expect(v.fieldPath, where).to.match(/^\./);
            if (v.reason !== undefined)
              expect(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']).to.include(v.reason);
            if (node.type === 'string') expect(node.maxLength, `${where} maxLength (CEL on a string)`).to.be.a('number');
          }
          if (node.type === 'array' && node.items?.['x-kubernetes-validations'])
            expect(node.maxItems, `${where} maxItems (CEL on items)`).to.be.a('number');
        }
      });

      it('has conditions, observedGeneration and phase in its status', () => {
        const cond = at(schema, 'status.conditions');
        expect(cond['x-kubernetes-list-type']).to.equal('map');
        expect(cond['x-kubernetes-list-map-keys']).to.deep.equal(['type']);
        expect(keysAt(schema, 'status.conditions.[]')).to.deep.equal([
          'lastTransitionTime',
          'message',
          'observedGeneration',
          'reason',
          'status',
          'type',
        ]);
        expect(at(schema, 'status.conditions.[].status').enum).to.deep.equal(['True', 'False', 'Unknown']);
        expect(at(schema, 'status.conditions.[].lastTransitionTime').format).to.equal('date-time');
        expect(at(schema, 'status.observedGeneration')).to.include({ type: 'integer', format: 'int64' });
        expect(at(schema, 'status.phase').type).to.equal('string');
      });
    });
  }

  describe('SampleSet fields', () => {
    const s = schemaOf(crds.SampleSet);

    it('keeps the original JSON names', () => {
      expect(keysAt(s, 'spec')).to.deep.equal([
        'cache',
        'csi',
        'noSync',
        'nodeAffinity',
        'nodeLossPolicy',
        'partitions',
        'podAffinity',
        'secretRef',
        'source',
        'tolerations',
      ]);
      expect(keysAt(s, 'spec.source')).to.deep.equal(['allowCredentialsInArguments', 'secretRef', 'uri']);
      expect(keysAt(s, 'spec.csi')).to.deep.equal(['driver', 'juiceFSMountOptions']);
      // The original's mount options, among every option the engine supports (engines/juicefs/crd-agreement.test.ts).
      expect(keysAt(s, 'spec.csi.juiceFSMountOptions')).to.include.members([
        'metrics',
        'attr-cache',
        'entry-cache',
        'dir-entry-cache',
        'enable-xattr',
        'get-timeout',
        'put-timeout',
        'io-retries',
        'max-uploads',
        'buffer-size',
        'prefetch',
        'writeback',
        'cache-dir',
        'cache-size',
        'free-space-ratio',
        'cache-partial-only',
        'open-cache',
        'sub-dir',
      ]);
      expect(at(s, 'spec.csi.juiceFSMountOptions.free-space-ratio').type).to.equal('string');
      expect(keysAt(s, 'spec.cache.levels.[]')).to.deep.equal(['cacheSize', 'mediumType', 'path']);
      expect(keysAt(s, 'spec.secretRef')).to.deep.equal(['name', 'namespace']);
      expect(keysAt(s, 'spec.nodeAffinity')).to.deep.equal([
        'preferredDuringSchedulingIgnoredDuringExecution',
        'requiredDuringSchedulingIgnoredDuringExecution',
      ]);
      expect(keysAt(s, 'spec.tolerations.[]')).to.deep.equal(['effect', 'key', 'operator', 'tolerationSeconds', 'value']);
    });

    it('requires, bounds and defaults the spec', () => {
      expect(at(s, 'spec').required).to.have.members(['partitions', 'secretRef']);
      expect(at(s, 'spec.partitions')).to.include({ type: 'integer', minimum: 1 });
      expect(at(s, 'spec.csi.driver').default).to.equal('juicefs');
      expect(at(s, 'spec.csi').default).to.deep.equal({});
      expect(at(s, 'spec.cache.levels.[].mediumType').enum).to.deep.equal(['MEM', 'SSD', 'HDD']);
      expect(at(s, 'spec.cache.levels.[].cacheSize').minimum).to.equal(0);
      expect(at(s, 'spec.cache.levels.[]').required).to.have.members(['mediumType', 'path']);
      expect(at(s, 'spec')['x-kubernetes-validations']!.map((v) => v.rule)).to.include(
        'has(self.source) || (has(self.noSync) && self.noSync)',
      );
    });

    it('limits the name to 55 characters and makes secretRef immutable', () => {
      expect(s['x-kubernetes-validations']!.map((v) => v.rule)).to.include('self.metadata.name.size() <= 55');
      expect(at(s, 'spec.secretRef')['x-kubernetes-validations']!.map((v) => v.rule)).to.include('self == oldSelf');
    });

    it('has the status shape the operator writes', () => {
      expect(keysAt(s, 'status')).to.deep.equal([
        'cacheStatus',
        'conditions',
        'lastCacheUpdateTime',
        'nodes',
        'observedGeneration',
        'phase',
        'runtimeStatus',
        'syncJob',
      ]);
      expect(keysAt(s, 'status.runtimeStatus')).to.deep.equal(['readyReplicas', 'runtimeReady', 'specReplicas']);
      expect(keysAt(s, 'status.cacheStatus')).to.deep.equal(
        [
          'totalSize',
          'totalFiles',
          'cachedSize',
          'diskSize',
          'diskUsed',
          'diskAvail',
          'diskUsageRate',
          'cachedPercentage',
          'totalBytes',
          'cachedBytes',
          'diskSizeBytes',
          'diskUsedBytes',
          'diskAvailBytes',
          'fileCount',
          'errorMassage',
          ...READ_FIGURES,
        ].sort(),
      );
      for (const f of ['totalBytes', 'cachedBytes', 'diskSizeBytes', 'diskUsedBytes', 'diskAvailBytes', 'fileCount', ...READ_COUNTERS]) {
        expect(at(s, `status.cacheStatus.${f}`), f).to.include({ type: 'integer', format: 'int64' });
      }
      for (const f of READ_COUNTERS) expect(at(s, `status.nodes.[].${f}`), f).to.include({ type: 'integer', format: 'int64' });
      const wide = crds.SampleSet.spec.versions[0].additionalPrinterColumns?.find((c) => c.name === 'HIT RATIO');
      expect(wide).to.include({ jsonPath: '.status.cacheStatus.cacheHitRatio', priority: 1 });
      expect(at(s, 'status.cacheStatus.cachedPercentage').type).to.equal('string');
      expect(keysAt(s, 'status.nodes.[]')).to.deep.equal(
        ['message', 'node', 'nodeLostSince', 'partition', 'pod', 'ready', 'rewarm', ...READ_FIGURES].sort(),
      );
      expect(keysAt(s, 'spec.nodeLossPolicy')).to.deep.equal(['replaceAfterSeconds']);
      expect(at(s, 'spec.nodeLossPolicy.replaceAfterSeconds')).to.include({ type: 'integer', minimum: 0 });
      expect(at(s, 'spec.podAffinity')).to.deep.include({ type: 'string', enum: ['Preferred', 'Required'] });
      expect(keysAt(s, 'status.syncJob')).to.deep.equal(['completionTime', 'id', 'message', 'phase', 'startTime']);
    });
  });

  describe('SampleJob fields', () => {
    const s = schemaOf(crds.SampleJob);

    it('keeps the original JSON names and adds the scheduling fields', () => {
      expect(keysAt(s, 'spec')).to.deep.equal(
        [
          'type',
          'sampleSetRef',
          'secretRef',
          'terminate',
          'syncOptions',
          'warmupOptions',
          'rmrOptions',
          'clearOptions',
          'schedule',
          'timeZone',
          'suspend',
          'concurrencyPolicy',
          'successfulJobsHistoryLimit',
          'failedJobsHistoryLimit',
          'startingDeadlineSeconds',
          'activeDeadlineSeconds',
        ].sort(),
      );
      // The original's sync options, minus cluster mode (manager, worker), which the engine refuses.
      expect(keysAt(s, 'spec.syncOptions')).to.include.members([
        'source',
        'destination',
        'start',
        'end',
        'threads',
        'http-port',
        'update',
        'force-update',
        'perms',
        'dirs',
        'dry',
        'delete-src',
        'delete-dst',
        'exclude',
        'include',
        'bwlimit',
        'no-https',
        'check-new',
      ]);
      expect(keysAt(s, 'spec.syncOptions')).to.not.include.members(['manager']).and.not.include.members(['worker']);
      expect(keysAt(s, 'spec.warmupOptions')).to.deep.equal(['file', 'partitions', 'paths', 'strategyName', 'threads']);
      expect(keysAt(s, 'spec.rmrOptions')).to.deep.equal(['paths']);
      expect(keysAt(s, 'spec.clearOptions')).to.deep.equal(['paths']);
    });

    it('requires, enumerates and defaults the spec', () => {
      expect(at(s, 'spec').required).to.have.members(['type', 'sampleSetRef']);
      expect(at(s, 'spec.type').enum).to.deep.equal(['sync', 'warmup', 'rmr', 'clear']);
      expect(at(s, 'spec.concurrencyPolicy')).to.deep.include({ enum: ['Allow', 'Forbid', 'Replace'], default: 'Allow' });
      expect(at(s, 'spec.successfulJobsHistoryLimit').default).to.equal(3);
      expect(at(s, 'spec.failedJobsHistoryLimit').default).to.equal(1);
      expect(at(s, 'spec.warmupOptions.strategyName')).to.deep.include({ enum: ['sequence', 'random'], default: 'sequence' });
      expect(at(s, 'spec.rmrOptions.paths').minItems).to.equal(1);
    });

    it('has the status shape the operator writes', () => {
      expect(keysAt(s, 'status')).to.deep.equal(
        [
          'phase',
          'conditions',
          'observedGeneration',
          'jobName',
          'startTime',
          'completionTime',
          'attempts',
          'progress',
          'nodes',
          'lastScheduleTime',
          'lastSuccessfulTime',
          'active',
          'specHash',
          'sampleSetUID',
        ].sort(),
      );
      expect(keysAt(s, 'status.progress')).to.deep.equal(['bytesDone', 'bytesTotal', 'filesDone', 'filesTotal', 'percent']);
      expect(keysAt(s, 'status.nodes.[]')).to.deep.equal(['attempts', 'message', 'node', 'phase', 'pod']);
      expect(keysAt(s, 'status.active.[]')).to.deep.equal(['apiVersion', 'kind', 'name', 'namespace', 'uid']);
    });
  });

  describe('PaddleJob fields', () => {
    const s = schemaOf(crds.PaddleJob);

    it('keeps the original JSON names', () => {
      expect(keysAt(s, 'spec')).to.deep.equal([
        'cleanPodPolicy',
        'elastic',
        'heter',
        'intranet',
        'ps',
        'sampleSetRef',
        'schedulingPolicy',
        'withGloo',
        'worker',
      ]);
      for (const role of ['ps', 'worker', 'heter']) {
        expect(keysAt(s, `spec.${role}`)).to.deep.equal(['limits', 'replicas', 'requests', 'template']);
        expect(at(s, `spec.${role}`).required).to.include('replicas');
        expect(at(s, `spec.${role}.replicas`).minimum).to.equal(0);
        expect(at(s, `spec.${role}.template.spec`)['x-kubernetes-preserve-unknown-fields']).to.equal(true);
      }
      expect(keysAt(s, 'spec.schedulingPolicy')).to.deep.equal(['minAvailable', 'minResources', 'priorityClass', 'queue']);
      expect((at(s, 'spec.schedulingPolicy.minResources').additionalProperties as Schema)['x-kubernetes-int-or-string']).to.equal(true);
      expect(keysAt(s, 'spec.sampleSetRef')).to.deep.equal(['mountPath', 'name', 'namespace', 'waitSeconds']);
      expect(at(s, 'spec.sampleSetRef.waitSeconds')).to.include({ type: 'integer', minimum: 0 });
      expect(at(s, 'spec.sampleSetRef').required).to.have.members(['name', 'mountPath']);
    });

    it('enumerates and defaults the policies', () => {
      expect(at(s, 'spec.cleanPodPolicy')).to.deep.include({
        enum: ['Always', 'Never', 'OnFailure', 'OnCompletion'],
        default: 'OnCompletion',
      });
      expect(at(s, 'spec.intranet')).to.deep.include({ enum: ['PodIP', 'Service', 'Host'], default: 'PodIP' });
      expect(at(s, 'spec')['x-kubernetes-validations']!.map((v) => v.rule)).to.include('has(self.ps) || has(self.worker)');
    });

    it('has the status shape the operator writes', () => {
      expect(keysAt(s, 'status')).to.deep.equal([
        'completionTime',
        'conditions',
        'elastic',
        'heter',
        'mode',
        'observedGeneration',
        'phase',
        'ps',
        'startTime',
        'worker',
      ]);
      for (const role of ['ps', 'worker', 'heter']) {
        expect(keysAt(s, `status.${role}`)).to.deep.equal(['failed', 'pending', 'refs', 'running', 'starting', 'succeeded', 'unknown']);
        expect(keysAt(s, `status.${role}.refs.[]`)).to.deep.equal(['apiVersion', 'kind', 'name', 'namespace', 'uid']);
      }
    });
  });

  describe('CEL regular expressions', () => {
    it('accepts free-space-ratio in [0, 1) only', () => {
      const rules = at(schemaOf(crds.SampleSet), 'spec.csi.juiceFSMountOptions.free-space-ratio')['x-kubernetes-validations']!;
      const ratio = new RegExp(celRegex(rules[0].rule));
      for (const r of ['0', '0.1', '0.25', '.5', '0.999']) expect(ratio.test(r), r).to.equal(true);
      for (const r of ['1', '1.0', '-0.1', '0.', '', '10', 'abc', '0.1 ']) expect(ratio.test(r), r).to.equal(false);
    });

    it('accepts only absolute, colon-separated host cache paths', () => {
      const rules = at(schemaOf(crds.SampleSet), 'spec.cache.levels.[].path')['x-kubernetes-validations']!.map((v) => v.rule);
      const host = new RegExp(celRegex(rules.find((r) => r.includes(':]')) ?? ''));
      for (const p of ['/dev/shm/a', '/dev/shm/a:/dev/shm/b', '/data/']) expect(host.test(p), p).to.equal(true);
      for (const p of ['dev/shm', '/a:b', '/a::/b', ':/a', '/a:']) expect(host.test(p), p).to.equal(false);
    });

    const pathRule = at(schemaOf(crds.SampleJob), 'spec.rmrOptions.paths.[]')['x-kubernetes-validations']![0].rule;
    const dotdot = new RegExp(celRegex(pathRule));
    const safe = (p: string) => !p.includes('\u0000') && !dotdot.test(p);

    it('uses the same path rule on every dataset and cache path', () => {
      const js = schemaOf(crds.SampleJob);
      const ss = schemaOf(crds.SampleSet);
      const rules = [
        at(js, 'spec.warmupOptions.paths.[]'),
        at(js, 'spec.warmupOptions.file'),
        at(js, 'spec.clearOptions.paths.[]'),
        at(js, 'spec.syncOptions.destination'),
        at(ss, 'spec.cache.levels.[].path'),
        at(ss, 'spec.csi.juiceFSMountOptions.sub-dir'),
        at(ss, 'spec.csi.juiceFSMountOptions.cache-dir'),
      ].map((n) => n['x-kubernetes-validations']!.map((v) => v.rule));
      for (const r of rules) expect(r).to.include(pathRule);
      expect(pathRule).to.contain("!self.contains('\\u0000')");
    });

    it("rejects a '..' segment and NUL, accepts '..' inside a name and a leading '/'", () => {
      for (const p of ['/train', 'train', 'a..b', '..hidden', 'x/..y/z', './val', '/', '.../x', 'train/'])
        expect(safe(p), p).to.equal(true);
      for (const p of ['..', '../x', 'x/..', 'a/../b', '/..', '/train/../..', '../', 'train\u0000x'])
        expect(safe(p), JSON.stringify(p)).to.equal(false);
    });

    it('accepts 5-field cron expressions and the macros, rejects the rest', () => {
      const schedule = at(schemaOf(crds.SampleJob), 'spec.schedule')['x-kubernetes-validations']![0].rule;
      const macro = toJsRegExp(celRegex(schedule, 0));
      const cron = toJsRegExp(celRegex(schedule, 1));
      const ok = (s: string) => macro.test(s) || cron.test(s);
      for (const s of [
        '0 * * * *',
        '*/15 9-17 * JAN-MAR MON-FRI',
        '5,10,15 1-5/2 1,15 1 sun',
        '0 0 ? * 7',
        '59 23 31 12 6',
        '@hourly',
        '@daily',
        '@weekly',
        '@monthly',
        '@yearly',
        '@midnight',
        '@annually',
      ]) {
        expect(ok(s), s).to.equal(true);
      }
      for (const s of [
        '',
        '0 * * *',
        '0 0 * * * *',
        '60 * * * *',
        '0 24 * * *',
        '0 0 0 * *',
        '0 0 32 * *',
        '0 0 * 13 *',
        '0 0 * * 8',
        '*/0 * * * *',
        '@every 5m',
        '@reboot',
        'TZ=UTC 0 * * * *',
        'a b c d e',
      ]) {
        expect(ok(s), s).to.equal(false);
      }
    });

    // Class 6 of issue 12: any '@' (also percent-encoded) and any percent-encoded authority.
    it('rejects credentials in source URIs, also with / : @ in the secret and percent-encoded', () => {
      const crs: Array<[Schema, string]> = [
        [schemaOf(crds.SampleSet), 'spec.source.uri'],
        [schemaOf(crds.SampleJob), 'spec.syncOptions.source'],
      ];
      for (const [schema, field] of crs) {
        const uriRules = at(schema, field)['x-kubernetes-validations']!.map((v) => v.rule);
        const rule = uriRules.find((r) => r.includes('@')) ?? '';
        expect(rule, field).to.include("!self.contains('@')");
        const regexes = [new RegExp(celRegex(rule, 0)), new RegExp(celRegex(rule, 1))];
        const refused = (u: string) => u.includes('@') || regexes.some((re) => re.test(u));
        for (const u of [
          's3://AK:SK@bucket.s3.amazonaws.com/x',
          'minio://ak:sk@host:9000/bucket',
          's3://KEY:sec/ret@bucket/',
          's3://KEY:sec/ret/more@bucket/x',
          's3://bucket/prefix/KEY:secret@host/',
          'hdfs://hadoop@namenode:8020/data',
          's3://KEY%3Asecret%40bucket/',
          's3://KEY%3Asecret/bucket/',
          's3://bucket/x%40y',
          's3://bucket/x%2540y',
          'file:///data/a:b@c',
        ]) {
          expect(refused(u), `${field} ${u}`).to.equal(true);
        }
        for (const u of [
          's3://bucket.s3.amazonaws.com/x',
          'minio://host:9000/bucket',
          'hdfs://nn:8020/d',
          's3://bucket/with%20space/',
          'file:///data/x',
        ]) {
          expect(refused(u), `${field} ${u}`).to.equal(false);
        }
      }
      const uriRules = at(schemaOf(crds.SampleSet), 'spec.source.uri')['x-kubernetes-validations']!.map((v) => v.rule);
      const form = new RegExp(celRegex(uriRules.find((r) => r.includes('://[') && !r.includes('@')) ?? ''));
      for (const u of ['s3://bucket/x', 'file:///data', 'hdfs://nn:8020/d']) expect(form.test(u), u).to.equal(true);
      for (const u of ['bucket/x', '/data', 's3://', 's3://a b']) expect(form.test(u), u).to.equal(false);
    });

    it('documents the opt-in for credentials in arguments and the own-namespace rule for Secrets', () => {
      const ss = schemaOf(crds.SampleSet);
      expect(at(ss, 'spec.source.allowCredentialsInArguments').type).to.equal('boolean');
      expect(String(at(ss, 'spec.source.allowCredentialsInArguments').description)).to.include('/proc/<pid>/cmdline');
      for (const [schema, field] of [
        [ss, 'spec.secretRef.namespace'],
        [ss, 'spec.source.secretRef.namespace'],
        [schemaOf(crds.SampleJob), 'spec.secretRef.namespace'],
      ] as Array<[Schema, string]>) {
        expect(String(at(schema, field).description), field).to.include('CrossNamespaceSecret');
      }
    });
  });
});

describe('invalid-manifest corpus (test/e2e/fixtures/invalid)', () => {
  const dir = path.join(fixtureDir, 'invalid');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('has at least 30 manifests', () => {
    expect(files.length).to.be.at.least(30);
  });

  it('gives each one resource of ours and an `# expect:` line', () => {
    for (const f of files) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      expect(text, f).to.match(/^# expect: \S.*\n/);
      const docs = readDocs(path.join(dir, f));
      expect(docs, f).to.have.length(1);
      expect(docs[0].apiVersion, f).to.match(/^batch\.paddlepaddle\.org\//);
      expect(KINDS, f).to.include(docs[0].kind);
    }
  });
});

describe('deployment manifests (kustomize/)', () => {
  const docsIn = (dir: string) =>
    readdirSync(path.join(root, 'kustomize', dir))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .flatMap((f) => readDocs(path.join(root, 'kustomize', dir, f)));

  it('grants no wildcard in RBAC', () => {
    const roles = docsIn('rbac').filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
    expect(roles.map((r) => `${r.kind} ${r.metadata!.name}`).sort()).to.deep.equal([
      'ClusterRole paddle-operator',
      'Role paddle-operator-leader-election',
      'Role paddle-operator-webhook-certificates',
    ]);
    for (const r of roles) {
      for (const rule of r.rules as V1PolicyRule[]) {
        for (const field of ['apiGroups', 'resources', 'verbs'] as const)
          expect(rule[field], `${r.metadata!.name} ${field}`).to.not.include('*');
      }
    }
  });

  it('runs the manager non-root, read-only, without privilege escalation, with probes and limits', () => {
    const [deployment] = docsIn('manager').filter((d) => d.kind === 'Deployment') as V1Deployment[];
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext).to.deep.include({ runAsNonRoot: true, runAsUser: 65532 });
    const [c] = pod.containers;
    expect(c.securityContext).to.deep.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(c.securityContext!.capabilities!.drop).to.deep.equal(['ALL']);
    expect(c.securityContext!.seccompProfile!.type).to.equal('RuntimeDefault');
    expect(c.livenessProbe!.httpGet!.path).to.equal('/healthz');
    expect(c.readinessProbe!.httpGet!.path).to.equal('/readyz');
    expect(c.resources!.limits).to.have.keys('cpu', 'memory');
    expect(c.args).to.include('--leader-elect=true');
  });
});
