// The one control plane shared by every e2e test of a run; started and stopped by the root hooks
// in hooks.ts (mocha --require dist/test/e2e/hooks.js).
//
//   import { testCluster } from './cluster.js';
//   const kc = testCluster().kubeConfig();
import type { ControlPlane } from '../harness/control-plane.js';
import { waitFor } from '../harness/util.js';

let current: ControlPlane | undefined;

/** The running control plane. Throws outside a test run (e.g. when hooks.js was not required). */
export function testCluster(): ControlPlane {
  if (!current) throw new Error('no test cluster: run the e2e tests with `npm run test:e2e` (the root hooks start it)');
  return current;
}

/** For hooks.ts only. */
export function setTestCluster(cp: ControlPlane | undefined): void {
  current = cp;
}

/**
 * Deletes a test's namespaces and waits (up to two minutes) until they are gone; a namespace that
 * stays is reported on stderr under `label`, not thrown (cleanup must not fail a passed test).
 * Whatever holds finalizers in them must be running meanwhile.
 */
export async function deleteTestNamespaces(cp: ControlPlane, namespaces: string[], label: string): Promise<void> {
  for (const ns of namespaces) await cp.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
  await waitFor(
    'test namespaces to be deleted',
    async () => {
      const left = await Promise.all(namespaces.map((ns) => cp.kubectl(['get', 'namespace', ns], { allowFail: true })));
      return left.every((r) => r.code !== 0) ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  ).catch((e: unknown) => process.stderr.write(`      [${label}] ${(e as Error).message}\n`));
}
