// Measures how long ControlPlane.start() takes with cached binaries: RUNS cold starts (fresh run
// dir each time, default 3 nodes, CRDs from crds/ if present), printing each and the median.
//   npm run build && node dist/test/bench/cluster-start.js [runs]
// Not a test; the toolchain must already be built (test/toolchain/build.sh).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlPlane } from '../harness/control-plane.js';
import { toolchainBinDir } from '../harness/toolchain.js';

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const binDir = await toolchainBinDir();
  const times: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-cluster-'));
    const t0 = performance.now();
    const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', log: () => undefined });
    const ms = performance.now() - t0;
    times.push(ms);
    const t1 = performance.now();
    await cp.stop();
    const stopMs = performance.now() - t1;
    fs.rmSync(runDir, { recursive: true, force: true });
    process.stdout.write(`run ${i}/${runs}: start ${(ms / 1000).toFixed(2)} s, stop ${(stopMs / 1000).toFixed(2)} s\n`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  process.stdout.write(
    `cluster start (cached binaries, ${os.cpus().length} CPUs): median ${(median / 1000).toFixed(2)} s over ${runs} runs\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
