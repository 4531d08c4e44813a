/** The JuiceFS engine: both halves, and how to register them. */
import type { EnginePackage } from '../cache-engine.js';
import { JuiceFsEngine } from './juicefs-engine.js';
import { createJuiceFsRuntime } from './juicefs-runtime.js';

export { JuiceFsEngine } from './juicefs-engine.js';
export { JuiceFsRuntime, createJuiceFsRuntime, type JuiceFsRuntimeOptions } from './juicefs-runtime.js';
export { buildMountConfig, mountOptionsString, parseMountOptions, type JuiceFsMountConfig } from './mount-options.js';
export * from './constants.js';

/** The JuiceFS engine package, as listed in src/engines/installed.ts. */
export const JUICEFS_PACKAGE: EnginePackage = {
  name: 'juicefs',
  controller: (settings) => new JuiceFsEngine({ cacheRoots: settings.cacheRoots }),
  runtime: createJuiceFsRuntime,
};
