/**
 * The cache engines this build installs: the one list both processes read. The operator registers
 * each package's controller half (src/container.ts); paddle-runtime runs the runtime half named by
 * `--engine` (src/runtime/main.ts). Installing another engine is one line here.
 */
import type { EnginePackage, EngineSettings } from './cache-engine.js';
import { JUICEFS_PACKAGE } from './juicefs/index.js';
import { EngineRegistry } from './registry.js';

export const INSTALLED_ENGINES: readonly EnginePackage[] = [JUICEFS_PACKAGE];

/** A registry holding `packages` (default: the installed ones), controllers built from `settings`. */
export function installedEngines(settings: EngineSettings = {}, packages: readonly EnginePackage[] = INSTALLED_ENGINES): EngineRegistry {
  const registry = new EngineRegistry();
  for (const p of packages) registry.install(p, settings);
  return registry;
}
