/** Names of the objects that realise a SampleSet (pure; the operator finds objects by these). */
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

export function runtimeName(s: SampleSet): string {
  return `${nameOf(s)}-runtime`;
}

export function tokenSecretName(s: SampleSet): string {
  return `${nameOf(s)}-runtime-token`;
}
