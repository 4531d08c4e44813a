/** The JuiceFS engine: both halves, and how to register them. */
import type { EngineRegistry } from '../registry.js';
import { JuiceFsEngine } from './juicefs-engine.js';
import { createJuiceFsRuntime } from './juicefs-runtime.js';

export { JuiceFsEngine } from './juicefs-engine.js';
export { JuiceFsRuntime, createJuiceFsRuntime, type JuiceFsRuntimeOptions } from './juicefs-runtime.js';
export { buildMountConfig, mountOptionsString, parseMountOptions, type JuiceFsMountConfig } from './mount-options.js';
export * from './constants.js';

/** Registers the JuiceFS engine (controller and runtime halves) in `registry`. */
export function registerJuiceFs(registry: EngineRegistry): void {
  registry.register(new JuiceFsEngine(), createJuiceFsRuntime);
}
