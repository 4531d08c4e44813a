// Sync and warmup throughput of paddle-runtime against the juicefs CLI run directly, on the same
// data, the same JuiceFS volume and mount, in the same run (runs alternate; medians are compared).
//   npm run build && node dist/test/bench/runtime-sync.js
// Env: BENCH_MB (dataset size, default 512), BENCH_RUNS (default 3), JUICEFS_BIN (else the toolchain).
// Not a test: it prints figures and exits 0.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { juicefsBin, makeDataset, startRuntime, tempDir, umountAll, Volume, type RuntimeProc } from '../integration/juicefs-fixture.js';

const MB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs juicefs and times it (asynchronously: the runtime client's event loop must keep running). */
function timeDirect(bin: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`juicefs ${args.join(' ')} failed: ${err}`)),
    );
  });
}

async function timeJob(rt: RuntimeProc, req: { id: string; type: string; options: unknown }): Promise<number> {
  const t0 = performance.now();
  const r = await rt.call('POST', '/jobs', req);
  if (r.status !== 202) throw new Error(`submit ${req.id}: ${r.status} ${JSON.stringify(r.body)}`);
  const job = await rt.waitJob(req.id, 600_000);
  const ms = performance.now() - t0;
  if (job.status !== 'succeeded') throw new Error(`${req.id} ${job.status}: ${job.message}`);
  return ms;
}

async function main(): Promise<void> {
  const totalMb = Number(process.env.BENCH_MB ?? 512);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const bin = await juicefsBin();
  const tmp = tempDir('paddle-bench-sync-');
  try {
    // dataset: 3/4 of the bytes in 1 MiB files, 1/4 in 16 MiB files
    const files: { path: string; size: number }[] = [];
    for (let i = 0; i < Math.round((totalMb * 0.75) / 1); i++) files.push({ path: `small/d${i % 16}/f${i}.bin`, size: MB });
    for (let i = 0; i < Math.max(1, Math.round((totalMb * 0.25) / 16)); i++) files.push({ path: `large/f${i}.bin`, size: 16 * MB });
    const src = path.join(tmp, 'src');
    const bytes = makeDataset(src, files);
    const vol = Volume.create(bin, path.join(tmp, 'vol'), 'bench');
    const mnt = vol.mount(path.join(tmp, 'mnt'), path.join(tmp, 'cache'));
    const token = crypto.randomBytes(16).toString('hex');
    const rt = await startRuntime({ bin, token, dataDir: mnt.mountpoint, cacheDirs: [mnt.cacheDir], fileSourceRoots: [src] });
    const mbps = (ms: number) => bytes / MB / (ms / 1000);
    process.stdout.write(`dataset: ${files.length} files, ${(bytes / MB).toFixed(0)} MiB; ${os.cpus().length} CPUs; ${runs} runs each\n`);

    const direct: number[] = [];
    const viaRuntime: number[] = [];
    for (let i = 0; i < runs; i++) {
      direct.push(await timeDirect(bin, ['sync', `${src}/`, `${mnt.mountpoint}/direct-${i}/`]));
      viaRuntime.push(
        await timeJob(rt, { id: `bench-sync-${i}`, type: 'sync', options: { source: `file://${src}/`, destination: `/runtime-${i}` } }),
      );
      process.stdout.write(
        `  sync run ${i + 1}: juicefs ${mbps(direct[i]).toFixed(1)} MiB/s, paddle-runtime ${mbps(viaRuntime[i]).toFixed(1)} MiB/s\n`,
      );
    }
    const d = median(direct);
    const r = median(viaRuntime);
    process.stdout.write(
      `sync: juicefs direct ${mbps(d).toFixed(1)} MiB/s (${(d / 1000).toFixed(2)} s), paddle-runtime ${mbps(r).toFixed(1)} MiB/s (${(r / 1000).toFixed(2)} s), ratio runtime/direct = ${(d / r).toFixed(3)}\n`,
    );

    // warmup: from a cleared cache each time, all of one copy of the dataset
    const warmDirect: number[] = [];
    const warmRuntime: number[] = [];
    const listFile = path.join(tmp, 'warm.list');
    const listed: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) listed.push(p);
      }
    };
    walk(path.join(mnt.mountpoint, 'runtime-0'));
    fs.writeFileSync(listFile, listed.join('\n') + '\n');
    for (let i = 0; i < runs; i++) {
      await timeJob(rt, { id: `bench-clear-a${i}`, type: 'clear', options: {} });
      warmDirect.push(await timeDirect(bin, ['warmup', `--file=${listFile}`, '--threads=50']));
      await timeJob(rt, { id: `bench-clear-b${i}`, type: 'clear', options: {} });
      warmRuntime.push(
        await timeJob(rt, { id: `bench-warm-${i}`, type: 'warmup', options: { paths: ['/runtime-0'], shard: 0, shards: 1, threads: 50 } }),
      );
      process.stdout.write(
        `  warmup run ${i + 1}: juicefs ${mbps(warmDirect[i]).toFixed(1)} MiB/s, paddle-runtime ${mbps(warmRuntime[i]).toFixed(1)} MiB/s\n`,
      );
    }
    const wd = median(warmDirect);
    const wr = median(warmRuntime);
    process.stdout.write(
      `warmup: juicefs direct ${mbps(wd).toFixed(1)} MiB/s, paddle-runtime ${mbps(wr).toFixed(1)} MiB/s (${(files.length / (wr / 1000)).toFixed(0)} files/s), ratio runtime/direct = ${(wd / wr).toFixed(3)}\n`,
    );
    await rt.stop();
  } finally {
    umountAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    umountAll();
    process.exit(1);
  },
);
