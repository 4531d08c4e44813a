/** Kubernetes `Time` fields: RFC 3339 in UTC with whole seconds ("2026-11-30T10:00:00Z"). */
export function kubeTime(at: Date | number = new Date()): string {
  return (typeof at === 'number' ? new Date(at) : at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
