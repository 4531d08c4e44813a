import { SpecError, type CacheEngine, type CacheRuntimeFactory, type EnginePackage, type EngineSettings } from './cache-engine.js';

/** Cache engines by name. Bound in the container; operators look engines up here, never by import. */
export class EngineRegistry {
  private readonly engines = new Map<string, CacheEngine>();
  private readonly runtimes = new Map<string, CacheRuntimeFactory>();

  constructor(engines: CacheEngine[] = [], runtimes: Record<string, CacheRuntimeFactory> = {}) {
    for (const e of engines) this.register(e);
    for (const [n, f] of Object.entries(runtimes)) this.runtimes.set(n, f);
  }

  register(engine: CacheEngine, runtime?: CacheRuntimeFactory): void {
    this.engines.set(engine.name, engine);
    if (runtime) this.runtimes.set(engine.name, runtime);
  }

  /** Registers both halves of an engine package, its controller built from `settings`. */
  install(pkg: EnginePackage, settings: EngineSettings = {}): void {
    this.register(pkg.controller(settings), pkg.runtime);
  }

  names(): string[] {
    return [...this.engines.keys()].sort();
  }

  /** The engine called `name`, if installed. */
  find(name: string): CacheEngine | undefined {
    return this.engines.get(name);
  }

  /** The engine called `name`; an unknown name is a SpecError the SampleSet shows as a condition. */
  get(name: string): CacheEngine {
    const e = this.engines.get(name);
    if (!e) throw new SpecError('UnknownEngine', `cache engine "${name}" is not installed (known: ${this.names().join(', ') || 'none'})`);
    return e;
  }

  runtime(name: string): CacheRuntimeFactory {
    const f = this.runtimes.get(name);
    if (!f) throw new SpecError('UnknownEngine', `cache engine "${name}" has no runtime in this image`);
    return f;
  }
}
