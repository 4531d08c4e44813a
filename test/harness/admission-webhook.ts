// The operator's pod admission webhook registered on a local control plane: the very
// MutatingWebhookConfiguration kustomize/default installs (selectors, failurePolicy, timeout,
// reinvocation), renamed and pointed at a webhook running as a local process
// (`clientConfig.url: https://127.0.0.1:<port>/mutate-pods`) with the CA that signed its certificate.
//
//   await registerPodWebhook(cp, { name: 'pod-cache-affinity-e2e', url, caCert });
//   ...
//   await unregisterPodWebhook(cp, 'pod-cache-affinity-e2e');
import YAML from 'yaml';
import type { ControlPlane } from './control-plane.js';

/** The name kustomize/default gives its configuration. */
export const INSTALLED_WEBHOOK_CONFIGURATION = 'paddle-operator-pod-cache-affinity';

interface WebhookConfiguration {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  webhooks: Array<{ clientConfig: Record<string, unknown> }>;
}

/** The installed configuration as `kubectl kustomize kustomize/default` renders it. */
export async function installedWebhookConfiguration(cp: ControlPlane): Promise<WebhookConfiguration> {
  const rendered = (await cp.kubectl(['kustomize', 'kustomize/default'])).stdout;
  const mwc = YAML.parseAllDocuments(rendered)
    .map((d) => d.toJS() as WebhookConfiguration)
    .find((d) => d.kind === 'MutatingWebhookConfiguration' && d.metadata.name === INSTALLED_WEBHOOK_CONFIGURATION);
  if (!mwc) throw new Error(`kustomize/default renders no MutatingWebhookConfiguration ${INSTALLED_WEBHOOK_CONFIGURATION}`);
  return mwc;
}

/** Applies the installed configuration as `name`, calling `url` and trusting the PEM `caCert`. */
export async function registerPodWebhook(cp: ControlPlane, opts: { name: string; url: string; caCert: string }): Promise<void> {
  const mwc = await installedWebhookConfiguration(cp);
  mwc.metadata.name = opts.name;
  for (const w of mwc.webhooks) w.clientConfig = { url: opts.url, caBundle: Buffer.from(opts.caCert).toString('base64') };
  await cp.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=paddle-test-harness', '-f', '-'], {
    input: JSON.stringify(mwc),
  });
}

export async function unregisterPodWebhook(cp: ControlPlane, name: string): Promise<void> {
  await cp.kubectl(['delete', 'mutatingwebhookconfiguration', name, '--ignore-not-found'], { allowFail: true });
}
