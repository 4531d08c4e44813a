import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';

/** A controller ownerReference to `owner` (garbage collection deletes the dependent with it). */
export function ownerReference(owner: KubernetesObject, controller = true): V1OwnerReference {
  if (!owner.metadata?.uid || !owner.metadata.name) throw new Error('owner has no uid/name');
  return {
    apiVersion: owner.apiVersion!,
    kind: owner.kind!,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller,
    blockOwnerDeletion: true,
  };
}

/** The controller ownerReference of `obj`, if any. */
export function controllerOf(obj: KubernetesObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller);
}

/** True when `obj` is controlled by `owner` (same uid). */
export function isControlledBy(obj: KubernetesObject, owner: KubernetesObject): boolean {
  return controllerOf(obj)?.uid === owner.metadata?.uid;
}

/** Name of the informer index of objects by their controller's uid (`controlledKeys`). */
export const CONTROLLER_INDEX = 'paddle:controller-uid';

/** Index keys: the uid of the object's controller, if it has one. */
export function controlledKeys(obj: KubernetesObject): string[] {
  const uid = controllerOf(obj)?.uid;
  return uid ? [uid] : [];
}
