// Builds what the e2e tests need to run operators exactly as production would be allowed to: with
// the credentials of the ServiceAccount `kustomize/default` creates (so every scenario proves the
// ClusterRole sufficient), in this process or as `paddle-operator` processes (operatorKubeConfigPath).
// What that ServiceAccount did is read back from the apiserver's audit log (usedPermissions), so a
// final check can prove its roles grant nothing the code never uses.
//
//   const { ctx, stop } = await operatorContext();
//   const op = new SampleSetOperator(ctx, ...); await op.start(); ... await op.stop(); await stop();
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { EventRecorder } from '../../src/kube/event-recorder.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import type { OperatorContext } from '../../src/kube/reconciling-operator.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { testCluster } from './cluster.js';

export const OPERATOR_NAMESPACE = 'paddle-system';
export const OPERATOR_SERVICE_ACCOUNT = 'paddle-operator';
const RBAC_KINDS = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

export interface UsedPermissions {
  /** `verb resource[/subresource][.group]` the authorizer allowed the ServiceAccount, anywhere. */
  all: Set<string>;
  /** The same, per namespace ('' for cluster-scoped requests). */
  byNamespace: Map<string, Set<string>>;
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string };
  annotations?: Record<string, string>;
}

/** What the operator's ServiceAccount was allowed to do during this run, from the apiserver's audit log. */
export function usedPermissions(): UsedPermissions {
  const user = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
  const out: UsedPermissions = { all: new Set(), byNamespace: new Map() };
  const file = testCluster().auditLogPath;
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(user)) continue;
    const ev = JSON.parse(line) as AuditEvent;
    const ref = ev.objectRef;
    if (ev.user?.username !== user || !ref?.resource || ev.annotations?.['authorization.k8s.io/decision'] !== 'allow') continue;
    const perm = `${ev.verb} ${ref.resource}${ref.subresource ? '/' + ref.subresource : ''}${ref.apiGroup ? '.' + ref.apiGroup : ''}`;
    out.all.add(perm);
    const ns = ref.namespace ?? '';
    if (!out.byNamespace.has(ns)) out.byNamespace.set(ns, new Set());
    out.byNamespace.get(ns)!.add(perm);
  }
  return out;
}

let credentials: Promise<KubeConfig> | undefined;

/** A kubeconfig for the test cluster that authenticates with a ServiceAccount's token (namespace: the operator's). */
export function serviceAccountKubeConfig(serviceAccount: string, token: string): KubeConfig {
  const server = testCluster().kubeConfig().getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'e2e', server: server.server, caFile: server.caFile, caData: server.caData, skipTLSVerify: false }],
    users: [{ name: serviceAccount, token }],
    contexts: [{ name: serviceAccount, cluster: 'e2e', user: serviceAccount, namespace: OPERATOR_NAMESPACE }],
    currentContext: serviceAccount,
  });
  return kc;
}

/** A kubeconfig holding a token of the operator's ServiceAccount (RBAC from kustomize/default). */
export function operatorKubeConfig(): Promise<KubeConfig> {
  credentials ??= (async () => {
    const cluster = testCluster();
    const rendered = await cluster.kubectl(['kustomize', 'kustomize/default']);
    const docs = YAML.parseAllDocuments(rendered.stdout).map((d) => d.toJS() as { kind: string });
    const rbac = docs.filter((d) => RBAC_KINDS.has(d.kind));
    await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
      input: rbac.map((d) => YAML.stringify(d)).join('---\n'),
    });
    const token = (
      await cluster.kubectl(['create', 'token', OPERATOR_SERVICE_ACCOUNT, '-n', OPERATOR_NAMESPACE, '--duration=6h'])
    ).stdout.trim();
    const kc = serviceAccountKubeConfig(OPERATOR_SERVICE_ACCOUNT, token);
    // a kubeconfig file too, for operator processes started by tests
    const file = path.join(cluster.runDir, 'operator.kubeconfig');
    fs.writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
    return kc;
  })();
  return credentials;
}

export function operatorKubeConfigPath(): string {
  return path.join(testCluster().runDir, 'operator.kubeconfig');
}

export interface TestOperatorContext {
  ctx: OperatorContext;
  api: KubeApi;
  informers: InformerFactory;
  logger: Logger;
  metrics: Metrics;
  /** Stops the shared informers (call after stopping the operators). */
  stop: () => Promise<void>;
}

/** An OperatorContext on the operator's ServiceAccount credentials (its requests land in the audit log). */
export async function operatorContext(opts: { logLevel?: string; concurrency?: number } = {}): Promise<TestOperatorContext> {
  const kc = await operatorKubeConfig();
  const logger = createLogger({ level: opts.logLevel ?? process.env.E2E_OPERATOR_LOG_LEVEL ?? 'warn', format: 'text' });
  const metrics = new Metrics();
  const api = new KubeApi(kc);
  const informers = new InformerFactory(api, logger, metrics, '');
  const ctx: OperatorContext = {
    api,
    informers,
    events: new EventRecorder(api, logger),
    logger,
    metrics,
    concurrency: opts.concurrency ?? 4,
  };
  return { ctx, api, informers, logger, metrics, stop: () => informers.stopAll() };
}
