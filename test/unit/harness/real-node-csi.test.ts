import { expect } from 'chai';
import YAML from 'yaml';
import {
  CSI_NAMESPACE,
  CSI_SERVICE_ACCOUNT,
  csiByProcessArgs,
  csiDriverConfigYaml,
  csiNodeArgs,
  csiNodeEnv,
  csiNodePodName,
  csiNodePodObject,
  csiNodeRbacObjects,
  csiRootScript,
  JUICEFS_CONFIG_PATH,
  JUICEFS_MOUNT_PATH,
  mountImageRef,
} from '../../harness/real-node-csi.js';
import { mountImageLayer } from '../../harness/real-node-mount-image.js';

describe('real-node-csi: the JuiceFS CSI node plugin in mount-pod mode', () => {
  it('names a Pod the driver accepts as a csi-node pod, in kube-system', () => {
    expect(csiNodePodName('real-0')).to.equal('juicefs-csi-node-real-0').and.to.include('csi-node');
    const pod = csiNodePodObject('real-0') as {
      metadata: { name: string; namespace: string };
      spec: Record<string, unknown> & { volumes: Array<{ name: string; hostPath: { path: string } }> };
    };
    expect(pod.metadata).to.include({ name: 'juicefs-csi-node-real-0', namespace: CSI_NAMESPACE });
    // never scheduled (no scheduler of that name), never bound: nothing runs it
    expect(pod.spec.schedulerName).to.match(/never/);
    expect(pod.spec.nodeName).to.equal(undefined);
    expect(pod.spec.serviceAccountName).to.equal(CSI_SERVICE_ACCOUNT);
    // the driver checks publish targets against its kubelet-dir volume
    expect(pod.spec.volumes).to.deep.include({ name: 'kubelet-dir', hostPath: { path: '/var/lib/kubelet', type: 'Directory' } });
  });

  it('binds the service account to a ClusterRole that lets the driver manage mount pods and their secrets', () => {
    const [sa, role, binding] = csiNodeRbacObjects() as Array<{
      kind: string;
      metadata: { name: string; namespace?: string };
      rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
      roleRef?: { name: string };
      subjects?: unknown[];
    }>;
    expect(sa.kind).to.equal('ServiceAccount');
    expect(sa.metadata).to.deep.equal({ name: CSI_SERVICE_ACCOUNT, namespace: CSI_NAMESPACE });
    const can = (resource: string, verb: string): boolean =>
      role.rules!.some(
        (r) => r.apiGroups.includes('') && r.resources.includes(resource) && (r.verbs.includes(verb) || r.verbs.includes('*')),
      );
    for (const [res, verb] of [
      ['pods', 'create'],
      ['pods', 'delete'],
      ['pods', 'watch'],
      ['pods', 'patch'],
      ['secrets', 'create'],
      ['persistentvolumes', 'get'],
      ['nodes', 'get'],
    ])
      expect(can(res, verb), `${verb} ${res}`).to.equal(true);
    expect(binding.roleRef!.name).to.equal(role.metadata.name);
    expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: CSI_SERVICE_ACCOUNT, namespace: CSI_NAMESPACE }]);
  });

  it('gives the driver the DaemonSet environment, in-cluster apiserver and mount image, and no kubelet polling', () => {
    const env = csiNodeEnv({
      node: 'real-0',
      nodeIP: '10.201.0.2',
      mountImage: 'docker.io/library/m:1',
      apiHost: '10.201.0.1',
      apiPort: 6443,
    });
    expect(env).to.include({
      NODE_NAME: 'real-0',
      POD_NAME: 'juicefs-csi-node-real-0',
      POD_NAMESPACE: 'kube-system',
      JUICEFS_MOUNT_NAMESPACE: 'kube-system',
      JUICEFS_MOUNT_PATH,
      JUICEFS_CONFIG_PATH,
      JUICEFS_CE_MOUNT_IMAGE: 'docker.io/library/m:1',
      KUBERNETES_SERVICE_HOST: '10.201.0.1',
      KUBERNETES_SERVICE_PORT: '6443',
    });
    expect(env).to.not.have.any.keys('HOST_IP', 'KUBELET_PORT');
    expect(csiNodeArgs('real-0', '/config.yaml'))
      .to.include.members(['--enable-manager=true', '--config=/config.yaml', '--nodeid'])
      .and.to.not.include('--by-process=true');
    expect(csiByProcessArgs('real-0')).to.include('--by-process=true');
  });

  it("configures small mount pods and otherwise the driver's defaults (volumeHandle as the mount pod hostname)", () => {
    expect(YAML.parse(csiDriverConfigYaml())).to.deep.equal({
      mountPodPatch: [{ resources: { requests: { cpu: '100m', memory: '128Mi' } } }],
    });
  });

  it('makes the node shared inside its namespace and gives the driver a root where /jfs is the mount path', () => {
    const lines = csiRootScript(
      '/n/csi-root',
      [{ name: 'bin', symlink: 'usr/bin' }, { name: 'usr' }, { name: 'var' }, { name: 'home' }, { name: 'proc' }],
      ['/root/.cache/bin'],
    );
    expect(lines.indexOf('mount --make-rshared /'))
      .to.be.greaterThan(-1)
      .and.lessThan(lines.findIndex((l) => l.startsWith('mount -t tmpfs')));
    expect(lines).to.include.members([
      "ln -s 'usr/bin' '/n/csi-root/bin'",
      "mount --rbind /usr '/n/csi-root/usr'",
      "mount --rbind /var '/n/csi-root/var'",
      "mount --rbind /proc '/n/csi-root/proc'",
      `mount --bind '${JUICEFS_MOUNT_PATH}' '/n/csi-root/jfs'`,
      "mount --bind '/run/juicefs-csi' '/n/csi-root/tmp'",
      `mount --bind '${JUICEFS_CONFIG_PATH}' '/n/csi-root/root/.juicefs'`,
      "mount --bind '/root/.cache/bin' '/n/csi-root/root/.cache/bin'",
    ]);
    // the host's other directories are not the driver's
    expect(lines.join('\n')).to.not.include('home');
  });

  it('derives the mount image: the project image with /bin/mount.juicefs, run as root', () => {
    expect(mountImageRef('docker.io/library/paddle-operator:abc123')).to.equal('docker.io/library/paddle-juicefs-mount:abc123');
    expect(mountImageLayer('docker.io/library/paddle-operator:abc123')).to.deep.equal({
      name: 'docker.io/library/paddle-juicefs-mount:abc123',
      files: [{ path: 'usr/bin/mount.juicefs', symlink: '/usr/local/bin/juicefs' }],
      user: '0',
    });
  });
});
