/**
 * `npm run bench`: runs every benchmark script in this folder one after another (each prints its
 * own figures, as ratios against a baseline it measures in the same run). Not part of `npm test`;
 * nothing here gates CI. Pass names to run a subset: `npm run bench -- sampleset samplejob`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const scripts = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'index.js')
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.js$/, '')))
  .sort();
let failed = 0;
for (const s of scripts) {
  process.stdout.write(`\n=== bench: ${s.replace(/\.js$/, '')} ===\n`);
  const r = spawnSync(process.execPath, [path.join(here, s)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`(bench ${s} exited with ${r.status ?? r.signal})\n`);
  }
}
process.exit(failed ? 1 : 0);
