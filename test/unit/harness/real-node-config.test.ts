import { expect } from 'chai';
import YAML from 'yaml';
import {
  bridgeAddress,
  clientKubeconfigYaml,
  cniConflist,
  containerdConfigToml,
  fuseMountPoints,
  juicefsCsiDriverObject,
  kubeletConfigYaml,
  kubeProxyConfigYaml,
  nodeCgroupRoot,
  nodeConfigFiles,
  nodeNetwork,
  REAL_NODE_PREFIX,
  SANDBOX_IMAGE,
} from '../../harness/real-node-config.js';

describe('real-node-config: address plan', () => {
  it('gives node i of bridge b a veth, an IP on the bridge subnet and its own pod /24', () => {
    expect(nodeNetwork(0, 0)).to.deep.equal({
      bridgeName: 'pdlrn0',
      bridgeAddress: '10.201.0.1',
      bridgePrefix: 24,
      hostVeth: 'pdlrn0v0',
      nodeIP: '10.201.0.2',
      podCIDR: '10.244.0.0/24',
      podGateway: '10.244.0.1',
    });
    expect(nodeNetwork(3, 15)).to.include({ hostVeth: 'pdlrn3v15', nodeIP: '10.201.3.17', podCIDR: '10.244.63.0/24' });
  });

  it('keeps pod CIDRs distinct across bridges and nodes, and interface names within 15 characters', () => {
    const seen = new Set<string>();
    for (let b = 0; b < 16; b++) {
      for (let i = 0; i < 16; i++) {
        const n = nodeNetwork(b, i);
        expect(seen.has(n.podCIDR)).to.equal(false);
        seen.add(n.podCIDR);
        expect(n.hostVeth.length).to.be.at.most(15);
        expect(n.hostVeth.startsWith(REAL_NODE_PREFIX)).to.equal(true);
      }
    }
  });

  it('stays apart from the KWOK pod range and the service range', () => {
    expect(bridgeAddress(5)).to.equal('10.201.5.1');
    expect(nodeNetwork(1, 1).podCIDR).to.not.match(/^(127\.|10\.96\.)/);
  });

  it('rejects indexes outside the plan', () => {
    expect(() => nodeNetwork(16, 0)).to.throw(/bridge index 16/);
    expect(() => nodeNetwork(0, -1)).to.throw(/node index -1/);
  });

  it('names the cgroup root with the prefix, unique per bridge and node', () => {
    expect(nodeCgroupRoot(2, 3)).to.equal('/pdlrn2n3');
  });
});

describe('real-node-config: files', () => {
  it('containerd: cgroupfs runc, restricted OOM scores, CNI dirs, pinned sandbox image', () => {
    const toml = containerdConfigToml({
      root: '/r',
      state: '/run/containerd/state',
      socket: '/run/containerd/containerd.sock',
      runcPath: '/b/runc',
      cniBinDir: '/b/cni',
      cniConfDir: '/c',
    });
    expect(toml).to.match(/^version = 3$/m);
    expect(toml).to.include('root = "/r"');
    expect(toml).to.include('address = "/run/containerd/containerd.sock"');
    expect(toml).to.match(/restrict_oom_score_adj = true/);
    expect(toml).to.match(/SystemdCgroup = false/);
    expect(toml).to.include('BinaryName = "/b/runc"');
    expect(toml).to.include('bin_dirs = ["/b/cni"]');
    expect(toml).to.include(`sandbox = "${SANDBOX_IMAGE}"`);
  });

  it('CNI: a gateway bridge without masquerade, host-local IPAM in the node directory', () => {
    const conf = JSON.parse(cniConflist(nodeNetwork(0, 1), '/n/ipam')) as { plugins: Array<Record<string, unknown>> };
    const bridge = conf.plugins[0] as {
      type: string;
      isGateway: boolean;
      ipMasq: boolean;
      ipam: { dataDir: string; ranges: Array<Array<{ subnet: string; gateway: string }>> };
    };
    expect(bridge).to.include({ type: 'bridge', isGateway: true, ipMasq: false });
    expect(bridge.ipam.dataDir).to.equal('/n/ipam');
    expect(bridge.ipam.ranges).to.deep.equal([[{ subnet: '10.244.1.0/24', gateway: '10.244.1.1' }]]);
    expect(conf.plugins[1]).to.include({ type: 'portmap' });
  });

  it('kubelet: what a namespace on this machine needs', () => {
    const cfg = YAML.parse(
      kubeletConfigYaml({
        nodeIP: '10.201.0.2',
        caFile: '/ca.crt',
        podLogsDir: '/logs',
        cgroupRoot: '/pdlrn0n0',
        volumePluginDir: '/vp',
        healthzPort: 10248,
        resolvConf: '/r',
      }),
    ) as Record<string, unknown>;
    expect(cfg).to.include({
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      cgroupRoot: '/pdlrn0n0',
      failCgroupV1: false,
      failSwapOn: false,
      oomScoreAdj: 0,
      address: '10.201.0.2',
      readOnlyPort: 0,
      containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    });
    expect(cfg.authentication).to.deep.equal({
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: '/ca.crt' },
    });
    expect(cfg.authorization).to.deep.equal({ mode: 'Webhook' });
  });

  it('kube-proxy: nftables, conntrack left alone', () => {
    const cfg = YAML.parse(
      kubeProxyConfigYaml({ kubeconfig: '/k', hostname: 'n', clusterCIDR: '10.244.0.0/24', healthzPort: 1, metricsPort: 2 }),
    ) as Record<string, unknown>;
    expect(cfg).to.include({
      kind: 'KubeProxyConfiguration',
      mode: 'nftables',
      hostnameOverride: 'n',
      clusterCIDR: '10.244.0.0/24',
      metricsBindAddress: '127.0.0.1:2',
    });
    expect(cfg.conntrack).to.deep.equal({ maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' });
  });

  it('kubeconfig: one cluster, one certificate user', () => {
    const cfg = YAML.parse(
      clientKubeconfigYaml({ server: 'https://10.201.0.1:6443', caFile: '/ca', certFile: '/c', keyFile: '/k', user: 'system:node:n' }),
    ) as {
      clusters: Array<{ cluster: Record<string, string> }>;
      users: Array<{ name: string; user: Record<string, string> }>;
      'current-context': string;
    };
    expect(cfg.clusters[0].cluster).to.deep.equal({ server: 'https://10.201.0.1:6443', 'certificate-authority': '/ca' });
    expect(cfg.users[0]).to.deep.equal({ name: 'system:node:n', user: { 'client-certificate': '/c', 'client-key': '/k' } });
    expect(cfg['current-context']).to.equal('default');
  });

  it('CSIDriver: no attach, pod info on mount', () => {
    expect(juicefsCsiDriverObject()).to.deep.include({
      metadata: { name: 'csi.juicefs.com' },
      spec: { attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: ['Persistent'] },
    });
  });
});

describe('real-node-config: nodeConfigFiles', () => {
  it('writes every file of a node, pointing at each other consistently', () => {
    const files = nodeConfigFiles({
      nodeDir: '/run/x/real-nodes/n0',
      name: 'n0',
      net: nodeNetwork(0, 0),
      binDir: '/bin/node',
      server: 'https://10.201.0.1:6443',
      caFile: '/pki/ca.crt',
      cgroupRoot: '/pdlrn0n0',
      kubeletCert: { cert: '/p/kubelet.crt', key: '/p/kubelet.key' },
      proxyCert: { cert: '/p/kp.crt', key: '/p/kp.key' },
    });
    expect(Object.keys(files).sort()).to.deep.equal([
      'cni/net.d/10-paddle-bridge.conflist',
      'containerd/config.toml',
      'kube-proxy.kubeconfig',
      'kube-proxy.yaml',
      'kubelet.kubeconfig',
      'kubelet.yaml',
      'resolv.conf',
    ]);
    expect(files['containerd/config.toml']).to.include('conf_dir = "/run/x/real-nodes/n0/cni/net.d"');
    expect(YAML.parse(files['kubelet.yaml'])).to.include({
      resolvConf: '/run/x/real-nodes/n0/resolv.conf',
      cgroupRoot: '/pdlrn0n0',
      address: '10.201.0.2',
    });
    expect(YAML.parse(files['kube-proxy.yaml'])).to.deep.include({
      clientConnection: { kubeconfig: '/run/x/real-nodes/n0/kube-proxy.kubeconfig' },
    });
    expect(files['kubelet.kubeconfig']).to.include('system:node:n0');
    expect(files['kube-proxy.kubeconfig']).to.include('system:kube-proxy');
  });
});

describe('real-node-config: fuseMountPoints', () => {
  it('lists fuse mounts (decoding escapes) and nothing else', () => {
    const info = [
      '22 1 0:21 / / rw - ext4 /dev/vda rw',
      '76 53 0:43 / /var/lib/jfs/pv rw,relatime - fuse.juicefs JuiceFS:v rw,user_id=0',
      '77 53 0:44 / /mnt/with\\040space rw - fuse /dev/fuse rw',
      '78 53 0:45 / /proc rw - proc proc rw',
      '',
    ].join('\n');
    expect(fuseMountPoints(info)).to.deep.equal(['/var/lib/jfs/pv', '/mnt/with space']);
  });
});
