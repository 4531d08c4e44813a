import { expect } from 'chai';
import fs from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { LightKubeConfig, loadKubeConfig } from '../../../src/kube/kube-config.js';

/** What a request gets from credentials, without the agent (KubeApi pools its own). */
async function applied(creds: { applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }): Promise<Record<string, unknown>> {
  const opts: https.RequestOptions = { headers: {} };
  await creds.applyToHTTPSOptions(opts);
  const { agent: _agent, ...rest } = opts;
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

describe('LightKubeConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-config-test-'));
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'CA PEM');
    fs.writeFileSync(path.join(dir, 'client.crt'), 'CERT PEM');
    fs.writeFileSync(path.join(dir, 'client.key'), 'KEY PEM');
    fs.writeFileSync(path.join(dir, 'token'), 'file-token');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };

  // Every kubeconfig here is applied by both loaders: the requests must carry the same TLS
  // material, headers and basic auth as with client-node's KubeConfig.
  const cases: Record<string, string> = {
    'client certificate files (relative paths), CA file, current context picked': `
apiVersion: v1
kind: Config
current-context: b
clusters:
- name: c1
  cluster: { server: "https://10.0.0.1:6443/", certificate-authority: ca.crt }
- name: c2
  cluster: { server: "https://10.0.0.2:6443", certificate-authority: ca.crt, tls-server-name: api.internal }
users:
- name: u1
  user: { token: wrong }
- name: u2
  user: { client-certificate: client.crt, client-key: client.key, as: someone }
contexts:
- name: a
  context: { cluster: c1, user: u1 }
- name: b
  context: { cluster: c2, user: u2 }
`,
    'embedded data, bearer token, insecure': `
clusters:
- name: c
  cluster: { server: "https://k:443", certificate-authority-data: "${Buffer.from('CA DATA').toString('base64')}", insecure-skip-tls-verify: true }
users:
- name: u
  user: { client-certificate-data: "${Buffer.from('CERT DATA').toString('base64')}", client-key-data: "${Buffer.from('KEY DATA').toString('base64')}", token: abc }
contexts:
- name: x
  context: { cluster: c, user: u }
current-context: x
`,
    'token file and basic auth': `
clusters:
- name: c
  cluster: { server: "https://k" }
users:
- name: u
  user: { token-file: TOKEN, username: admin, password: secret }
contexts:
- name: x
  context: { cluster: c, user: u }
current-context: x
`,
    'a context without a user': `
clusters:
- name: c
  cluster: { server: "https://k", certificate-authority: ca.crt }
contexts:
- name: x
  context: { cluster: c }
current-context: x
`,
  };
  for (const [what, text] of Object.entries(cases)) {
    it(`applies credentials as client-node does: ${what}`, async () => {
      const file = write('config', text.replace('TOKEN', path.join(dir, 'token')));
      const full = new KubeConfig();
      full.loadFromFile(file);
      const light = LightKubeConfig.fromFile(file);
      expect(light.getCurrentCluster()).to.deep.equal(full.getCurrentCluster());
      expect(light.needsClientNode).to.equal(false);
      expect(await applied(light)).to.deep.equal(await applied(full));
    });
  }

  it('merges several files as client-node merges $KUBECONFIG (a later current-context wins)', async () => {
    const a = write('a', cases['embedded data, bearer token, insecure']);
    const b = write(
      'b',
      `
clusters: [{ name: c2, cluster: { server: "https://other" } }]
users: [{ name: u2, user: { token: second } }]
contexts: [{ name: y, context: { cluster: c2, user: u2 } }]
current-context: y
`,
    );
    const light = LightKubeConfig.fromFiles([a, b]);
    expect(light.getCurrentCluster()?.server).to.equal('https://other');
    expect((await applied(light)).headers).to.deep.equal({ Authorization: 'Bearer second' });
    expect(() => LightKubeConfig.fromFiles([a, a])).to.throw(/Duplicate cluster: c/);
  });

  it('in a pod: the ServiceAccount token (re-read after 60 s) and CA', async () => {
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      let now = 1_000_000;
      const light = LightKubeConfig.inCluster(dir, () => now);
      expect(light.getCurrentCluster()?.server).to.equal('https://[fd00::1]:443');
      expect(await applied(light)).to.deep.equal({
        headers: { Authorization: 'Bearer file-token' },
        ca: { type: 'Buffer', data: [...Buffer.from('CA PEM')] },
      });
      fs.writeFileSync(path.join(dir, 'token'), 'rotated');
      now += 59_000;
      expect((await applied(light)).headers).to.deep.equal({ Authorization: 'Bearer file-token' });
      now += 2_000;
      expect((await applied(light)).headers).to.deep.equal({ Authorization: 'Bearer rotated' });
    } finally {
      for (const [k, v] of [
        ['KUBERNETES_SERVICE_HOST', saved.host],
        ['KUBERNETES_SERVICE_PORT', saved.port],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('hands exec plugins (and other providers) to client-node, loaded only then', async () => {
    const plugin = write(
      'plugin.js',
      `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-plugin' } }));`,
    );
    const file = write(
      'config',
      `
clusters: [{ name: c, cluster: { server: "https://k" } }]
users: [{ name: u, user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: "${process.execPath}", args: ["${plugin}"], interactiveMode: Never } } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
    );
    const light = LightKubeConfig.fromFile(file);
    expect(light.needsClientNode).to.equal(true);
    expect((await applied(light)).headers).to.deep.equal({ Authorization: 'Bearer from-plugin' });
  });

  it('refuses plain HTTP unless insecure-skip-tls-verify is set, like client-node', async () => {
    const file = write(
      'config',
      `
clusters: [{ name: c, cluster: { server: "http://127.0.0.1:8080" } }]
users: [{ name: u, user: {} }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
    );
    await applied(loadKubeConfig(file)).then(
      () => expect.fail('accepted plain HTTP'),
      (e: unknown) => expect((e as Error).message).to.match(/HTTP protocol is not allowed/),
    );
  });
});
