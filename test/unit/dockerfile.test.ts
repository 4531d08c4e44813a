import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The image must ship the juicefs the tests ran against, on the Node major CI runs. */
describe('Dockerfile', () => {
  const dockerfile = fs.readFileSync('Dockerfile', 'utf8');
  const versions = Object.fromEntries(
    fs
      .readFileSync('test/toolchain/versions.env', 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split('=') as [string, string]),
  );

  it('pins the juicefs version the toolchain builds', () => {
    const m = /^ARG JUICEFS_VERSION=(\S+)$/m.exec(dockerfile);
    expect(m, 'ARG JUICEFS_VERSION in Dockerfile').to.not.equal(null);
    expect(m![1]).to.equal(versions.JUICEFS_VERSION);
  });

  it('runs on the Node.js major version CI uses', () => {
    const froms = [...dockerfile.matchAll(/^FROM node:(\d+)[.\d]*-\S+/gm)].map((m) => m[1]);
    expect(froms.length).to.be.greaterThan(0);
    for (const major of froms) expect(major).to.equal(process.versions.node.split('.')[0]);
  });

  it('builds both entry points into one non-root image', () => {
    expect(dockerfile).to.match(/paddle-operator/);
    expect(dockerfile).to.match(/paddle-runtime/);
    expect(dockerfile).to.match(/^USER 65532/m);
    expect(dockerfile).to.match(/npm ci/);
  });
});

describe('Dockerfile juicefs stage', () => {
  /** The stage's RUN script as /bin/sh -c receives it (continuations joined, mount flags dropped). */
  function juicefsRunScript(): string {
    const text = fs.readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ');
    const stage = text.slice(text.indexOf('AS juicefs'), text.indexOf('AS build'));
    const run = /^RUN (.*)$/m.exec(stage);
    expect(run, 'RUN in the juicefs stage').to.not.equal(null);
    return run![1].replace(/--mount=\S+\s*/g, '');
  }

  it('stops at once when the module proxy gives nothing (not later with a misleading error)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-'));
    try {
      // a `go` that answers nothing, as a failing proxy or a typo in the version would
      fs.writeFileSync(path.join(tmp, 'go'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      const script = juicefsRunScript().replace(/\/out\b/g, path.join(tmp, 'out'));
      const r = spawnSync('sh', ['-c', script], {
        cwd: tmp,
        encoding: 'utf8',
        env: { PATH: `${tmp}:/usr/bin:/bin`, JUICEFS_VERSION: 'v0.0.0' },
      });
      expect(r.status).to.not.equal(0);
      expect(r.stderr).to.include('the module proxy gave no go.mod');
      expect(r.stderr).to.not.include('cannot stat');
      expect(fs.existsSync(path.join(tmp, 'go.mod'))).to.equal(false);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
