/**
 * paddle-runtime's composition: parse the command line, pick the engine's runtime from an
 * EngineRegistry, and either serve (SIGTERM/SIGINT → graceful shutdown) or run `clean-cache`
 * (the runtime pod's preStop: clear this SampleSet's cache blocks on every tier).
 *
 * While serving, process-level guards keep one bad request from ending the process (and losing
 * every queued job): an uncaught exception or unhandled rejection is logged and the server goes
 * on. Each request is answered by the server itself (a 500 at worst).
 */
import type { EngineRegistry } from '../engines/registry.js';
import { installedEngines } from '../engines/installed.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { CliError, parseRuntimeArgs, type RuntimeCliOptions } from '../api/runtime-cli.js';
import type { JobLogFn } from './job-queue.js';
import { RUNTIME_TOKEN_ENV } from '../api/runtime-protocol.js';
import { RuntimeServer } from './server.js';
import type { CacheRuntime } from '../engines/cache-engine.js';

function jobLog(logger: Logger): JobLogFn {
  return (level, msg, fields) => logger.log(level, msg, fields ?? {});
}

function buildRuntime(registry: EngineRegistry, o: RuntimeCliOptions): CacheRuntime {
  return registry.runtime(o.engine)({
    dataDir: o.dataDir,
    cacheDirs: o.cacheDirs,
    hostCacheDirs: o.hostCacheDirs.length ? o.hostCacheDirs : undefined,
    binary: o.binary,
    fileSourceRoots: o.fileSourceRoots,
  });
}

async function cleanCache(runtime: CacheRuntime, logger: Logger): Promise<number> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 25_000);
  try {
    await runtime.run('clear', {}, undefined, {
      signal: controller.signal,
      onProgress: () => {},
      log: (msg, fields) => logger.info(msg, fields ?? {}),
      setMessage: (msg) => logger.info(msg),
    });
    return 0;
  } catch (err) {
    logger.error('clean-cache failed', { error: (err as Error).message });
    return 1;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Logs uncaught exceptions and unhandled rejections instead of dying (Node's default). The
 * message only, never the error object (it may hold request data); returns the uninstaller.
 */
export function installProcessGuards(log: JobLogFn, proc: NodeJS.EventEmitter = process): () => void {
  const describe = (err: unknown): Record<string, unknown> => ({
    error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 1000) : typeof err,
  });
  const onException = (err: unknown): void => log('error', 'uncaught exception (kept running)', describe(err));
  const onRejection = (err: unknown): void => log('error', 'unhandled promise rejection (kept running)', describe(err));
  proc.on('uncaughtException', onException);
  proc.on('unhandledRejection', onRejection);
  return () => {
    proc.off('uncaughtException', onException);
    proc.off('unhandledRejection', onRejection);
  };
}

/** Runs paddle-runtime; resolves with the process exit code (serve resolves after shutdown). */
export async function runtimeMain(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  registry: EngineRegistry = installedEngines(),
): Promise<number> {
  let opts: RuntimeCliOptions;
  try {
    opts = parseRuntimeArgs(argv);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`paddle-runtime: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: opts.logLevel, format: opts.logFormat });
  let runtime: CacheRuntime;
  try {
    runtime = buildRuntime(registry, opts);
  } catch (err) {
    logger.error('cannot create the engine runtime', { engine: opts.engine, error: (err as Error).message });
    return 2;
  }
  if (opts.command === 'clean-cache') return cleanCache(runtime, logger);

  const token = env[RUNTIME_TOKEN_ENV];
  if (!token || token.trim().length < 16) {
    logger.error(`refusing to start: ${RUNTIME_TOKEN_ENV} must hold the bearer token (at least 16 characters)`);
    return 2;
  }
  const log = jobLog(logger);
  const uninstallGuards = installProcessGuards(log);
  const server = new RuntimeServer({
    runtime,
    token: token.trim(),
    host: opts.host,
    port: opts.port,
    maxPendingJobs: opts.maxPendingJobs,
    log,
  });
  try {
    await server.listen();
  } catch (err) {
    logger.error('cannot listen', { host: opts.host, port: opts.port, error: (err as Error).message });
    uninstallGuards();
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info('signal received, shutting down', { signal });
      const hard = setTimeout(() => {
        logger.warn('shutdown took too long, exiting');
        resolve(1);
      }, 20_000);
      hard.unref();
      server.close().then(
        () => {
          clearTimeout(hard);
          uninstallGuards();
          resolve(0);
        },
        (err: unknown) => {
          logger.error('shutdown failed', { error: (err as Error).message });
          uninstallGuards();
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
