/**
 * "Create if absent, adopt only what we own": the two ways an operator creates a child. The cache
 * says the object is missing, but the cache may lag behind the API server, so AlreadyExists is an
 * answer, not an error: either the object is there and counts as done, or it is read live and used
 * only when it is ours.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ResourceType } from '../api/constants.js';
import { isAlreadyExists } from './api-error.js';
import type { KubeApi } from './kube-api.js';

type CreatingApi = Pick<KubeApi, 'create' | 'get'>;

/** Creates `desired`; the created object, or undefined when an object of that name already exists (left as it is). */
export async function createIfAbsent<T extends KubernetesObject>(
  api: Pick<KubeApi, 'create'>,
  type: ResourceType,
  desired: T,
  namespace?: string,
): Promise<T | undefined> {
  try {
    return await api.create<T>(type, desired, namespace);
  } catch (e) {
    if (isAlreadyExists(e)) return undefined;
    throw e;
  }
}

/** What {@link createOrFindOwned} found: the object (created now or ours already), or one that is not ours. */
export type OwnedObject<T> = { object: T; created: boolean; foreign?: undefined } | { foreign: T; object?: undefined; created?: undefined };

/**
 * Creates `desired`, or, when its name is taken, reads the object live and returns it if `isOurs`
 * says so; an object that is not ours is reported, never adopted. One deleted between the two
 * calls makes the AlreadyExists error propagate (the caller's retry creates it).
 */
export async function createOrFindOwned<T extends KubernetesObject>(
  api: CreatingApi,
  type: ResourceType,
  desired: T,
  isOurs: (o: T) => boolean,
  namespace?: string,
): Promise<OwnedObject<T>> {
  try {
    return { object: await api.create<T>(type, desired, namespace), created: true };
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const live = await api.get<T>(type, desired.metadata!.name!, namespace);
    if (!live) throw e;
    return isOurs(live) ? { object: live, created: false } : { foreign: live };
  }
}
