// The one control plane shared by every e2e test of a run; started and stopped by the root hooks
// in hooks.ts (mocha --require dist/test/e2e/hooks.js).
//
//   import { testCluster } from './cluster.js';
//   const kc = testCluster().kubeConfig();
import type { ControlPlane } from '../harness/control-plane.js';

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
