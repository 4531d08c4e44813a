/**
 * The container image's /app, rehearsed without a container: this test does not build the image.
 * The real image is built from the Dockerfile by `npm run image` (BuildKit, no Docker engine) and
 * its config and layers are checked in test/image/image.test.ts; that test replaces what this one
 * cannot show (base images, apt packages, the juicefs stage, the image's USER/CMD/ENTRYPOINT), and
 * this one stays for what that one does not do: run both programs from the image's /app layout
 * against a control plane. The Dockerfile's build stage runs as written — its COPY lines
 * (honouring .dockerignore's allow-list), ENV and RUN commands (cache mounts dropped) — in a fresh
 * directory; the final stage's `COPY --from=build` lines and bin symlinks then assemble the image's
 * /app. From that tree, with only the production dependencies:
 *  - `paddle-operator` starts as the image's USER (65532, not root) on the operator's ServiceAccount,
 *    reports ready, and exits 0 on SIGTERM;
 *  - `paddle-runtime serve` starts and answers /healthz.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { operatorKubeConfig } from './operator-context.js';
import { tryJson } from './operator-processes.js';

const run = promisify(execFile);

interface Stage {
  name: string;
  lines: string[];
}

/** Dockerfile instructions (continuations joined, comments dropped), grouped by stage. */
function stages(dockerfile: string): Stage[] {
  const out: Stage[] = [];
  const joined = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const l of joined) {
    if (/^FROM /i.test(l)) out.push({ name: /\bAS\s+(\S+)/i.exec(l)?.[1] ?? 'final', lines: [] });
    else out.at(-1)?.lines.push(l);
  }
  return out;
}

/** The build context: what .dockerignore lets through (`*` then `!path` allow-list, then excludes). */
function contextAllows(rel: string, rules: string[]): boolean {
  let allowed = true;
  for (const r of rules) {
    const neg = r.startsWith('!');
    const pat = neg ? r.slice(1) : r;
    const re = new RegExp(
      '^' +
        pat
          .replace(/\/$/, '')
          .split('**/')
          .map((p) => p.replace(/[.+^${}()|[\]]/g, '\\$&').replace(/\*/g, '[^/]*'))
          .join('(?:.*/)?') +
        '(?:/.*)?$',
    );
    if (re.test(rel)) allowed = neg;
  }
  return allowed;
}

/** A directory worth entering: allowed itself, or the parent of an allowed (`!`) path. */
function mayHoldAllowed(rel: string, rules: string[]): boolean {
  return contextAllows(rel, rules) || rules.some((r) => r.startsWith('!') && r.slice(1).startsWith(`${rel}/`));
}

function copyContext(src: string, dest: string, rules: string[], rel = ''): void {
  const p = path.join(src, rel);
  // lstat: never follow links (caches under .cache may hold dangling ones); skip what cannot
  // contain an allowed path (.git, node_modules, .cache) instead of walking it
  if (fs.lstatSync(p).isDirectory()) {
    for (const e of fs.readdirSync(p)) {
      const r = rel ? `${rel}/${e}` : e;
      if (fs.lstatSync(path.join(src, r)).isDirectory() ? mayHoldAllowed(r, rules) : contextAllows(r, rules))
        copyContext(src, dest, rules, r);
    }
  } else if (contextAllows(rel, rules)) {
    fs.mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
    fs.copyFileSync(p, path.join(dest, rel));
  }
}

describe('the image, rehearsed from the Dockerfile without a Docker engine', function () {
  this.timeout(600_000);
  const dockerfile = fs.readFileSync('Dockerfile', 'utf8');
  const all = stages(dockerfile);
  const build = all.find((s) => s.name === 'build')!;
  const final = all.at(-1)!;
  let root: string; // stands for the image's /
  let pathEnv: string;

  before(async function () {
    this.timeout(600_000);
    expect(build, 'a stage named build').to.not.equal(undefined);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-image-'));
    fs.chmodSync(root, 0o755);
    const context = path.join(root, 'context');
    const ignore = fs
      .readFileSync('.dockerignore', 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    copyContext(process.cwd(), context, ignore);

    // stage "build": WORKDIR /app → <root>/build/app
    const buildApp = path.join(root, 'build', 'app');
    fs.mkdirSync(buildApp, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const l of build.lines) {
      const [op, ...rest] = l.split(/\s+/);
      const args = rest.join(' ');
      if (/^ENV$/i.test(op)) for (const kv of args.split(/\s+/)) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      else if (/^COPY$/i.test(op)) {
        const parts = rest.filter((x) => !x.startsWith('--'));
        const dest = path.join(buildApp, parts.at(-1)!);
        for (const s of parts.slice(0, -1))
          fs.cpSync(path.join(context, s), parts.length > 2 || dest.endsWith('/') ? path.join(dest, path.basename(s)) : dest, {
            recursive: true,
          });
      } else if (/^RUN$/i.test(op)) {
        const cmd = args.replace(/--mount=\S+\s*/g, '');
        await run('sh', ['-c', cmd], { cwd: buildApp, env, maxBuffer: 64 * 1024 * 1024 });
      }
    }

    // final stage: COPY --from=build /app/<x> ./<y> (WORKDIR /app) and the bin symlinks
    const app = path.join(root, 'app');
    const bin = path.join(root, 'usr', 'local', 'bin');
    fs.mkdirSync(bin, { recursive: true });
    for (const l of final.lines.filter((x) => /^COPY\s+--from=build\s/i.test(x))) {
      const [, , from, to] = l.split(/\s+/);
      fs.cpSync(path.join(root, 'build', from), path.join(app, to), { recursive: true });
    }
    const links = [...final.lines.join(' ').matchAll(/ln -s (\/app\/\S+) (\/usr\/local\/bin\/\S+)/g)];
    expect(links.map((m) => path.basename(m[2]))).to.have.members(['paddle-operator', 'paddle-runtime']);
    for (const [, target, link] of links) fs.symlinkSync(path.join(root, target), path.join(root, link));
    // node and juicefs where the image has them on PATH
    fs.symlinkSync(path.join(testCluster().binDir, 'juicefs'), path.join(bin, 'juicefs'));
    pathEnv = `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`;
  });

  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('ships only production dependencies', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'app', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const installed = fs.readdirSync(path.join(root, 'app', 'node_modules'));
    for (const dev of Object.keys(pkg.devDependencies))
      if (!dev.startsWith('@')) expect(installed, `dev dependency ${dev} in the image`).to.not.include(dev);
    for (const dep of Object.keys(pkg.dependencies)) expect(fs.existsSync(path.join(root, 'app', 'node_modules', dep)), dep).to.equal(true);
    expect(fs.existsSync(path.join(root, 'app', 'dist', 'test'))).to.equal(false);
  });

  it('runs paddle-operator as the image user on the ServiceAccount: ready, then exit 0 on SIGTERM', async () => {
    const user = /^USER\s+(\d+):(\d+)$/m.exec(dockerfile);
    expect(user, 'USER uid:gid in the Dockerfile').to.not.equal(null);
    const [uid, gid] = [Number(user![1]), Number(user![2])];
    expect(uid).to.not.equal(0);
    // a kubeconfig with everything inline, owned by that user, as a mounted token would be
    const sa = await operatorKubeConfig();
    const cluster = sa.getCurrentCluster()!;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'e2e',
          server: cluster.server,
          caData: cluster.caData ?? fs.readFileSync(cluster.caFile!).toString('base64'),
          skipTLSVerify: false,
        },
      ],
      users: [{ name: 'sa', token: sa.getCurrentUser()!.token }],
      contexts: [{ name: 'sa', cluster: 'e2e', user: 'sa' }],
      currentContext: 'sa',
    });
    const kubeconfig = path.join(root, 'kubeconfig');
    fs.writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
    fs.chownSync(kubeconfig, uid, gid);

    const p = spawn(
      'setpriv',
      [
        `--reuid=${uid}`,
        `--regid=${gid}`,
        '--clear-groups',
        path.join(root, 'usr/local/bin/paddle-operator'),
        `--kubeconfig=${kubeconfig}`,
        '--metrics-bind-address=0',
        '--health-probe-bind-address=127.0.0.1:0',
        '--namespace=paddle-image-test',
        '--runtime-image=paddle-operator:e2e',
      ],
      {
        cwd: path.join(root, 'app'),
        env: { PATH: pathEnv, NODE_ENV: 'production', HOME: '/nonexistent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const lines: string[] = [];
    p.stdout.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter(Boolean)));
    p.stderr.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter(Boolean)));
    const exit = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    try {
      const health = await waitFor(
        'paddle-operator to start',
        () => (lines.map(tryJson).find((o) => o?.msg === 'paddle-operator started')?.ports as { health?: number } | undefined)?.health,
        {
          timeoutMs: 30_000,
          check: () => {
            if (p.exitCode !== null) throw new Error('exited');
          },
        },
      ).catch(() => 0);
      expect(health, lines.slice(-20).join('\n')).to.be.greaterThan(0);
      const ready = await waitFor(
        '/readyz',
        async () => ((await fetch(`http://127.0.0.1:${health}/readyz`)).status === 200 ? 200 : undefined),
        { timeoutMs: 20_000, intervalMs: 200 },
      ).catch(() => 0);
      expect(ready, lines.slice(-20).join('\n')).to.equal(200);
      p.kill('SIGTERM');
      expect(await exit, lines.slice(-20).join('\n')).to.equal(0);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  });

  it('runs paddle-runtime serve from the image tree; it answers /healthz', async () => {
    const data = fs.mkdtempSync(path.join(root, 'data-'));
    const p = spawn(path.join(root, 'usr/local/bin/paddle-runtime'), ['serve', `--data-dir=${data}`, '--listen=127.0.0.1:0'], {
      cwd: path.join(root, 'app'),
      env: { PATH: pathEnv, NODE_ENV: 'production', PADDLE_RUNTIME_TOKEN: 'image-test-token-0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    p.stdout.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter(Boolean)));
    p.stderr.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter(Boolean)));
    const exit = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    try {
      const port = await waitFor(
        'paddle-runtime to listen',
        () => Number(lines.map(tryJson).find((o) => o?.msg === 'runtime server listening')?.port ?? 0) || undefined,
        { timeoutMs: 20_000 },
      ).catch(() => 0);
      expect(port, lines.slice(-20).join('\n')).to.be.greaterThan(0);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { engine?: string }).engine).to.equal('juicefs');
      p.kill('SIGTERM');
      expect(await exit, lines.slice(-20).join('\n')).to.equal(0);
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
  });
});
