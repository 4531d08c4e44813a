import { expect } from 'chai';
import { CliError, formatRuntimeArgs, parseRuntimeArgs } from '../../../src/runtime/cli.js';
import { maskUriPasswords, secretScrubber } from '../../../src/runtime/scrub.js';

describe('paddle-runtime command line', () => {
  it('round-trips through format and parse', () => {
    const args = formatRuntimeArgs({ engine: 'juicefs', dataDir: '/data', cacheDirs: ['/cache/0', '/cache/1'], hostCacheDirs: ['/dev/shm/a', '/mnt/b'], host: '127.0.0.9', port: 7716, fileSourceRoots: ['/srv'] });
    expect(args[0]).to.equal('serve');
    const o = parseRuntimeArgs(args);
    expect(o).to.deep.include({ command: 'serve', engine: 'juicefs', dataDir: '/data', cacheDirs: ['/cache/0', '/cache/1'], hostCacheDirs: ['/dev/shm/a', '/mnt/b'], host: '127.0.0.9', port: 7716, fileSourceRoots: ['/srv'] });
    const clean = parseRuntimeArgs(formatRuntimeArgs({ command: 'clean-cache', engine: 'juicefs', dataDir: '/data', cacheDirs: ['/cache/0'] }));
    expect(clean).to.deep.include({ command: 'clean-cache', cacheDirs: ['/cache/0'], hostCacheDirs: [] });
  });

  it('has defaults and rejects bad input', () => {
    expect(parseRuntimeArgs(['--data-dir', '/d'])).to.deep.include({ command: 'serve', engine: 'juicefs', host: '0.0.0.0', port: 7716, logFormat: 'json' });
    expect(parseRuntimeArgs(['--data-dir', '/d', '--listen', '[::1]:80'])).to.deep.include({ host: '::1', port: 80 });
    expect(() => parseRuntimeArgs([])).to.throw(CliError, /data-dir/);
    expect(() => parseRuntimeArgs(['bogus', '--data-dir', '/d'])).to.throw(CliError, /unknown command/);
    expect(() => parseRuntimeArgs(['--data-dir', '/d', '--nope'])).to.throw(CliError);
    expect(() => parseRuntimeArgs(['--data-dir', '/d', '--listen', 'x'])).to.throw(CliError);
    expect(() => parseRuntimeArgs(['--data-dir', '/d', '--cache-dir', '/a', '--host-cache-dir', '/b', '--host-cache-dir', '/c'])).to.throw(CliError, /once per/);
  });
});

describe('secret scrubbing', () => {
  it('masks known values in plain and URL-encoded form', () => {
    const scrub = secretScrubber(['s3cr/t+x', 'AKIA123', '', undefined, 'ab']);
    expect(scrub('key s3cr/t+x and s3cr%2Ft%2Bx and AKIA123 ab')).to.equal('key **** and **** and **** ab');
  });
  it('masks passwords in URIs', () => {
    expect(maskUriPasswords('copy from s3://AK:SK@bucket/x to file:///d')).to.equal('copy from s3://AK:****@bucket/x to file:///d');
    expect(maskUriPasswords('redis://:pw@host:6379/1')).to.equal('redis://:****@host:6379/1');
    expect(maskUriPasswords('no uri here: a@b')).to.equal('no uri here: a@b');
  });
});
