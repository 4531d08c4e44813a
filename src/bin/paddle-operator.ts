#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --optimize-for-size
/**
 * paddle-operator: the controller process (all three operators, health, metrics, leader election).
 *
 * The Node flags above suit a long-running controller whose heap is mostly long-lived caches:
 * a 1 MiB young generation and V8's memory-saving heap sizing. Against Node's defaults they cut the
 * peak RSS of `npm run bench -- paddlejob` (100 jobs × 6 pods) from about 116 to 85 MiB for about
 * 7 % more CPU time, with no change in how fast the jobs run (`npm run bench -- footprint` measures
 * them; $PADDLE_BENCH_NODE_FLAGS compares others). `MALLOC_ARENA_MAX=2` keeps the C allocator
 * to two arenas instead of one per thread that ever allocated (Node's and V8's worker threads each
 * kept freed memory of their own): the footprint peak at 1,000 SampleSets + 1,000 SampleJobs
 * 118–121 → 113–118 MiB. `node dist/src/bin/paddle-operator.js` runs without either.
 */
import 'reflect-metadata';
import { CONFIG_HELP, parseOperatorConfig } from '../config/operator-config.js';
import { buildContainer, TYPES } from '../container.js';
import { OperatorManager } from '../manager.js';

async function main(): Promise<number> {
  let config;
  try {
    config = parseOperatorConfig(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`paddle-operator: ${(e as Error).message}\n\n${CONFIG_HELP}\n`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(CONFIG_HELP + '\n');
    return 0;
  }
  const container = buildContainer(config);
  const log = container.get(TYPES.Logger);
  const manager = new OperatorManager(container);
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) {
      log.warn('second signal, exiting now', { signal: sig });
      process.exit(1);
    }
    log.info('shutting down', { signal: sig });
    void manager.stop(config.shutdownTimeoutSeconds * 1000);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('unhandledRejection', (e) => log.error('unhandled rejection', { error: String((e as Error)?.stack ?? e) }));
  try {
    await manager.start();
  } catch (e) {
    log.error('start failed', { error: (e as Error).message });
    await manager.stop(1000).catch(() => undefined);
    return 1;
  }
  log.info('paddle-operator started', { namespace: config.namespace || '(all)', leaderElect: config.leaderElect, ports: manager.ports });
  const why = await manager.done;
  log.info('paddle-operator stopped', { reason: why });
  return why === 'stopped' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`paddle-operator: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
