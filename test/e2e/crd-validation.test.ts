// The CRDs against the real kube-apiserver: the examples are accepted, every manifest of the
// invalid corpus is rejected with a message naming the field, immutable fields stay immutable,
// defaults are applied, and the install overlay, `kubectl explain` and `kubectl get paddle` work.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { PaddleJob } from '../../src/api/paddlejob.js';
import type { SampleJob } from '../../src/api/samplejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { testCluster } from './cluster.js';

const root = process.cwd();
const fixtures = path.join(root, 'test', 'e2e', 'fixtures');
const NS = 'default';

/** A manifest as the tests read it. */
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  status?: unknown;
}

function kubectl(args: string[], opts: { input?: string; allowFail?: boolean } = {}) {
  return testCluster().kubectl(args, opts);
}

/** The `# expect: <substring>` header of an invalid fixture. */
function expectation(file: string): string {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0];
  const m = /^# expect: (.+)$/.exec(first);
  if (!m) throw new Error(`${file}: first line must be "# expect: <substring of the apiserver's error>"`);
  return m[1].trim();
}

/** Retries `fn` until it stops throwing (discovery and the published OpenAPI lag CRD creation). */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe('CRD validation (real kube-apiserver)', function () {
  this.timeout(120_000);

  it('accepts every example in kustomize/samples', async () => {
    const r = await kubectl(['apply', '--dry-run=server', '-n', NS, '-k', path.join(root, 'kustomize', 'samples')]);
    expect(r.stdout).to.contain('sampleset.batch.paddlepaddle.org/imagenet created (server dry run)');
    expect(r.stdout).to.contain('paddlejob.batch.paddlepaddle.org/resnet50 created (server dry run)');
    expect(r.stdout.match(/samplejob\.batch\.paddlepaddle\.org\/\S+ created/g) ?? []).to.have.length(5);
  });

  describe('edge cases that must be accepted (fixtures/valid)', () => {
    const dir = path.join(fixtures, 'valid');
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.yaml'))
      .sort()) {
      it(f, async () => {
        const r = await kubectl(['create', '--dry-run=server', '-n', NS, '-f', path.join(dir, f)], { allowFail: true });
        expect(r.code, r.stderr).to.equal(0);
      });
    }
  });

  describe('invalid manifests are rejected with a message naming the field (fixtures/invalid)', () => {
    const dir = path.join(fixtures, 'invalid');
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.yaml'))
      .sort()) {
      it(f, async () => {
        const file = path.join(dir, f);
        const want = expectation(file);
        const r = await kubectl(['create', '--dry-run=server', '-n', NS, '-f', file], { allowFail: true });
        expect(r.code, `accepted:\n${r.stdout}`).to.not.equal(0);
        expect(r.stderr).to.contain(want);
      });
    }
  });

  it('applies the defaults', async () => {
    const created = async <T>(manifest: string): Promise<T> => {
      const r = await kubectl(['create', '--dry-run=server', '-n', NS, '-o', 'json', '-f', '-'], { input: manifest });
      return JSON.parse(r.stdout) as T;
    };
    const set = await created<SampleSet>(
      '{"apiVersion":"batch.paddlepaddle.org/v1alpha1","kind":"SampleSet","metadata":{"name":"defaults"},"spec":{"partitions":1,"noSync":true,"secretRef":{"name":"s"}}}',
    );
    expect(set.spec.csi).to.deep.equal({ driver: 'juicefs' });
    const job = await created<SampleJob>(
      '{"apiVersion":"batch.paddlepaddle.org/v1alpha1","kind":"SampleJob","metadata":{"name":"defaults"},"spec":{"type":"warmup","sampleSetRef":{"name":"x"},"warmupOptions":{"paths":["/"]}}}',
    );
    expect(job.spec).to.deep.include({ concurrencyPolicy: 'Allow', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
    expect(job.spec.warmupOptions!.strategyName).to.equal('sequence');
    const pdj = await created<PaddleJob>(
      '{"apiVersion":"batch.paddlepaddle.org/v1","kind":"PaddleJob","metadata":{"name":"defaults"},"spec":{"worker":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}}',
    );
    expect(pdj.spec).to.deep.include({ intranet: 'PodIP', cleanPodPolicy: 'OnCompletion' });
    // the pod template is kept as written (unknown fields preserved)
    expect(pdj.spec.worker!.template!.spec!.containers[0]).to.deep.equal({ name: 'c', image: 'busybox' });
  });

  describe('a SampleSet that exists', () => {
    const name = 'crd-validation-immutable';
    const manifest = readFileSync(path.join(root, 'kustomize', 'samples', 'sampleset.yaml'), 'utf8').replace(
      /name: imagenet$/m,
      `name: ${name}`,
    );

    before(async () => {
      await kubectl(['delete', 'samplesets.batch.paddlepaddle.org', name, '-n', NS, '--ignore-not-found', '--wait=false']);
      await kubectl(['create', '-n', NS, '-f', '-'], { input: manifest });
    });
    after(async () => {
      await kubectl(['delete', 'samplesets.batch.paddlepaddle.org', name, '-n', NS, '--ignore-not-found', '--wait=false'], {
        allowFail: true,
      });
    });

    it('keeps secretRef immutable', async () => {
      const r = await kubectl(
        [
          'patch',
          'samplesets.batch.paddlepaddle.org',
          name,
          '-n',
          NS,
          '--type=merge',
          '-p',
          '{"spec":{"secretRef":{"name":"another-volume"}}}',
        ],
        {
          allowFail: true,
        },
      );
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain('spec.secretRef').and.contain('secretRef is immutable once set');
    });

    it('does not let secretRef be removed', async () => {
      const r = await kubectl(
        ['patch', 'samplesets.batch.paddlepaddle.org', name, '-n', NS, '--type=json', '-p', '[{"op":"remove","path":"/spec/secretRef"}]'],
        {
          allowFail: true,
        },
      );
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain('spec.secretRef: Required value');
    });

    it('lets partitions change (rescaling) and keeps validating it', async () => {
      await kubectl(['patch', 'samplesets.batch.paddlepaddle.org', name, '-n', NS, '--type=merge', '-p', '{"spec":{"partitions":3}}']);
      const r = await kubectl(
        ['patch', 'samplesets.batch.paddlepaddle.org', name, '-n', NS, '--type=merge', '-p', '{"spec":{"partitions":0}}'],
        { allowFail: true },
      );
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain('spec.partitions');
    });

    it('shows the printer columns and accepts the status shape of the operator', async () => {
      const status = {
        status: {
          phase: 'Ready',
          observedGeneration: 1,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'AllPartitionsReady',
              message: '2/2 ready',
              lastTransitionTime: '2025-01-01T00:00:00Z',
              observedGeneration: 1,
            },
          ],
          runtimeStatus: { specReplicas: 2, readyReplicas: 2, runtimeReady: '2/2' },
          cacheStatus: {
            totalSize: '4.2 GiB',
            totalFiles: '128,660',
            cachedSize: '1.8 GiB',
            cachedPercentage: '42.0%',
            diskSize: '20 GiB',
            diskUsed: '2.0 GiB',
            diskAvail: '18 GiB',
            diskUsageRate: '10.0%',
            totalBytes: 4509715660,
            cachedBytes: 1932735283,
            diskSizeBytes: 21474836480,
            diskUsedBytes: 2147483648,
            diskAvailBytes: 19327352832,
            fileCount: 128660,
            errorMassage: '',
          },
          nodes: [{ partition: 0, pod: `${name}-runtime-0`, node: 'kwok-node-0', ready: true, message: '' }],
          syncJob: {
            id: 'sync-1',
            phase: 'Succeeded',
            message: 'done',
            startTime: '2025-01-01T00:00:00Z',
            completionTime: '2025-01-01T00:01:00Z',
          },
          lastCacheUpdateTime: '2025-01-01T00:02:00Z',
        },
      };
      await kubectl([
        'patch',
        'samplesets.batch.paddlepaddle.org',
        name,
        '-n',
        NS,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify(status),
      ]);
      const got = JSON.parse(
        (await kubectl(['get', 'samplesets.batch.paddlepaddle.org', name, '-n', NS, '-o', 'json'])).stdout,
      ) as Manifest;
      expect(got.status).to.deep.equal(status.status); // nothing pruned
      const table = (await kubectl(['get', 'samplesets.batch.paddlepaddle.org', name, '-n', NS])).stdout;
      expect(table.split('\n')[0]).to.match(/^NAME\s+TOTAL SIZE\s+CACHED SIZE\s+CACHED %\s+AVAIL SPACE\s+RUNTIME\s+PHASE\s+AGE$/);
      expect(table).to.match(/4\.2 GiB\s+1\.8 GiB\s+42\.0%\s+18 GiB\s+2\/2\s+Ready/);
    });
  });

  it('renders kustomize/default, which the apiserver accepts', async () => {
    const rendered = (await kubectl(['kustomize', path.join(root, 'kustomize', 'default')])).stdout;
    const docs = rendered
      .split(/^---$/m)
      .map((d) => parse(d) as Manifest | null)
      .filter((d): d is Manifest => Boolean(d));
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds).to.deep.equal(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'Deployment',
        'MutatingWebhookConfiguration',
        'Namespace',
        'Role', // leader election
        'Role', // webhook certificates
        'RoleBinding',
        'RoleBinding',
        'Service',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    const clusterScoped = ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'];
    for (const d of docs.filter((x) => !clusterScoped.includes(x.kind))) {
      expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).to.equal('paddle-system');
    }
    // Namespaced objects can only be dry-run into a namespace that exists: create it (with its
    // Pod Security labels) for real first.
    const namespace = docs.find((d) => d.kind === 'Namespace');
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify(namespace) });
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: rendered, allowFail: true });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr, 'Pod Security warnings').to.not.match(/violate PodSecurity/i);
    // created, or unchanged/configured when another suite installed the RBAC already
    expect(r.stdout).to.match(/deployment\.apps\/paddle-operator (created|configured|unchanged) \(server dry run\)/);
    expect(r.stdout).to.match(
      /clusterrole\.rbac\.authorization\.k8s\.io\/paddle-operator (created|configured|unchanged) \(server dry run\)/,
    );
    expect(r.stdout).to.match(
      /mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/paddle-operator-pod-cache-affinity (created|configured|unchanged) \(server dry run\)/,
    );
  });

  it('teaches the API through kubectl explain', async () => {
    const out = await eventually(async () => (await kubectl(['explain', 'samplesets.spec.partitions'])).stdout);
    expect(out).to.contain('Number of cache nodes');
    const mount = await eventually(async () => (await kubectl(['explain', 'paddlejobs.spec.sampleSetRef.mountPath'])).stdout);
    expect(mount).to.contain('Absolute path');
    const schedule = await eventually(async () => (await kubectl(['explain', 'samplejobs.spec.schedule'])).stdout);
    expect(schedule).to.contain('Cron schedule');
    // The limits the engine enforces are stated where users look (explain wraps lines: compare words).
    const explain = async (field: string) => (await kubectl(['explain', field])).stdout.replace(/\s+/g, ' ');
    expect(await explain('samplesets.spec.partitions')).to.contain('from 1 to 5000');
    const mountOptions = await explain('samplesets.spec.csi.juiceFSMountOptions');
    for (const option of ['cache-eviction', 'verify-cache-checksum', 'no-usage-report', 'umask'])
      expect(mountOptions).to.contain(` ${option} `);
    expect(await explain('samplesets.spec.csi.juiceFSMountOptions.attr-cache')).to.contain('or a duration string');
    expect(await explain('samplejobs.spec.warmupOptions.paths')).to.contain('65536 characters in all');
    const syncOptions = await explain('samplejobs.spec.syncOptions');
    expect(syncOptions).to.contain(' list-depth ').and.not.contain(' manager ');
  });

  it('lists all three kinds with `kubectl get paddle` and PaddleJobs with `pdj`', async () => {
    const name = 'crd-validation-category';
    const pdj = `{"apiVersion":"batch.paddlepaddle.org/v1","kind":"PaddleJob","metadata":{"name":"${name}"},"spec":{"worker":{"replicas":0,"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}}`;
    await kubectl(['delete', 'paddlejobs.batch.paddlepaddle.org', name, '-n', NS, '--ignore-not-found']);
    await kubectl(['create', '-n', NS, '-f', '-'], { input: pdj });
    try {
      const all = await eventually(async () => {
        const r = await kubectl(['get', 'paddle', '-n', NS, '-o', 'name']);
        if (!r.stdout.includes(`paddlejob.batch.paddlepaddle.org/${name}`)) throw new Error(`not listed yet:\n${r.stdout}`);
        return r;
      });
      expect(all.code).to.equal(0);
      const short = await eventually(async () => kubectl(['get', 'pdj', '-n', NS]));
      expect(short.stdout.split('\n')[0]).to.match(/^NAME\s+STATUS\s+MODE\s+AGE$/);
      expect(short.stdout).to.contain(name);
    } finally {
      await kubectl(['delete', 'paddlejobs.batch.paddlepaddle.org', name, '-n', NS, '--ignore-not-found', '--wait=false'], {
        allowFail: true,
      });
    }
  });
});
