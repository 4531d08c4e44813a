import { expect } from 'chai';
import { CliError, formatRuntimeArgs, parseRuntimeArgs } from '../../../src/api/runtime-cli.js';
import { maskUriUserinfo, maskUriUserinfoDeep, secretScrubber } from '../../../src/observability/scrub.js';

describe('paddle-runtime command line', () => {
  it('round-trips through format and parse', () => {
    const args = formatRuntimeArgs({
      engine: 'juicefs',
      dataDir: '/data',
      cacheDirs: ['/cache/0', '/cache/1'],
      hostCacheDirs: ['/dev/shm/a', '/mnt/b'],
      host: '127.0.0.9',
      port: 7716,
      fileSourceRoots: ['/srv'],
    });
    expect(args[0]).to.equal('serve');
    const o = parseRuntimeArgs(args);
    expect(o).to.deep.include({
      command: 'serve',
      engine: 'juicefs',
      dataDir: '/data',
      cacheDirs: ['/cache/0', '/cache/1'],
      hostCacheDirs: ['/dev/shm/a', '/mnt/b'],
      host: '127.0.0.9',
      port: 7716,
      fileSourceRoots: ['/srv'],
    });
    const clean = parseRuntimeArgs(
      formatRuntimeArgs({ command: 'clean-cache', engine: 'juicefs', dataDir: '/data', cacheDirs: ['/cache/0'] }),
    );
    expect(clean).to.deep.include({ command: 'clean-cache', cacheDirs: ['/cache/0'], hostCacheDirs: [] });
  });

  it('has defaults and rejects bad input', () => {
    expect(parseRuntimeArgs(['--data-dir', '/d'])).to.deep.include({
      command: 'serve',
      engine: 'juicefs',
      host: '0.0.0.0',
      port: 7716,
      logFormat: 'json',
    });
    expect(parseRuntimeArgs(['--data-dir', '/d', '--listen', '[::1]:80'])).to.deep.include({ host: '::1', port: 80 });
    expect(() => parseRuntimeArgs([])).to.throw(CliError, /data-dir/);
    expect(() => parseRuntimeArgs(['bogus', '--data-dir', '/d'])).to.throw(CliError, /unknown command/);
    expect(() => parseRuntimeArgs(['--data-dir', '/d', '--nope'])).to.throw(CliError);
    expect(() => parseRuntimeArgs(['--data-dir', '/d', '--listen', 'x'])).to.throw(CliError);
    expect(() => parseRuntimeArgs(['--data-dir', '/d', '--cache-dir', '/a', '--host-cache-dir', '/b', '--host-cache-dir', '/c'])).to.throw(
      CliError,
      /once per/,
    );
  });
});

describe('secret scrubbing', () => {
  it('masks known values in plain and URL-encoded form', () => {
    const scrub = secretScrubber(['s3cr/t+x', 'AKIA123', '', undefined, 'ab']);
    expect(scrub('key s3cr/t+x and s3cr%2Ft%2Bx and AKIA123 ab')).to.equal('key **** and **** and **** ab');
  });
  it('masks the whole userinfo of URIs', () => {
    expect(maskUriUserinfo('copy from s3://AK:SK@bucket/x to file:///d')).to.equal('copy from s3://****@bucket/x to file:///d');
    expect(maskUriUserinfo('redis://:pw@host:6379/1')).to.equal('redis://****@host:6379/1');
    expect(maskUriUserinfo('no uri here: a@b')).to.equal('no uri here: a@b');
    expect(maskUriUserinfo('s3://bucket.endpoint/prefix/ stays')).to.equal('s3://bucket.endpoint/prefix/ stays');
  });

  // Class 6 of issue 12: secret keys contain '/', ':', '@'; juicefs and Go quote URIs in errors.
  const SECRET_PARTS = ['sec/ret', 'se@cr:et', 'w/x+y=z', 'AKIAXYZ'];
  const NASTY: Array<[string, string]> = [
    ['s3://AKIAXYZ:sec/ret@bucket/', 's3://****@bucket/'],
    ['s3://AKIAXYZ:sec/ret/more@bucket.s3.amazonaws.com/prefix/', 's3://****@bucket.s3.amazonaws.com/prefix/'],
    ['oss://AKIAXYZ:se@cr:et@bucket/p', 'oss://****@bucket/p'],
    ['webdav://AKIAXYZ:w/x+y=z@host:8080/dav/', 'webdav://****@host:8080/dav/'],
    ['s3://AKIAXYZ%3Asec%2Fret%40bucket/', 's3://****@bucket/'],
    ['s3://AKIAXYZ%253Asec%252Fret%2540bucket/', 's3://****@bucket/'],
    ['parse "s3://AKIAXYZ:sec/ret@bucket/": invalid port', 'parse "s3://****@bucket/": invalid port'],
    ['{"argv":"sync s3://AKIAXYZ:sec/ret@b/ file:///d/"}', '{"argv":"sync s3://****@b/ file:///d/"}'],
    ['from s3://AKIAXYZ:sec/ret@x/ to ks3://AKIAXYZ:w/x+y=z@y/', 'from s3://****@x/ to ks3://****@y/'],
    ['S3://AKIAXYZ:sec/ret@bucket', 'S3://****@bucket'],
  ];
  for (const [text, masked] of NASTY) {
    it(`masks ${JSON.stringify(text)}`, () => {
      const out = maskUriUserinfo(text);
      expect(out).to.equal(masked);
      for (const part of SECRET_PARTS) expect(out).to.not.include(part);
      expect(secretScrubber([])(text)).to.equal(masked);
    });
  }

  it('masks every string of a status patch', () => {
    const status = {
      conditions: [{ type: 'Ready', message: 'failed: s3://AKIAXYZ:sec/ret@b/' }],
      nodes: [{ message: 'webdav://u:p/w@h/' }],
      n: 3,
    };
    expect(maskUriUserinfoDeep(status)).to.deep.equal({
      conditions: [{ type: 'Ready', message: 'failed: s3://****@b/' }],
      nodes: [{ message: 'webdav://****@h/' }],
      n: 3,
    });
  });
});
