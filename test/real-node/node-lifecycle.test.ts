// A REAL node beside the KWOK nodes (test/harness/real-node.ts): kubelet, containerd, runc, CNI,
// kube-proxy and the JuiceFS CSI driver in namespaces of their own. Proves that it becomes Ready
// with the driver registered, that a pod with a JuiceFS PVC (etcd metadata and an S3 gateway, both
// on the bridge, as runtime pods will use them) runs with the volume mounted by the real driver
// through a mount pod (the driver's mount-pod mode), which the driver deletes with its last user,
// that pods reach the apiserver through ClusterIP 10.96.0.1 and the host reaches pod IPs, and that
// stop() and a crash followed by cleanupStaleRealNodes() leave nothing behind.
//
// This suite starts its OWN control plane in its own run dir (.cache/e2e-real-node/<time>) rather
// than binding the shared one (hooks.ts) to a bridge: the bridge, veths and routes are host-wide
// changes that only this suite needs, the apiserver must be bound to the bridge address before any
// node starts, and kube-controller-manager runs with a 1 s PV binder period here; the other suites
// keep their loopback-only cluster untouched. It costs one more control-plane start (≈5–10 s).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { CoreV1Api, StorageV1Api, type V1Pod } from '@kubernetes/client-node';
import { startS3Gateway, type S3Gateway } from '../harness/cache-nodes.js';
import { ControlPlane } from '../harness/control-plane.js';
import { hostBinaryImage } from '../harness/host-binary-image.js';
import { JUICEFS_CSI_DRIVER, nodeCgroupRoot, nodeNetwork, REAL_NODE_PREFIX } from '../harness/real-node-config.js';
import { CSI_NAMESPACE, JUICEFS_MOUNT_PATH, MOUNT_POD_SELECTOR } from '../harness/real-node-csi.js';
import { cgroupDirs, claimsDir, createCgroup, nodeStateFile, processesIn, run, type NodeState } from '../harness/real-node-host.js';
import { cleanupStaleRealNodes, createNodeBridge, RealNode, releaseMountPods, type NodeBridge } from '../harness/real-node.js';
import { httpRequest, pidAlive, repoRoot, waitFor } from '../harness/util.js';

const NS = 'real-node-e2e';
const PROBE_IMAGE = 'docker.io/library/paddle-e2e-probe:local';

// The probe container: writes into the JuiceFS volume, then serves what it finds there and what the
// apiserver answers through the `kubernetes` Service's ClusterIP.
const PROBE_SCRIPT = `
const fs = require('fs'), http = require('http'), https = require('https');
fs.writeFileSync('/data/hello.txt', 'written-by-pod\\n');
const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
http.createServer((req, res) => {
  if (req.url.startsWith('/read/')) {
    try { res.end(fs.readFileSync('/data/' + req.url.slice(6))); } catch (e) { res.statusCode = 404; res.end(String(e)); }
  } else if (req.url === '/apiserver') {
    https.get({ host: '10.96.0.1', port: 443, path: '/version', ca: fs.readFileSync(sa + 'ca.crt'),
      headers: { authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8') } }, (r) => {
      let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => res.end(JSON.stringify({ status: r.statusCode, env: process.env.KUBERNETES_SERVICE_HOST, body: b })));
    }).on('error', (e) => { res.statusCode = 502; res.end(String(e)); });
  } else res.end('ok');
}).listen(8080);
`;

const log = (msg: string): void => {
  process.stderr.write(`      [real-node] ${msg}\n`);
};

function leftovers(node: {
  holderPid: number;
  initProcessPid: number;
  namespaces: string[];
  nodeDir: string;
  cgroupRoot: string;
  net: { hostVeth: string; podCIDR: string };
}): Promise<string[]> {
  return (async () => {
    const found: string[] = [];
    if (pidAlive(node.holderPid)) found.push(`holder ${node.holderPid} alive`);
    if (pidAlive(node.initProcessPid)) found.push(`namespace init ${node.initProcessPid} alive`);
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(node.nodeDir) || /fuse\.juicefs.*JuiceFS:rnvol/.test(l));
    if (mounts.length) found.push(`host mounts: ${mounts.join(' | ')}`);
    if (fs.existsSync(`/sys/class/net/${node.net.hostVeth}`)) found.push(`interface ${node.net.hostVeth}`);
    const route = (await run('ip', ['route', 'show', node.net.podCIDR])).trim();
    if (route) found.push(`route ${route}`);
    const cg = cgroupDirs(node.cgroupRoot);
    if (cg.length) found.push(`cgroups ${cg.slice(0, 3).join(', ')}${cg.length > 3 ? ` (+${cg.length - 3})` : ''}`);
    // no process in the node's namespaces (they are gone with their last process), none naming its files
    const inside = processesIn(node.namespaces);
    if (inside.length) found.push(`processes in the node's namespaces: ${inside.join(' | ')}`);
    const procs = (await run('pgrep', ['-af', `${node.nodeDir}|/var/lib/jfs/|JuiceFS:rnvol`]).catch(() => '')).trim();
    const mine = procs.split('\n').filter((l) => l && !l.includes('pgrep'));
    if (mine.length) found.push(`processes: ${mine.join(' | ')}`);
    return found;
  })();
}

describe('real node (kubelet, containerd, kube-proxy, JuiceFS CSI driver)', function () {
  this.timeout(300_000);
  let runDir: string;
  let bridge: NodeBridge | undefined;
  let cp: ControlPlane | undefined;
  let gateway: S3Gateway | undefined;
  let node: RealNode | undefined;
  let crashNode: RealNode | undefined;
  let core: CoreV1Api;
  let probeTar: string;

  before(async function () {
    this.timeout(600_000);
    // namespaces, a bridge, cgroups and FUSE need root (as in CI); say so instead of failing obscurely
    if (process.getuid?.() !== 0) {
      log('skipped: the real-node tier needs root');
      this.skip();
    }
    // first what crashed runs left (their nodes may still use files in old run dirs), then prune
    await cleanupStaleRealNodes({ log });
    const base = path.join(repoRoot(), '.cache', 'e2e-real-node');
    // keep the logs of the last few runs (each run dir also holds a ≈100 MB probe image)
    const old = fs.existsSync(base) ? fs.readdirSync(base).sort() : [];
    for (const d of old.slice(0, Math.max(0, old.length - 2))) fs.rmSync(path.join(base, d), { recursive: true, force: true });
    runDir = path.join(base, new Date().toISOString().replace(/[:.]/g, '-'));
    fs.mkdirSync(runDir, { recursive: true });
    bridge = await createNodeBridge({ runDir, log });
    cp = await ControlPlane.start({
      runDir,
      nodes: 1,
      bindAddress: bridge.address,
      extraArgs: { 'kube-controller-manager': ['--pvclaimbinder-sync-period=1s'] },
      log,
    });
    core = cp.kubeConfig().makeApiClient(CoreV1Api);
    gateway = await startS3Gateway({
      dir: path.join(runDir, 's3'),
      juicefsBin: path.join(cp.binDir, 'juicefs'),
      listenAddress: bridge.address,
      log,
    });
    gateway.createBucket('rnbucket');
    probeTar = path.join(runDir, 'probe.tar');
    fs.writeFileSync(
      probeTar,
      hostBinaryImage({ name: PROBE_IMAGE, binary: fs.realpathSync(process.execPath), entrypoint: [fs.realpathSync(process.execPath)] }),
    );
  });

  after(async function () {
    this.timeout(120_000);
    for (const n of [node, crashNode]) await n?.stop().catch((e: unknown) => log(`stop: ${String(e)}`));
    await gateway?.stop();
    await cp?.stop();
    await bridge?.remove();
    await cleanupStaleRealNodes({ log });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      node?.dumpLogs(30);
      cp?.dumpLogs(20);
    }
  });

  it('starts beside the KWOK nodes, becomes Ready and its CSINode lists the JuiceFS driver', async () => {
    const t = Date.now();
    node = await RealNode.start({ cluster: cp!, bridge: bridge!, name: 'real-0', index: 0, log });
    log(`node start → Ready + CSINode: ${Date.now() - t} ms`);
    const nodes = (await core.listNode()).items;
    const names = nodes.map((n) => n.metadata?.name);
    expect(names).to.include.members(['kwok-node-0', 'real-0']);
    const real = nodes.find((n) => n.metadata?.name === 'real-0')!;
    expect(real.metadata?.annotations?.['kwok.x-k8s.io/node']).to.equal(undefined);
    expect(real.status?.addresses?.find((a) => a.type === 'InternalIP')?.address).to.equal(node.nodeIP);
    expect(real.status?.nodeInfo?.containerRuntimeVersion).to.match(/^containerd:\/\//);
    const csiNode = await cp!.kubeConfig().makeApiClient(StorageV1Api).readCSINode({ name: 'real-0' });
    expect(csiNode.spec.drivers.map((d) => [d.name, d.nodeID])).to.deep.include([JUICEFS_CSI_DRIVER, 'real-0']);
  });

  it('runs a pod with a JuiceFS volume mounted by the CSI driver, reachable from the host, reaching the apiserver by ClusterIP', async () => {
    expect(node, 'node from the previous test').to.not.equal(undefined);
    // the metadata engine the lead's suites will use from inside pods: the cluster's etcd on the bridge
    const check = await run(path.join(cp!.binDir, 'juicefs'), [
      'format',
      '--storage',
      'file',
      '--bucket',
      path.join(runDir, 'fmt-check') + '/',
      `${cp!.etcdBindUrl.replace('http://', 'etcd://')}/fmtcheck`,
      'fmtcheck',
    ]);
    log(`juicefs format etcd://… from the host: ok ${check.trim().slice(0, 80)}`);
    await node!.importImage(probeTar);
    // the mount pod's image (start() does not wait for its import)
    const ti = Date.now();
    await node!.mountImageReady();
    log(`mount image ready ${Date.now() - ti} ms after the probe image`);
    await cp!.ensureNamespace(NS);
    const t = Date.now();
    await cp!.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: volumeObjects(cp!, gateway!) }),
    });
    await cp!.kubectl(['apply', '-f', '-'], { input: JSON.stringify(probePod('probe', 'real-0')) });
    const pod = await waitFor(
      'probe pod Ready',
      async () => {
        const p = await core.readNamespacedPod({ name: 'probe', namespace: NS });
        return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    log(`pod with CSI volume apply → Ready: ${Date.now() - t} ms`);
    const ip = pod.status!.podIP!;
    expect(ip.startsWith(node!.podCIDR.split('.').slice(0, 3).join('.') + '.')).to.equal(true);

    // the volume is a JuiceFS FUSE mount made by the driver inside the node, bind-mounted into the pod
    // a mount pod of the driver (kube-system, on this node) holds it under the node's JUICEFS_MOUNT_PATH
    const jfs = node!
      .mountinfo()
      .split('\n')
      .filter((l) => / - fuse\.juicefs JuiceFS:rnvol /.test(l));
    expect(jfs.length, node!.mountinfo()).to.be.greaterThan(0);
    const shared = jfs.map((l) => l.split(' ')[4]).find((m) => m.startsWith(`${JUICEFS_MOUNT_PATH}/`));
    expect(shared, jfs.join('\n')).to.not.equal(undefined);
    expect(new Set(jfs.map((l) => l.split(' ')[2])).size, 'one FUSE mount, bound where it is used').to.equal(1);
    const mountPods = (
      await core.listNamespacedPod({ namespace: CSI_NAMESPACE, labelSelector: MOUNT_POD_SELECTOR, fieldSelector: 'spec.nodeName=real-0' })
    ).items;
    expect(mountPods.map((p) => [p.status?.phase, p.spec?.containers[0]?.securityContext?.privileged])).to.deep.equal([['Running', true]]);
    expect(Object.values(mountPods[0].metadata!.annotations ?? {}), 'the probe pod is its reference').to.include(
      `/var/lib/kubelet/pods/${pod.metadata!.uid}/volumes/kubernetes.io~csi/rn-pv/mount`,
    );

    // host → pod IP (routed via the node IP); the pod wrote through the volume
    const hello = await waitFor('probe answers', async () => await httpRequest(`http://${ip}:8080/read/hello.txt`, { timeoutMs: 3000 }), {
      timeoutMs: 30_000,
      intervalMs: 300,
    });
    expect(hello.status).to.equal(200);
    expect(hello.body).to.equal('written-by-pod\n');
    // ... and that data is in the node's JuiceFS mount; what the host writes there the pod reads
    expect(fs.readFileSync(path.join(node!.inside(shared!), 'hello.txt'), 'utf8')).to.equal('written-by-pod\n');
    fs.writeFileSync(path.join(node!.inside(shared!), 'from-host.txt'), 'written-through-the-node-mount\n');
    expect((await httpRequest(`http://${ip}:8080/read/from-host.txt`)).body).to.equal('written-through-the-node-mount\n');
    // JuiceFS stored it in the S3 gateway's bucket (metadata in etcd on the bridge)
    expect(fs.readdirSync(path.join(gateway!.mountPoint, 'rnbucket'))).to.include('rnvol');

    // pod → ClusterIP 10.96.0.1:443 → kube-proxy (nftables) → the apiserver on the bridge
    const api = await httpRequest(`http://${ip}:8080/apiserver`, { timeoutMs: 10_000 });
    expect(api.status, api.body).to.equal(200);
    const answer = JSON.parse(api.body) as { status: number; env: string; body: string };
    expect(answer.status).to.equal(200);
    expect(answer.env).to.equal('10.96.0.1');
    expect((JSON.parse(answer.body) as { gitVersion: string }).gitVersion).to.match(/^v1\.\d+\.\d+/);

    // kubectl exec and logs go apiserver → kubelet on the node IP
    const exec = await cp!.kubectl([
      '-n',
      NS,
      'exec',
      'probe',
      '--',
      fs.realpathSync(process.execPath),
      '-e',
      'console.log(require("fs").readFileSync("/data/hello.txt","utf8").trim())',
    ]);
    expect(exec.stdout.trim()).to.equal('written-by-pod');
  });

  it('stop() deletes the pods (the driver deletes the mount pod), releases the FUSE mounts and leaves nothing behind', async () => {
    expect(node, 'node from the first test').to.not.equal(undefined);
    const t = Date.now();
    await node!.stop();
    log(`node stop: ${Date.now() - t} ms`);
    // kubelet unmounted the volume, the CSI driver deleted the mount pod once its last user was
    // gone, and its FUSE mount was released before anything was killed
    expect(node!.stopReport).to.include({ pods: 1, mountPodsByDriver: 1, mountPodsByHarness: 0, fuseReleased: true });
    expect(
      (await core.listNamespacedPod({ namespace: CSI_NAMESPACE, fieldSelector: 'spec.nodeName=real-0' })).items,
      'no mount pod object left',
    ).to.deep.equal([]);
    expect(await leftovers(node!)).to.deep.equal([]);
    expect((await core.listNode()).items.map((n) => n.metadata?.name)).to.not.include('real-0');
    node = undefined;
  });

  it('a crash (holder SIGKILLed) followed by cleanupStaleRealNodes() leaves nothing behind', async () => {
    crashNode = await RealNode.start({ cluster: cp!, bridge: bridge!, name: 'real-1', index: 1, log });
    await crashNode.importImage(probeTar);
    await crashNode.mountImageReady();
    await cp!.kubectl(['apply', '-f', '-'], { input: JSON.stringify(probePod('probe-crash', 'real-1')) });
    await waitFor(
      'probe-crash Running',
      async () => (await core.readNamespacedPod({ name: 'probe-crash', namespace: NS })).status?.phase === 'Running',
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(crashNode.mountinfo()).to.match(/fuse\.juicefs JuiceFS:rnvol/);
    process.kill(crashNode.holderPid, 'SIGKILL');
    await waitFor('holder gone', () => !pidAlive(crashNode!.holderPid), { timeoutMs: 10_000 });
    const before = await leftovers(crashNode);
    log(`after the crash, before cleanup: ${before.join('; ')}`);
    expect(before.join('\n')).to.match(/route|cgroups/);
    const removed = await cleanupStaleRealNodes({ log });
    expect(removed).to.include('node real-1');
    expect(await leftovers(crashNode)).to.deep.equal([]);
    // the API objects of a crashed node are the test's to remove (the mount pod keeps the driver's finalizer)
    expect(await releaseMountPods(core, 'real-1', log)).to.have.length(1);
    await core.deleteNamespacedPod({ name: 'probe-crash', namespace: NS, gracePeriodSeconds: 0 }).catch(() => undefined);
    await core.deleteNode({ name: 'real-1' }).catch(() => undefined);
    crashNode = undefined;
  });

  it('cleanupStaleRealNodes() removes what a crashed harness process left: its bridge, veths, routes, cgroups and state', async () => {
    // A dead owner's leftovers, made with the real kernel objects: a claim and a node state file
    // naming a pid that no longer exists, the bridge with a route through it, a veth, cgroups.
    const b = [...Array(16).keys()]
      .reverse()
      .find((i) => !fs.existsSync(`/sys/class/net/pdlrn${i}`) && !fs.existsSync(path.join(claimsDir(), `bridge-${i}.json`)))!;
    const dead = await deadPid();
    const crashedRun = path.join(runDir, 'crashed-run');
    const net = nodeNetwork(b, 0);
    const st: NodeState = {
      owner: dead,
      name: 'ghost',
      bridge: b,
      index: 0,
      holderPid: dead,
      initPid: dead,
      hostVeth: net.hostVeth,
      nodeIP: net.nodeIP,
      podCIDR: net.podCIDR,
      cgroupRoot: nodeCgroupRoot(b, 0),
      nodeDir: path.join(crashedRun, 'real-nodes', 'ghost'),
    };
    fs.mkdirSync(st.nodeDir, { recursive: true });
    fs.writeFileSync(nodeStateFile(st.nodeDir), JSON.stringify(st));
    fs.writeFileSync(path.join(claimsDir(), `bridge-${b}.json`), JSON.stringify({ owner: dead, runDir: crashedRun }));
    await run('ip', ['link', 'add', net.bridgeName, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${net.bridgeAddress}/24`, 'dev', net.bridgeName]);
    await run('ip', ['link', 'set', net.bridgeName, 'up']);
    await run('ip', ['link', 'add', net.hostVeth, 'type', 'veth', 'peer', 'name', `${REAL_NODE_PREFIX}${b}p0`]);
    await run('ip', ['link', 'set', net.hostVeth, 'master', net.bridgeName, 'up']);
    await run('ip', ['route', 'add', net.podCIDR, 'via', net.nodeIP, 'dev', net.bridgeName, 'onlink']);
    createCgroup(`${st.cgroupRoot}/kubepods/besteffort`);
    expect(cgroupDirs(st.cgroupRoot).length).to.be.greaterThan(0);

    const removed = await cleanupStaleRealNodes({ log });
    expect(removed).to.include.members(['node ghost', `bridge ${net.bridgeName}`]);
    expect(
      await leftovers({ holderPid: dead, initProcessPid: dead, namespaces: [], nodeDir: st.nodeDir, cgroupRoot: st.cgroupRoot, net }),
    ).to.deep.equal([]);
    for (const link of [net.bridgeName, net.hostVeth, `${REAL_NODE_PREFIX}${b}p0`])
      expect(fs.existsSync(`/sys/class/net/${link}`), link).to.equal(false);
    expect(fs.existsSync(path.join(claimsDir(), `bridge-${b}.json`))).to.equal(false);
    expect(fs.existsSync(nodeStateFile(st.nodeDir))).to.equal(false);
    // the live run's own bridge is untouched
    expect(fs.existsSync(`/sys/class/net/${bridge!.name}`)).to.equal(true);
  });
});

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  return pid;
}

function volumeObjects(cp: ControlPlane, gw: S3Gateway): object[] {
  const bridgeHostPort = gw.hostPort;
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rnvol', namespace: NS },
      stringData: {
        name: 'rnvol',
        metaurl: `${cp.etcdBindUrl.replace('http://', 'etcd://')}/rnvol`,
        storage: 'minio',
        bucket: `http://${bridgeHostPort}/rnbucket`,
        'access-key': gw.accessKey,
        'secret-key': gw.secretKey,
      },
    },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'rn-pv' },
      spec: {
        accessModes: ['ReadWriteMany'],
        capacity: { storage: '10Gi' },
        storageClassName: '',
        persistentVolumeReclaimPolicy: 'Retain',
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: NS, name: 'rn-pvc' },
        csi: {
          driver: JUICEFS_CSI_DRIVER,
          fsType: 'juicefs',
          volumeHandle: 'rn-pv',
          nodePublishSecretRef: { name: 'rnvol', namespace: NS },
          volumeAttributes: { mountOptions: 'cache-dir=/var/lib/jfs/cache,cache-size=100,attr-cache=0,entry-cache=0,dir-entry-cache=0' },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'rn-pvc', namespace: NS },
      spec: { accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: 'rn-pv', resources: { requests: { storage: '10Gi' } } },
    },
  ];
}

function probePod(name: string, nodeName: string): V1Pod {
  const nodeBin = fs.realpathSync(process.execPath);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': nodeName },
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'probe',
          image: PROBE_IMAGE,
          imagePullPolicy: 'Never',
          command: [nodeBin, '-e', PROBE_SCRIPT],
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'rn-pvc' } }],
    },
  };
}
