/**
 * kustomize/components/webhook-cert-manager, rendered as a platform engineer would use it (an
 * overlay of kustomize/default with the component) by the toolchain's kubectl. cert-manager is
 * not installed here, so nothing is issued; what is checked is that the rendered objects agree
 * with each other — names, namespaces, the Secret the manager mounts and the directory it reads,
 * the DNS names of the Service the webhook configuration calls, the cainjector annotation — and
 * that the API server accepts the patched Deployment and webhook configuration (server dry-run).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import type { KubernetesObject, V1Deployment, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { repoRoot } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { OPERATOR_NAMESPACE } from './operator-context.js';
import { CONFIGURATION, SERVICE_NAME } from './webhook-certificate-fixtures.js';

const COMPONENT = path.join(repoRoot(), 'kustomize', 'components', 'webhook-cert-manager');

interface CertificateSpec {
  secretName: string;
  isCA?: boolean;
  dnsNames?: string[];
  issuerRef: { kind: string; name: string };
}
type Rendered = KubernetesObject & { spec?: unknown };

/**
 * Stand-ins for the webhook's Service and MutatingWebhookConfiguration, for as long as
 * kustomize/default does not render them itself (kustomize/webhook); the same names it uses.
 */
const STAND_INS = `apiVersion: v1
kind: Service
metadata: { name: ${SERVICE_NAME}, namespace: ${OPERATOR_NAMESPACE} }
spec:
  selector: { app.kubernetes.io/name: paddle-operator }
  ports: [{ name: webhook, port: 443, targetPort: 9443 }]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: { name: ${CONFIGURATION} }
webhooks:
  - name: pods.paddlepaddle.org
    clientConfig: { service: { name: ${SERVICE_NAME}, namespace: ${OPERATOR_NAMESPACE}, path: /mutate-pods } }
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Ignore
`;

async function render(dir: string): Promise<Rendered[]> {
  const out = await testCluster().kubectl(['kustomize', dir]);
  return YAML.parseAllDocuments(out.stdout).map((d) => d.toJS() as Rendered);
}

describe('kustomize component webhook-cert-manager (rendered with kubectl kustomize)', function () {
  this.timeout(60_000);
  let dir: string;
  let objects: Rendered[];
  const one = <T extends Rendered>(kind: string, name?: string): T => {
    const found = objects.filter((o) => o.kind === kind && (!name || o.metadata?.name === name));
    expect(found, `${kind} ${name ?? ''}`).to.have.length(1);
    return found[0] as T;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(repoRoot(), '.cache', 'overlay-cert-manager-'));
    const base = path.relative(dir, path.join(repoRoot(), 'kustomize', 'default'));
    const needStandIns = !(await render(path.join(repoRoot(), 'kustomize', 'default'))).some(
      (o) => o.kind === 'MutatingWebhookConfiguration' && o.metadata?.name === CONFIGURATION,
    );
    if (needStandIns) fs.writeFileSync(path.join(dir, 'webhook-stand-ins.yaml'), STAND_INS);
    fs.writeFileSync(
      path.join(dir, 'kustomization.yaml'),
      YAML.stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [base, ...(needStandIns ? ['webhook-stand-ins.yaml'] : [])],
        components: [path.relative(dir, COMPONENT)],
      }),
    );
    objects = await render(dir);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the manager reads the serving certificate cert-manager writes, from the Secret it mounts', () => {
    const deployment = one<V1Deployment>('Deployment', 'paddle-operator');
    const manager = deployment.spec!.template.spec!.containers.find((c) => c.name === 'manager')!;
    const args = manager.args ?? [];
    expect(args).to.include('--webhook-certs=directory');
    const certDir = args.find((a) => a.startsWith('--webhook-cert-dir='))?.split('=')[1];
    expect(certDir).to.equal('/tmp/k8s-webhook-server/serving-certs');
    const mount = manager.volumeMounts?.find((m) => m.mountPath === certDir);
    expect(mount?.readOnly).to.equal(true);
    const volume = deployment.spec!.template.spec!.volumes?.find((v) => v.name === mount?.name);
    const serving = objects.find((o) => o.kind === 'Certificate' && !(o.spec as CertificateSpec).isCA)!;
    expect(volume?.secret?.secretName).to.equal((serving.spec as CertificateSpec).secretName);
    expect(
      manager.volumeMounts?.find((m) => m.mountPath === '/tmp'),
      'the writable /tmp stays',
    ).to.not.equal(undefined);
  });

  it('the serving certificate names the Service the webhook configuration calls, and chains to a CA issued by a self-signed Issuer', () => {
    const deployment = one<V1Deployment>('Deployment', 'paddle-operator');
    const ns = deployment.metadata!.namespace;
    const certificates = objects.filter((o) => o.kind === 'Certificate');
    const issuers = objects.filter((o) => o.kind === 'Issuer');
    for (const o of [...certificates, ...issuers]) expect(o.metadata?.namespace, o.metadata?.name).to.equal(ns);
    const issuer = (ref: { kind: string; name: string }) => {
      expect(ref.kind).to.equal('Issuer');
      return issuers.find((i) => i.metadata?.name === ref.name)! as Rendered & {
        spec: { selfSigned?: object; ca?: { secretName: string } };
      };
    };
    const serving = certificates.find((c) => !(c.spec as CertificateSpec).isCA)!;
    const ca = certificates.find((c) => (c.spec as CertificateSpec).isCA)!;
    expect(issuer((serving.spec as CertificateSpec).issuerRef).spec.ca?.secretName).to.equal((ca.spec as CertificateSpec).secretName);
    expect(issuer((ca.spec as CertificateSpec).issuerRef).spec.selfSigned).to.deep.equal({});

    const configuration = one<V1MutatingWebhookConfiguration>('MutatingWebhookConfiguration', CONFIGURATION);
    expect(configuration.webhooks?.length).to.be.greaterThan(0);
    for (const w of configuration.webhooks ?? []) {
      const svc = w.clientConfig.service!;
      expect(svc.namespace).to.equal(ns);
      expect((serving.spec as CertificateSpec).dnsNames).to.include(`${svc.name}.${svc.namespace}.svc`);
      expect(w.clientConfig.caBundle, 'cainjector fills it').to.equal(undefined);
      one('Service', svc.name);
    }
    expect(configuration.metadata?.annotations?.['cert-manager.io/inject-ca-from']).to.equal(`${ns}/${serving.metadata!.name}`);
  });

  it('the API server accepts the patched Deployment and webhook configuration (server-side dry run)', async () => {
    const cp = testCluster();
    await cp.ensureNamespace(OPERATOR_NAMESPACE);
    const accepted = objects.filter((o) => ['Deployment', 'MutatingWebhookConfiguration', 'Service'].includes(o.kind!));
    const res = await cp.kubectl(['apply', '--dry-run=server', '--server-side', '--field-manager=cert-manager-render-test', '-f', '-'], {
      input: accepted.map((o) => YAML.stringify(o)).join('---\n'),
    });
    expect(res.stdout).to.match(/deployment\.apps\/paddle-operator serverside-applied \(server dry run\)/);
    expect(res.stdout).to.match(
      /mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/paddle-operator-pod-cache-affinity serverside-applied/,
    );
  });
});
