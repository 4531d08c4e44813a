/** Names of the objects that realise a SampleSet (pure; the operator finds objects by these). */
import { createHash } from 'node:crypto';
import type { SampleSet } from '../../api/sampleset.js';

function nameOf(s: SampleSet): string {
  const n = s.metadata.name;
  if (!n) throw new Error('SampleSet has no name');
  return n;
}

export function namespaceOf(s: SampleSet): string {
  return s.metadata.namespace || 'default';
}

/**
 * The PV is cluster-scoped, so its name carries the namespace: `<namespace>.<name>`. Namespaces
 * are DNS labels (no dots), so the first dot separates them unambiguously — `a-b`/`c` and `a`/`b-c`
 * cannot collide as they would with a dash.
 */
export function persistentVolumeName(s: SampleSet): string {
  return `${namespaceOf(s)}.${nameOf(s)}`;
}

/**
 * The PV's CSI volumeHandle: a DNS label (at most 63 characters of [a-z0-9-]), unique per SampleSet.
 * The JuiceFS CSI driver keys its per-node mount on it and, by default, uses it as the hostname of
 * the mount pod, which the apiserver rejects when it holds a dot. Readable part
 * `<namespace>-<name>` (shortened when long), then a hash of `<namespace>/<name>` so that `a-b`/`c`
 * and `a`/`b-c` differ.
 */
export function volumeHandle(s: SampleSet): string {
  const hash = createHash('sha256')
    .update(`${namespaceOf(s)}/${nameOf(s)}`)
    .digest('hex')
    .slice(0, 10);
  const readable = `${namespaceOf(s)}-${nameOf(s)}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 63 - hash.length - 1)
    .replace(/-+$/, '');
  return `${readable}-${hash}`;
}

export function persistentVolumeClaimName(s: SampleSet): string {
  return nameOf(s);
}

/**
 * `<name>-runtime`, the StatefulSet (and so the runtime pods `<name>-runtime-<i>`). The
 * StatefulSet controller labels pods `controller-revision-hash=<statefulset>-<hash of up to 10
 * characters>`, a label value of at most 63 characters, so a StatefulSet name may have at most 52:
 * longer SampleSet names (the CRD allows 55) get a shortened, still unique name instead.
 */
export const MAX_RUNTIME_NAME = 52;
export function runtimeName(s: SampleSet): string {
  const full = `${nameOf(s)}-runtime`;
  if (full.length <= MAX_RUNTIME_NAME) return full;
  const hash = createHash('sha256').update(nameOf(s)).digest('hex').slice(0, 8);
  return `${nameOf(s)
    .slice(0, MAX_RUNTIME_NAME - 12)
    .replace(/-+$/, '')}-${hash}-rt`;
}

export function tokenSecretName(s: SampleSet): string {
  return `${nameOf(s)}-runtime-token`;
}
