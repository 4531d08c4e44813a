import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../src/observability/logger.js';
import type { ServingKeyPair } from '../../../src/webhook/certificate-source.js';
import { CERT_FILE, DirectoryCertificateSource, KEY_FILE } from '../../../src/webhook/directory-certificate-source.js';
import { issueServingCertificate } from '../../harness/pki.js';

const until = async (what: string, ok: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('webhook: certificates from a directory (tls.crt, tls.key)', function () {
  this.timeout(20_000);
  let dir: string;
  let source: DirectoryCertificateSource | undefined;
  const log = createLogger({ silent: true });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-webhook-certs-'));
  });
  afterEach(() => {
    source?.close();
    source = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has no pair while the files are missing, and takes the pair as soon as both are there', async () => {
    source = new DirectoryCertificateSource(dir, { logger: log, pollIntervalMs: 60_000, settleMs: 20 });
    const heard: ServingKeyPair[] = [];
    source.onChange((p) => heard.push(p));
    source.start();
    expect(source.current()).to.equal(undefined);
    await issueServingCertificate(dir, ['IP:127.0.0.1']);
    await until('the watch to load the pair', () => heard.length > 0);
    expect(source.current()).to.deep.equal({
      cert: fs.readFileSync(path.join(dir, CERT_FILE), 'utf8'),
      key: fs.readFileSync(path.join(dir, KEY_FILE), 'utf8'),
    });
    expect(heard[heard.length - 1]).to.equal(source.current());
  });

  it('announces a rotated pair once, and ignores reads that find the same pair', async () => {
    await issueServingCertificate(dir, ['IP:127.0.0.1']);
    source = new DirectoryCertificateSource(dir, { logger: log, pollIntervalMs: 60_000, settleMs: 20 });
    source.start();
    const first = source.current()!;
    expect(first).to.not.equal(undefined);
    const heard: ServingKeyPair[] = [];
    source.onChange((p) => heard.push(p));
    expect(source.reload(), 'same files').to.equal(false);
    await issueServingCertificate(dir, ['IP:127.0.0.1']);
    await until(
      'the rotated pair',
      () => source!.current()?.cert !== first.cert && source!.current()?.key === fs.readFileSync(path.join(dir, KEY_FILE), 'utf8'),
    );
    expect(source.reload()).to.equal(false);
    expect(heard.at(-1)).to.equal(source.current());
  });

  it('never takes a key that does not match its certificate (a half-written update) and keeps the previous pair', async () => {
    await issueServingCertificate(dir, ['IP:127.0.0.1']);
    source = new DirectoryCertificateSource(dir, { logger: log, pollIntervalMs: 60_000 });
    source.start();
    const good = source.current()!;
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-webhook-other-'));
    try {
      await issueServingCertificate(other, ['IP:127.0.0.1']);
      fs.copyFileSync(path.join(other, CERT_FILE), path.join(dir, CERT_FILE)); // the new cert, the old key
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
    expect(source.reload()).to.equal(false);
    expect(source.current()).to.equal(good);
    fs.writeFileSync(path.join(dir, KEY_FILE), 'not a key');
    expect(source.reload()).to.equal(false);
    fs.rmSync(path.join(dir, KEY_FILE));
    expect(source.reload()).to.equal(false);
    expect(source.current()).to.equal(good);
  });

  it('follows a Secret volume swap (..data symlink replaced atomically), through the poll when the watch misses it', async () => {
    const version = async (name: string): Promise<void> => {
      await issueServingCertificate(path.join(dir, name), ['IP:127.0.0.1'], 'ca');
      fs.symlinkSync(name, path.join(dir, '..data_tmp'));
      fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    };
    await version('..v1');
    for (const f of [CERT_FILE, KEY_FILE]) fs.symlinkSync(path.join('..data', f), path.join(dir, f));
    source = new DirectoryCertificateSource(dir, { logger: log, pollIntervalMs: 100, settleMs: 20 });
    source.start();
    const first = source.current()!;
    await version('..v2');
    await until('the swapped pair', () => source!.current()?.cert === fs.readFileSync(path.join(dir, '..v2', CERT_FILE), 'utf8'));
    expect(source.current()!.cert).to.not.equal(first.cert);
  });
});
