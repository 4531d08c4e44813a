// What the self-managed webhook certificate e2e tests share: the webhook configuration they
// create (never called by the API server), and a TLS server serving from a CertificateSource.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { CertificateSource } from '../../src/webhook/certificate-source.js';
import { waitFor } from '../harness/util.js';
import { OPERATOR_NAMESPACE } from './operator-context.js';

export const SECRET_NAME = 'paddle-operator-webhook-certs';
export const CONFIGURATION = 'paddle-operator-pod-cache-affinity';
export const SERVICE_NAME = 'paddle-operator-webhook';
export const SERVICE_DNS = `${SERVICE_NAME}.${OPERATOR_NAMESPACE}.svc`;

/** A TLS server on a CertificateSource; `swaps` counts the pairs the source handed it after the first. */
export interface Served {
  server: tls.Server;
  port: number;
  swaps: number;
}

/** A webhook configuration whose two webhooks the API server never calls (no namespace carries the label). */
export function configuration(): V1MutatingWebhookConfiguration {
  const webhook = (name: string) => ({
    name,
    clientConfig: { service: { name: SERVICE_NAME, namespace: OPERATOR_NAMESPACE, path: '/mutate-pods' } },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    namespaceSelector: { matchLabels: { 'paddlepaddle.org/webhook-certificates-e2e': 'never' } },
    failurePolicy: 'Ignore',
    sideEffects: 'None',
    timeoutSeconds: 2,
    admissionReviewVersions: ['v1'],
  });
  return { metadata: { name: CONFIGURATION }, webhooks: [webhook('pods.paddlepaddle.org'), webhook('second.paddlepaddle.org')] };
}

export const decode = (b?: string): string => (b ? Buffer.from(b, 'base64').toString('utf8') : '');

/** A TLS server that serves what `source` holds and swaps its context on every change, as the webhook's server does. */
export async function serveTls(name: string, source: CertificateSource): Promise<Served> {
  const first = await waitFor(`${name} to serve a certificate`, () => source.current(), { timeoutMs: 30_000, intervalMs: 50 });
  const server = tls.createServer(first, (socket) => socket.end());
  const served: Served = { server, port: 0, swaps: 0 };
  source.onChange((pair) => {
    server.setSecureContext(pair);
    served.swaps++;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  served.port = (server.address() as AddressInfo).port;
  return served;
}
