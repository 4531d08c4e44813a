// Builds what the e2e tests need to run operators in-process exactly as production would be
// allowed to: with the credentials of the ServiceAccount `kustomize/default` creates (so every
// scenario proves the ClusterRole sufficient), recording each (verb, resource) the operators use
// so that a final check can prove the ClusterRole grants nothing the code never uses.
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

/** `verb resource[.group]` pairs the authorizer let operators use during this run (anything but 401/403). */
export const usedPermissions = new Set<string>();

let credentials: Promise<KubeConfig> | undefined;

/** A kubeconfig holding a token of the operator's ServiceAccount (RBAC from kustomize/default). */
export function operatorKubeConfig(): Promise<KubeConfig> {
  credentials ??= (async () => {
    const cluster = testCluster();
    const rendered = await cluster.kubectl(['kustomize', 'kustomize/default']);
    const docs = YAML.parseAllDocuments(rendered.stdout).map((d) => d.toJS() as { kind: string });
    const rbac = docs.filter((d) => RBAC_KINDS.has(d.kind));
    await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: rbac.map((d) => YAML.stringify(d)).join('---\n') });
    const token = (await cluster.kubectl(['create', 'token', OPERATOR_SERVICE_ACCOUNT, '-n', OPERATOR_NAMESPACE, '--duration=6h'])).stdout.trim();
    const admin = cluster.kubeConfig();
    const server = admin.getCurrentCluster()!;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'e2e', server: server.server, caFile: server.caFile, caData: server.caData, skipTLSVerify: false }],
      users: [{ name: 'paddle-operator', token }],
      contexts: [{ name: 'operator', cluster: 'e2e', user: 'paddle-operator', namespace: OPERATOR_NAMESPACE }],
      currentContext: 'operator',
    });
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
  stop(): Promise<void>;
}

/** An OperatorContext on the operator's ServiceAccount credentials, auditing permissions used. */
export async function operatorContext(opts: { logLevel?: string; concurrency?: number } = {}): Promise<TestOperatorContext> {
  const kc = await operatorKubeConfig();
  const logger = createLogger({ level: opts.logLevel ?? process.env.E2E_OPERATOR_LOG_LEVEL ?? 'warn', format: 'text' });
  const metrics = new Metrics();
  const api = new KubeApi(kc, {
    onRequest: (verb, group, resource, code) => {
      if (code >= 200 && code !== 401 && code !== 403) usedPermissions.add(`${verb} ${resource}${group ? '.' + group : ''}`);
    },
  });
  const informers = new InformerFactory(api, logger, metrics, '');
  const ctx: OperatorContext = { api, informers, events: new EventRecorder(api, logger), logger, metrics, concurrency: opts.concurrency ?? 4 };
  return { ctx, api, informers, logger, metrics, stop: () => informers.stopAll() };
}
