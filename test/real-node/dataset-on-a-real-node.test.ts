// The product's central promise, observed on a real node (kubelet, containerd, runc, the real JuiceFS
// CSI driver) rather than simulated: the operator installed with `kubectl apply -k` from the image
// built from our Dockerfile reconciles a SampleSet whose runtime pod is a real container reading a
// volume the CSI driver mounted from the PV the engine wrote; a warmup fills the node's cache and a
// training pod on that node reads the dataset through the SAME mount, served from that cache; clear
// empties it; deleting everything leaves nothing on the node. The steps build on each other, in order.
import { expect } from 'chai';
import type { KubernetesObject, V1Deployment, V1Lease, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { LEASE, PADDLEJOB, POD, PV, PVC, SAMPLEJOB, SAMPLESET, SECRET, STATEFULSET } from '../../src/api/constants.js';
import type { PaddleJob } from '../../src/api/paddlejob.js';
import type { SampleJob } from '../../src/api/samplejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { waitFor } from '../harness/util.js';
import { writeImageOverlay } from '../harness/kustomize-overlay.js';
import { realNodeEnv, type RealNodeEnv } from '../harness/real-node-world.js';
import { cacheHitBytes, datasetObjects, objectGetBytes, parseMountStats } from './fixtures.js';

const NS = 'rn-data';
const SS = 'demo';
const CACHE_DIR = `/var/lib/paddle-operator/cache/${NS}_${SS}`;
const WAIT = { timeoutMs: 180_000, intervalMs: 500 };

describe('a dataset on a real node (kubelet, containerd, JuiceFS CSI driver, the image from our Dockerfile)', function () {
  this.timeout(300_000);
  let env: RealNodeEnv;
  let api: KubeApi;
  const source = { files: 0, bytes: 0 };

  const get = <T extends KubernetesObject>(type: typeof SAMPLESET, name: string): Promise<T | undefined> => api.get<T>(type, name, NS);
  const ssWhere = (what: string, ok: (s: SampleSet) => boolean): Promise<SampleSet> =>
    waitFor(
      `SampleSet ${what}`,
      async () => {
        const s = await get<SampleSet>(SAMPLESET, SS);
        return s && ok(s) ? s : undefined;
      },
      WAIT,
    );
  const jobDone = (name: string): Promise<SampleJob> =>
    waitFor(
      `SampleJob ${name} ended`,
      async () => {
        const j = await get<SampleJob>(SAMPLEJOB, name);
        return j && (j.status?.phase === 'Succeeded' || j.status?.phase === 'Failed') ? j : undefined;
      },
      WAIT,
    );
  const runtimePod = async (): Promise<V1Pod> =>
    (await api.list<V1Pod>(POD, NS, { labelSelector: `paddlepaddle.org/sampleset=${SS}` })).items[0];
  /** Mount lines of the node whose file system is this volume's JuiceFS. */
  const volumeMounts = (volume: string): Promise<string[]> =>
    Promise.resolve(
      env.node
        .mountinfo()
        .split('\n')
        .filter((l) => / - fuse\.juicefs /.test(l) && l.includes(`JuiceFS:${volume}`)),
    );
  const sampleJob = (name: string, spec: Record<string, unknown>): Promise<SampleJob> =>
    api.create<SampleJob>(SAMPLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name, namespace: NS },
      spec: { sampleSetRef: { name: SS }, ...spec },
    } as SampleJob);
  const cacheBlocks = async (): Promise<number> =>
    (await env.node.exec(['find', CACHE_DIR, '-type', 'f', '-path', '*/raw/*'])).split('\n').filter(Boolean).length;

  before(async function () {
    this.timeout(1_800_000);
    env = await realNodeEnv();
    api = new KubeApi(env.cp.kubeConfig());
    Object.assign(source, env.gw.put('datasets', Object.fromEntries(Object.entries(datasetObjects()).map(([k, v]) => [`demo/${k}`, v]))));
  });

  after(async function () {
    this.timeout(120_000);
    await env?.stop();
  });

  it('1. kubectl apply -k of an overlay that only sets the image: the operator pods run for real and one leads', async () => {
    const overlay = writeImageOverlay(env.image);
    const res = await env.cp.kubectl(['apply', '--server-side', '-k', overlay]);
    expect(res.stderr, 'restricted Pod Security admits the operator').to.not.match(/violate PodSecurity/i);
    const dep = await waitFor(
      'operator Deployment available',
      async () => {
        const d = await api.get<V1Deployment>(
          { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
          'paddle-operator',
          'paddle-system',
        );
        return d?.status?.readyReplicas === d?.spec?.replicas && (d?.spec?.replicas ?? 0) > 0 ? d : undefined;
      },
      WAIT,
    );
    const pods = (await api.list<V1Pod>(POD, 'paddle-system', { labelSelector: 'app.kubernetes.io/name=paddle-operator' })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    expect(pods).to.have.length(dep.spec!.replicas!);
    for (const p of pods) {
      expect(p.spec!.nodeName, 'on the real node').to.equal(env.node.name);
      expect(p.status!.containerStatuses![0].ready, 'readiness probe passed').to.equal(true);
      expect(p.spec!.containers[0].image).to.equal(env.image);
      const uid = await env.cp.kubectl([
        '-n',
        'paddle-system',
        'exec',
        p.metadata!.name!,
        '-c',
        'manager',
        '--',
        'node',
        '-p',
        'process.getuid()',
      ]);
      expect(uid.stdout.trim(), "the image's user").to.equal('65532');
    }
    const lease = await waitFor(
      'leader Lease held',
      async () => {
        const l = await api.get<V1Lease>(LEASE, 'paddle-operator-leader', 'paddle-system');
        return l?.spec?.holderIdentity ? l : undefined;
      },
      WAIT,
    );
    expect(
      pods.map((p) => p.metadata!.name),
      'a replica holds the lease',
    ).to.include(lease.spec!.holderIdentity!.split('_')[0]);
  });

  it('2. a SampleSet from a local S3 source: a real runtime container on a CSI-mounted volume, Ready with exact totals', async () => {
    await env.cp.ensureNamespace(NS);
    await api.create(SECRET, {
      metadata: { name: 'source', namespace: NS },
      stringData: { 'access-key': env.gw.accessKey, 'secret-key': env.gw.secretKey },
    });
    await api.create(SECRET, { metadata: { name: 'jfs', namespace: NS }, stringData: await env.volumeSecret('rn-demo') });
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: SS, namespace: NS },
      spec: {
        partitions: 1,
        source: { uri: env.gw.uri('datasets', 'demo/'), secretRef: { name: 'source' } },
        secretRef: { name: 'jfs' },
        cache: { levels: [{ mediumType: 'SSD', path: `/var/lib/paddle-operator/cache/${SS}`, cacheSize: 2048 }] },
        // slow enough that step 5 can restart the runtime container in the middle of a warmup
        csi: { driver: 'juicefs', juiceFSMountOptions: { 'download-limit': 80 } },
      },
    });
    const ready = await ssWhere(
      'Ready with exact totals',
      (s) =>
        s.status?.phase === 'Ready' &&
        s.status.cacheStatus?.fileCount === source.files &&
        s.status.cacheStatus?.totalBytes === source.bytes,
    );
    expect(ready.status!.cacheStatus!.totalBytes).to.equal(source.bytes);
    const pod = await runtimePod();
    expect(pod.spec!.nodeName).to.equal(env.node.name);
    const c = pod.spec!.containers[0];
    expect(c.securityContext?.privileged ?? false, 'the runtime container is not privileged').to.equal(false);
    expect(pod.status!.containerStatuses![0].state?.running, 'a real running container').to.not.equal(undefined);
    const claim = pod.spec!.volumes!.find((v) => v.persistentVolumeClaim)!.persistentVolumeClaim!.claimName;
    const pvc = await api.get<V1PersistentVolumeClaim>(PVC, claim, NS);
    const pv = await api.get<V1PersistentVolume>(PV, pvc!.spec!.volumeName!);
    expect(pv!.spec!.csi!.driver).to.equal('csi.juicefs.com');
    const mounts = await volumeMounts('rn-demo');
    expect(
      mounts.some((l) => l.includes(`/pods/${pod.metadata!.uid}/volumes/kubernetes.io~csi/`)),
      'the CSI driver published the volume into the runtime pod',
    ).to.equal(true);
    const cmd = await env.node.exec([
      'sh',
      '-c',
      'for p in $(pgrep -f "[j]uicefs.*rn-demo"); do tr "\\0" " " < /proc/$p/cmdline; echo; done',
    ]);
    expect(cmd, "the CSI driver mounted with the engine's mount options").to.include(`cache-dir=${CACHE_DIR}`);
  });

  it('3. warmup, then a PaddleJob worker on the node reads the dataset through the same mount, from the cache', async () => {
    await sampleJob('warm', { type: 'warmup' });
    expect((await jobDone('warm')).status!.phase).to.equal('Succeeded');
    // the kubelet keeps only the last 4 KiB of a termination message: report just the counters used
    const script = [
      "const fs=require('fs'),p=require('path');",
      "const stats=()=>fs.readFileSync('/data/.stats','utf8').split('\\n').filter(l=>/^juicefs_(blockcache_hit_bytes|object_request_data_bytes_GET) /.test(l)).join('\\n');",
      'const before=stats();let bytes=0,files=0;',
      "const walk=d=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){const f=p.join(d,e.name);if(e.isDirectory())walk(f);else if(e.isFile()&&!e.name.startsWith('.')){bytes+=fs.readFileSync(f).length;files++;}}};",
      "walk('/data');const mi=fs.readFileSync('/proc/self/mountinfo','utf8').split('\\n').find(l=>l.split(' ')[4]==='/data');",
      "const out=JSON.stringify({before,after:stats(),bytes,files,dev:mi.split(' ')[2]});fs.writeFileSync('/dev/termination-log',out);",
    ].join('');
    await api.create<PaddleJob>(PADDLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1',
      kind: 'PaddleJob',
      metadata: { name: 'reader', namespace: NS },
      spec: {
        cleanPodPolicy: 'Never',
        sampleSetRef: { name: SS, mountPath: '/data' },
        worker: {
          replicas: 1,
          template: {
            spec: { containers: [{ name: 'reader', image: env.image, imagePullPolicy: 'IfNotPresent', command: ['node', '-e', script] }] },
          },
        },
      },
    } as unknown as PaddleJob);
    const worker = await waitFor(
      'the worker ran to completion',
      async () => {
        const p =
          (await api.list<V1Pod>(POD, NS, { labelSelector: 'paddle-res-name=reader-worker-0' })).items[0] ??
          (await api.get<V1Pod>(POD, 'reader-worker-0', NS));
        return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p : undefined;
      },
      WAIT,
    );
    expect(worker.spec!.nodeName).to.equal(env.node.name);
    const term = worker.status!.containerStatuses![0].state!.terminated!;
    expect(term.exitCode, term.message).to.equal(0);
    const r = JSON.parse(term.message!) as { before: string; after: string; bytes: number; files: number; dev: string };
    expect(r.files).to.equal(source.files);
    expect(r.bytes).to.equal(source.bytes);
    const before = parseMountStats(r.before);
    const after = parseMountStats(r.after);
    expect(objectGetBytes(after) - objectGetBytes(before), "no object-store reads: the warmup filled this very mount's cache").to.equal(0);
    expect(cacheHitBytes(after) - cacheHitBytes(before), "served from the node's block cache").to.be.at.least(source.bytes);
    const runtimeDev = (
      await env.cp.kubectl([
        '-n',
        NS,
        'exec',
        (await runtimePod()).metadata!.name!,
        '--',
        'node',
        '-e',
        "process.stdout.write(require('fs').readFileSync('/proc/self/mountinfo','utf8').split('\\n').find(l=>l.split(' ')[4]==='/data').split(' ')[2])",
      ])
    ).stdout;
    expect(r.dev, 'the worker and the runtime pod share one FUSE mount of the volume').to.equal(runtimeDev);
    expect(
      new Set((await volumeMounts('rn-demo')).map((l) => l.split(' ')[2])).size,
      'one JuiceFS mount of the volume on the node',
    ).to.equal(1);
  });

  it('4. the runtime container restarted by the kubelet in the middle of a warmup: the SampleJob resubmits and succeeds', async () => {
    expect((await (await sampleJob('empty', { type: 'clear' }), jobDone('empty'))).status!.phase).to.equal('Succeeded');
    await sampleJob('rewarm', { type: 'warmup' });
    await waitFor('warmup running', async () => (await get<SampleJob>(SAMPLEJOB, 'rewarm'))?.status?.phase === 'Running', WAIT);
    const before = await runtimePod();
    await env.node.exec([
      'crictl',
      'stop',
      '--timeout',
      '0',
      before.status!.containerStatuses![0].containerID!.replace(/^containerd:\/\//, ''),
    ]);
    const done = await jobDone('rewarm');
    expect(done.status!.phase, done.status?.conditions?.map((c) => c.message).join('; ')).to.equal('Succeeded');
    const after = await runtimePod();
    expect(after.metadata!.uid, 'the same pod').to.equal(before.metadata!.uid);
    expect(after.status!.containerStatuses![0].restartCount, 'the kubelet restarted the container').to.be.at.least(1);
    const events = await env.cp.kubectl([
      '-n',
      NS,
      'get',
      'events',
      '--field-selector',
      'involvedObject.name=rewarm',
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    expect(events.stdout.split(' '), 'the lost run was resubmitted').to.include('Resubmitted');
  });

  it("5. clear empties the node's cache; deleting the PaddleJob and the SampleSet leaves nothing on the node", async () => {
    expect(await cacheBlocks(), 'cache blocks after the warmups').to.be.greaterThan(0);
    expect((await (await sampleJob('clear', { type: 'clear' }), jobDone('clear'))).status!.phase).to.equal('Succeeded');
    expect(await cacheBlocks(), 'no cache block left').to.equal(0);
    await api.delete(PADDLEJOB, 'reader', NS);
    await waitFor(
      'PaddleJob and its pods gone',
      async () =>
        !(await api.get(PADDLEJOB, 'reader', NS)) &&
        (await api.list<V1Pod>(POD, NS, { labelSelector: 'paddle-job-name=reader' })).items.length === 0,
      WAIT,
    );
    await api.delete(SAMPLESET, SS, NS);
    await waitFor(
      'SampleSet and everything it made gone',
      async () => {
        const left = [
          ...(await api.list(STATEFULSET, NS)).items,
          ...(await api.list(POD, NS)).items,
          ...(await api.list(PVC, NS)).items,
          ...(await api.list<V1PersistentVolume>(PV)).items.filter((pv) => pv.spec?.claimRef?.namespace === NS),
        ];
        return !(await api.get(SAMPLESET, SS, NS)) && left.length === 0;
      },
      WAIT,
    );
    await waitFor('no JuiceFS mount of the volume left on the node', async () => (await volumeMounts('rn-demo')).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect((await env.node.exec(['sh', '-c', 'pgrep -f "[j]uicefs.*rn-demo" || true'])).trim(), 'no JuiceFS process left').to.equal('');
  });
});
