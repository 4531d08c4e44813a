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
 * cannot collide as they would with a dash. The volumeHandle is the same string.
 */
export function persistentVolumeName(s: SampleSet): string {
  return `${namespaceOf(s)}.${nameOf(s)}`;
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
  return `${nameOf(s).slice(0, MAX_RUNTIME_NAME - 12).replace(/-+$/, '')}-${hash}-rt`;
}

export function tokenSecretName(s: SampleSet): string {
  return `${nameOf(s)}-runtime-token`;
}
