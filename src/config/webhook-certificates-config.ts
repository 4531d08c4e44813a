/**
 * Flags of the webhook's serving certificate: where it comes from (`self-managed`: the operator
 * keeps a CA and a serving certificate in a Secret and the CA bundle in its webhook
 * configuration; `directory`: files someone else writes, e.g. a mounted cert-manager Secret),
 * and for self-managed certificates the names and lifetimes to use.
 */
import { isIP } from 'node:net';
import type { SelfManagedSettings } from '../webhook/certificates/settings.js';

export type WebhookCertificatesMode = 'self-managed' | 'directory';

/** The mode, and what a self-managed certificate looks like (read also in directory mode, unused there). */
export interface WebhookCertificatesConfig extends SelfManagedSettings {
  mode: WebhookCertificatesMode;
}

export const WEBHOOK_CERTIFICATES_OPTIONS = {
  'webhook-certs': { type: 'string' },
  'webhook-namespace': { type: 'string' },
  'webhook-secret-name': { type: 'string' },
  'webhook-service-name': { type: 'string' },
  'webhook-configuration-name': { type: 'string' },
  'webhook-extra-sans': { type: 'string' },
  'webhook-cert-validity': { type: 'string' },
  'webhook-ca-validity': { type: 'string' },
} as const;

export const WEBHOOK_CERTIFICATES_HELP = `  --webhook-certs MODE               self-managed: the operator keeps a CA and serving certificate in a
                                    Secret and the CA bundle in its webhook configuration; directory:
                                    read them from --webhook-cert-dir (cert-manager) [WEBHOOK_CERTS]
                                    (self-managed)
  --webhook-namespace NS            namespace of the webhook Service and Secret [POD_NAMESPACE]
                                    (paddle-system)
  --webhook-secret-name NAME        Secret of the self-managed certificates (paddle-operator-webhook-certs)
  --webhook-service-name NAME       Service the API server calls the webhook by (paddle-operator-webhook)
  --webhook-configuration-name NAME MutatingWebhookConfiguration that gets the CA bundle
                                    (paddle-operator-pod-cache-affinity)
  --webhook-extra-sans LIST         more DNS names / IPs for the serving certificate, comma-separated
  --webhook-cert-validity DURATION  lifetime of a serving certificate, renewed after 2/3 (8760h)
  --webhook-ca-validity DURATION    lifetime of a CA, replaced after 2/3 (87600h)`;

const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "15m", "8760h", "1h30m", "365d" → milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const parts = [...v.matchAll(/(\d+)([smhd])/g)];
  if (!v || parts.map((p) => p[0]).join('') !== v)
    throw new Error(`--${flag} must be a duration such as 90s, 15m, 8760h or 1h30m, got "${v}"`);
  return parts.reduce((ms, p) => ms + Number(p[1]) * UNITS[p[2]], 0);
}

type Values = Partial<Record<keyof typeof WEBHOOK_CERTIFICATES_OPTIONS, string>>;

/** Reads and checks the webhook certificate flags; throws an Error naming the flag. */
export function webhookCertificatesConfig(values: Values, env: NodeJS.ProcessEnv): WebhookCertificatesConfig {
  const mode = values['webhook-certs'] ?? env.WEBHOOK_CERTS ?? 'self-managed';
  if (mode !== 'self-managed' && mode !== 'directory') throw new Error(`--webhook-certs must be self-managed or directory, got "${mode}"`);
  const names = {
    namespace: values['webhook-namespace'] ?? env.POD_NAMESPACE ?? 'paddle-system',
    secretName: values['webhook-secret-name'] ?? 'paddle-operator-webhook-certs',
    serviceName: values['webhook-service-name'] ?? 'paddle-operator-webhook',
    configurationName: values['webhook-configuration-name'] ?? 'paddle-operator-pod-cache-affinity',
  };
  for (const [key, flag] of [
    ['namespace', 'webhook-namespace'],
    ['secretName', 'webhook-secret-name'],
    ['serviceName', 'webhook-service-name'],
    ['configurationName', 'webhook-configuration-name'],
  ] as const) {
    const name = names[key];
    if (name.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
      throw new Error(`--${flag} must be a DNS label (lowercase letters, digits and '-', at most 63), got "${name}"`);
  }
  const extraSans = (values['webhook-extra-sans'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const san of extraSans)
    if (!isIP(san) && (san.length > 253 || !DNS_NAME.test(san)))
      throw new Error(`--webhook-extra-sans: "${san}" is neither an IP address nor a DNS name`);
  const servingValidityMs = parseDuration('webhook-cert-validity', values['webhook-cert-validity'] ?? '8760h');
  const caValidityMs = parseDuration('webhook-ca-validity', values['webhook-ca-validity'] ?? '87600h');
  if (servingValidityMs < 10_000) throw new Error('--webhook-cert-validity must be at least 10s');
  if (caValidityMs < 2 * servingValidityMs) throw new Error('--webhook-ca-validity must be at least twice --webhook-cert-validity');
  return { mode, ...names, extraSans, servingValidityMs, caValidityMs };
}
