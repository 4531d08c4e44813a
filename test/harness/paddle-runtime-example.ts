/**
 * paddle-runtime with the example engine (src/engines/example) installed next to the shipped ones,
 * for simulated cache nodes in tests (`startCacheNodeSimulator(cp, { runtimeEntry:
 * EXAMPLE_RUNTIME_ENTRY })`). The production entry, src/bin/paddle-runtime.ts, runs exactly
 * INSTALLED_ENGINES; the example engine stays out of that list.
 */
import { EXAMPLE_PACKAGE } from '../../src/engines/example/example-engine.js';
import { INSTALLED_ENGINES, installedEngines } from '../../src/engines/installed.js';
import { runtimeMain } from '../../src/runtime/main.js';

runtimeMain(process.argv.slice(2), process.env, installedEngines({}, [...INSTALLED_ENGINES, EXAMPLE_PACKAGE])).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`paddle-runtime (example): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
