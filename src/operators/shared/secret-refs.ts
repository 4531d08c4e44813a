/**
 * Secret references of SampleSets and SampleJobs. The operator can read Secrets in every
 * namespace, so a reference is honoured only in the referring object's own namespace: the
 * `namespace` field stays in the API for manifest compatibility, and any value other than the
 * object's own namespace is refused (reason CrossNamespaceSecret) before any Secret is read.
 */
import { SpecError } from '../../engines/cache-engine.js';

export const CROSS_NAMESPACE_SECRET = 'CrossNamespaceSecret';

export interface SecretRefLike {
  name?: string;
  namespace?: string;
}

/** The message for a reference `field` that names another namespace than `own`; undefined when it does not. */
export function crossNamespaceProblem(own: string, field: string, ref: SecretRefLike | undefined): string | undefined {
  const ns = ref?.namespace;
  if (!ns || ns === own) return undefined;
  return `${field}.namespace is ${JSON.stringify(ns.slice(0, 63))}, but a Secret may only be taken from the object's own namespace ${JSON.stringify(own)}: copy the Secret into ${own} and remove ${field}.namespace (or set it to ${own})`;
}

/** Throws SpecError CrossNamespaceSecret for the first of `refs` (field → reference) that names another namespace. */
export function checkSecretNamespaces(own: string, refs: Array<[string, SecretRefLike | undefined]>): void {
  for (const [field, ref] of refs) {
    const problem = crossNamespaceProblem(own, field, ref);
    if (problem) throw new SpecError(CROSS_NAMESPACE_SECRET, problem);
  }
}

/** `{namespace, name}` of a reference, always in `own` (never another namespace), or undefined without a name. */
export function ownSecretKey(own: string, ref: SecretRefLike | undefined): { namespace: string; name: string } | undefined {
  return ref?.name ? { namespace: own, name: ref.name } : undefined;
}
