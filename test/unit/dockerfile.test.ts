import { expect } from 'chai';
import fs from 'node:fs';

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
