// The API side of a real node's pods and of its JuiceFS CSI plugin in mount-pod mode
// (real-node-csi.ts builds the objects): what the harness creates before the driver starts, how a
// stopping node's pods are drained (app pods first, so the driver deletes its mount pods itself),
// and how mount pods are released when the driver cannot do it (after a crash).
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.js';
import { juicefsCsiDriverObject } from './real-node-config.js';
import {
  CSI_NAMESPACE,
  CSI_SERVICE_ACCOUNT,
  csiNodePodName,
  csiNodePodObject,
  csiNodeRbacObjects,
  MOUNT_POD_FINALIZER,
} from './real-node-csi.js';
import { defaultLog, waitFor, type LogFn } from './util.js';

/** Applies the CSIDriver, the plugin's RBAC and its Pod object; resolves with a service-account token for the driver (TokenRequest, 24 h). */
export async function applyCsiNodeObjects(cluster: ControlPlane, node: string): Promise<string> {
  const objects = [juicefsCsiDriverObject(), ...csiNodeRbacObjects(), csiNodePodObject(node)];
  await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  return (await cluster.kubectl(['-n', CSI_NAMESPACE, 'create', 'token', CSI_SERVICE_ACCOUNT, '--duration=24h'])).stdout.trim();
}

/** Whether `p` is one of the driver's mount pods. */
export function isMountPod(p: V1Pod): boolean {
  return p.metadata?.namespace === CSI_NAMESPACE && p.metadata.labels?.['app.kubernetes.io/name'] === 'juicefs-mount';
}

/**
 * The API side of a node's CSI plugin once the node is gone or going: its Pod object, and mount pods
 * still bound to the node (after a crash, or when the driver could not finish), whose finalizer
 * only the driver would have removed. Used by stop() and by tests that crash a node. Returns the
 * names of the mount pods it released.
 */
export async function releaseMountPods(core: CoreV1Api, node: string, log: LogFn = defaultLog): Promise<string[]> {
  await core.deleteNamespacedPod({ name: csiNodePodName(node), namespace: CSI_NAMESPACE, gracePeriodSeconds: 0 }).catch(() => undefined);
  const left = (await core.listNamespacedPod({ namespace: CSI_NAMESPACE, fieldSelector: `spec.nodeName=${node}` })).items.filter(
    isMountPod,
  );
  for (const p of left) {
    const finalizers = (p.metadata!.finalizers ?? []).filter((f) => f !== MOUNT_POD_FINALIZER);
    await core
      .patchNamespacedPod({
        name: p.metadata!.name!,
        namespace: CSI_NAMESPACE,
        body: [{ op: 'replace', path: '/metadata/finalizers', value: finalizers }],
      })
      .catch(() => undefined);
    await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: CSI_NAMESPACE, gracePeriodSeconds: 0 }).catch(() => undefined);
  }
  if (left.length) log(`node ${node}: released mount pods ${left.map((p) => p.metadata!.name).join(', ')}`);
  return left.map((p) => p.metadata!.name!);
}

/**
 * Deletes the pods bound to `node` and waits until none is left: app pods first (kubelet unpublishes
 * their volumes, and the CSI driver deletes a mount pod with its last reference), then any mount pod
 * the driver left within 20 s. `onApps` learns the app pod count before the waits (for a report
 * that survives a timeout). Throws when pods remain.
 */
export async function drainNodePods(
  core: CoreV1Api,
  node: string,
  log: LogFn,
  onApps: (n: number) => void = () => undefined,
): Promise<{ pods: number; mountPodsByDriver: number; mountPodsByHarness: number }> {
  const onNode = async (): Promise<V1Pod[]> => (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` })).items;
  const del = (p: V1Pod): Promise<unknown> =>
    core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: p.metadata!.namespace!, gracePeriodSeconds: 0 }).catch(() => undefined);
  const all = await onNode();
  const apps = all.filter((p) => !isMountPod(p));
  const mountPods = all.filter(isMountPod).length;
  onApps(apps.length);
  await Promise.all(apps.map(del));
  await waitFor(`app pods on ${node} gone`, async () => (await onNode()).filter((p) => !isMountPod(p)).length === 0, {
    timeoutMs: 30_000,
    intervalMs: 250,
  });
  const byDriver = await waitFor(
    `mount pods on ${node} deleted by the CSI driver`,
    async () => ((await onNode()).some(isMountPod) ? undefined : true),
    { timeoutMs: 20_000, intervalMs: 250 },
  ).catch(() => false);
  let mountPodsByHarness = 0;
  if (!byDriver) {
    const left = (await onNode()).filter(isMountPod);
    mountPodsByHarness = left.length;
    log(`node ${node}: the CSI driver left mount pods ${left.map((p) => p.metadata!.name).join(', ')}: deleting them`);
    await Promise.all(left.map(del));
  }
  await waitFor(`pods on ${node} gone`, async () => (await onNode()).length === 0, { timeoutMs: 30_000, intervalMs: 250 });
  return { pods: apps.length, mountPodsByDriver: byDriver ? mountPods : 0, mountPodsByHarness };
}
