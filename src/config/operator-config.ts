import { parseArgs } from 'node:util';
import { checkCacheRoots, DEFAULT_CACHE_ROOTS } from '../engines/toolkit/cache-roots.js';
import type { LogFormat } from '../observability/logger.js';
import {
  WEBHOOK_CERTIFICATES_HELP,
  WEBHOOK_CERTIFICATES_OPTIONS,
  webhookCertificatesConfig,
  type WebhookCertificatesConfig,
} from './webhook-certificates-config.js';

/** Everything the paddle-operator process can be told, from flags and environment. */
export interface OperatorConfig {
  /** Path of a kubeconfig; empty = $KUBECONFIG, ~/.kube/config, or in-cluster credentials. */
  kubeconfig: string;
  /** Namespace to watch; '' = all namespaces. */
  namespace: string;
  /** Parallel reconciles per operator. */
  concurrency: number;
  metricsAddress: string;
  probeAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  logLevel: string;
  logFormat: LogFormat;
  /** Image of the runtime pods (this operator's own image). */
  runtimeImage: string;
  /** Host ports handed to PaddleJobs in Host intranet mode. */
  hostPortRange: [number, number];
  /** Which operators run (all by default). */
  operators: Array<'sampleset' | 'samplejob' | 'paddlejob'>;
  /** Seconds a SIGTERM waits for in-flight reconciles. */
  shutdownTimeoutSeconds: number;
  /** Host directories SampleSet cache tiers may live under (each SampleSet gets its own subdirectory). */
  cacheRoots: string[];
  /** Where the pod admission webhook listens (HTTPS); '0' disables it. */
  webhookAddress: string;
  /** Directory with the webhook's tls.crt and tls.key, read again when they change; '' = none. */
  webhookCertDir: string;
  /** The webhook's serving certificate: where it comes from, and what a self-managed one looks like. */
  webhookCertificates: WebhookCertificatesConfig;
}

export const CONFIG_HELP = `paddle-operator — runs the SampleSet, SampleJob and PaddleJob operators.

Flags (each also read from the environment variable in brackets):
  --kubeconfig PATH                 kubeconfig file [KUBECONFIG]; default: in-cluster credentials
  --namespace NS                    watch only this namespace [WATCH_NAMESPACE]; default: all
  --concurrency N                   parallel reconciles per operator [CONCURRENCY] (4)
  --metrics-bind-address ADDR       Prometheus /metrics [METRICS_BIND_ADDRESS] (:8080; 0 disables)
  --health-probe-bind-address ADDR  /healthz and /readyz [HEALTH_PROBE_BIND_ADDRESS] (:8081; 0 disables)
  --leader-elect[=BOOL]             hold a Lease before reconciling [LEADER_ELECT] (false)
  --leader-election-namespace NS    namespace of the Lease [POD_NAMESPACE] (paddle-system)
  --leader-election-id NAME         name of the Lease (paddle-operator-leader)
  --lease-duration SECONDS          (15)  --renew-deadline SECONDS (10)  --retry-period SECONDS (2)
  --log-level LEVEL                 error|warn|info|debug [LOG_LEVEL] (info)
  --log-format FORMAT               json|text [LOG_FORMAT] (json)
  --runtime-image IMAGE             image of the cache runtime pods [RUNTIME_IMAGE] (paddle-operator:latest)
  --host-port-range FROM-TO         host ports for PaddleJob Host intranet [HOST_PORT_RANGE] (35000-65000)
  --operators LIST                  comma list of sampleset,samplejob,paddlejob [OPERATORS] (all)
  --shutdown-timeout SECONDS        grace for in-flight reconciles on SIGTERM (25)
  --cache-root DIR[,DIR…]           host directories SampleSet cache tiers may use; repeatable
                                    [CACHE_ROOTS] (${DEFAULT_CACHE_ROOTS.join(',')})
  --webhook-bind-address ADDR       HTTPS pod admission webhook, /mutate-pods [WEBHOOK_BIND_ADDRESS]
                                    (:9443; 0 disables; it serves only with a certificate source)
  --webhook-cert-dir DIR            the webhook's tls.crt and tls.key, reloaded when they change,
                                    e.g. a mounted cert-manager Secret [WEBHOOK_CERT_DIR] (none)
${WEBHOOK_CERTIFICATES_HELP}
  --help`;

export class ConfigError extends Error {}

function bool(v: string | boolean | undefined, dflt: boolean): boolean {
  if (v === undefined || v === '') return dflt;
  if (typeof v === 'boolean') return v;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`not a boolean: ${v}`);
}

function int(name: string, v: string | undefined, dflt: number, min = 0): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

/** Parses flags (argv without node and script) and environment into a validated config. */
export function parseOperatorConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig & { help: boolean } {
  // accept --flag=false for booleans by normalising them to strings first
  const norm = argv.map((a) => a.replace(/^--leader-elect=(.*)$/, '--leader-elect-value=$1'));
  const { values } = parseArgs({
    args: norm,
    strict: true,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      concurrency: { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      'health-probe-bind-address': { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'leader-elect-value': { type: 'string' },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string' },
      'lease-duration': { type: 'string' },
      'renew-deadline': { type: 'string' },
      'retry-period': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'runtime-image': { type: 'string' },
      'host-port-range': { type: 'string' },
      operators: { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      'cache-root': { type: 'string', multiple: true },
      'webhook-bind-address': { type: 'string' },
      'webhook-cert-dir': { type: 'string' },
      ...WEBHOOK_CERTIFICATES_OPTIONS,
      help: { type: 'boolean' },
    },
  });
  const logFormat = values['log-format'] ?? env.LOG_FORMAT ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') throw new ConfigError(`--log-format must be json or text, got "${logFormat}"`);
  const logLevel = values['log-level'] ?? env.LOG_LEVEL ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel))
    throw new ConfigError(`--log-level must be error, warn, info or debug, got "${logLevel}"`);
  const range = values['host-port-range'] ?? env.HOST_PORT_RANGE ?? '35000-65000';
  const m = /^(\d+)[-,](\d+)$/.exec(range);
  if (!m || Number(m[1]) < 1 || Number(m[2]) > 65535 || Number(m[1]) >= Number(m[2]))
    throw new ConfigError(`--host-port-range must look like 35000-65000, got "${range}"`);
  const ops = (values.operators ?? env.OPERATORS ?? 'sampleset,samplejob,paddlejob')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const o of ops)
    if (!['sampleset', 'samplejob', 'paddlejob'].includes(o)) throw new ConfigError(`unknown operator "${o}" in --operators`);
  const lease = int('lease-duration', values['lease-duration'], 15, 2);
  const renew = int('renew-deadline', values['renew-deadline'], 10, 1);
  const retry = int('retry-period', values['retry-period'], 2, 1);
  if (!(lease > renew && renew > retry)) throw new ConfigError('need --lease-duration > --renew-deadline > --retry-period');
  const rootList = (values['cache-root']?.length ? values['cache-root'] : [env.CACHE_ROOTS || DEFAULT_CACHE_ROOTS.join(',')])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  let cacheRoots: string[];
  try {
    cacheRoots = checkCacheRoots(rootList);
  } catch (e) {
    throw new ConfigError(`--cache-root: ${(e as Error).message}`);
  }
  const webhookAddress = values['webhook-bind-address'] ?? env.WEBHOOK_BIND_ADDRESS ?? ':9443';
  parseListenAddress(webhookAddress); // a bad address is refused here, not when the server starts
  let webhookCertificates: WebhookCertificatesConfig;
  try {
    webhookCertificates = webhookCertificatesConfig(values, env);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const webhookCertDir = values['webhook-cert-dir'] ?? env.WEBHOOK_CERT_DIR ?? '';
  // a certificate directory without a mode means directory mode
  if (webhookCertDir && !(values['webhook-certs'] ?? env.WEBHOOK_CERTS)) webhookCertificates.mode = 'directory';
  if (webhookCertificates.mode === 'directory' && !webhookCertDir)
    throw new ConfigError('--webhook-certs directory needs --webhook-cert-dir DIR');
  return {
    help: values.help ?? false,
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG ?? '',
    namespace: values.namespace ?? env.WATCH_NAMESPACE ?? '',
    concurrency: int('concurrency', values.concurrency ?? env.CONCURRENCY, 4, 1),
    metricsAddress: values['metrics-bind-address'] ?? env.METRICS_BIND_ADDRESS ?? ':8080',
    probeAddress: values['health-probe-bind-address'] ?? env.HEALTH_PROBE_BIND_ADDRESS ?? ':8081',
    leaderElect: values['leader-elect'] === true ? true : bool(values['leader-elect-value'] ?? env.LEADER_ELECT, false),
    leaderElectionNamespace: values['leader-election-namespace'] ?? env.POD_NAMESPACE ?? 'paddle-system',
    leaderElectionId: values['leader-election-id'] ?? 'paddle-operator-leader',
    leaseDurationSeconds: lease,
    renewDeadlineSeconds: renew,
    retryPeriodSeconds: retry,
    logLevel,
    logFormat,
    runtimeImage: values['runtime-image'] ?? env.RUNTIME_IMAGE ?? 'paddle-operator:latest',
    hostPortRange: [Number(m[1]), Number(m[2])],
    operators: ops as OperatorConfig['operators'],
    shutdownTimeoutSeconds: int('shutdown-timeout', values['shutdown-timeout'], 25, 1),
    cacheRoots,
    webhookAddress,
    webhookCertDir,
    webhookCertificates,
  };
}

/** Splits "host:port" / ":port" / "0" into listen arguments; undefined = disabled. */
export function parseListenAddress(addr: string): { host: string; port: number } | undefined {
  if (addr === '0' || addr === '') return undefined;
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i).replace(/^\[|\]$/g, '') : '0.0.0.0';
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`bad listen address "${addr}"`);
  return { host, port };
}
