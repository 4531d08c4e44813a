// The JuiceFS runtime's submission checks (issue 12, class 5): a request `run` would refuse is
// refused when it is submitted.
import { expect } from 'chai';
import { JuiceFsRuntime } from '../../../../src/engines/juicefs/juicefs-runtime.js';
import { validateJuiceFsRequest } from '../../../../src/engines/juicefs/request-validation.js';

const env = { cacheDirs: ['/cache/0', '/cache/1'], hostCacheDirs: ['/dev/shm/ds', '/mnt/ssd/ds'] };

describe('validateJuiceFsRequest', () => {
  it('accepts what the runtime can run', () => {
    validateJuiceFsRequest(
      'sync',
      { source: 's3://bucket.endpoint/prefix/', flags: { threads: 8, update: true, include: ['*.jpg'] } },
      env,
    );
    validateJuiceFsRequest('sync', { source: 'file:///srv/data/x' }, { ...env, fileSourceRoots: ['/srv/data'] });
    validateJuiceFsRequest('clear', {}, env);
    validateJuiceFsRequest('clear', { paths: ['abc/raw', '/cache/0/uuid/raw/chunks', '/dev/shm/ds/uuid/raw'] }, env);
    validateJuiceFsRequest('warmup', { shard: 0, shards: 1 }, env);
    validateJuiceFsRequest('rmr', { paths: ['/a'] }, env);
  });

  it('refuses sync sources the runtime would refuse, without quoting credentials', () => {
    expect(() => validateJuiceFsRequest('sync', { source: 'ftp://host/x' }, env)).to.throw(/scheme "ftp" is not supported/);
    expect(() => validateJuiceFsRequest('sync', { source: 'not a uri' }, env)).to.throw(/source URI/);
    let msg = '';
    try {
      validateJuiceFsRequest('sync', { source: 's3://AKIA:secret-value@bucket/x' }, env);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).to.match(/must not embed credentials/);
    expect(msg).to.not.include('secret-value');
    expect(() => validateJuiceFsRequest('sync', { source: 'file:///srv/data/x' }, env)).to.throw(/file:\/\/ sources are disabled/);
    expect(() => validateJuiceFsRequest('sync', { source: 'file:///srv/%E0%A4%A' }, { ...env, fileSourceRoots: ['/srv'] })).to.throw(
      /percent-encoding/,
    );
  });

  it('refuses sync flags juicefs sync would not take', () => {
    expect(() => validateJuiceFsRequest('sync', { source: 's3://b/x', flags: { manager: 'x' } }, env)).to.throw(
      /syncOptions.manager: is not a supported/,
    );
    expect(() => validateJuiceFsRequest('sync', { source: 's3://b/x', flags: { threads: 100000 } }, env)).to.throw(/threads/);
    expect(() => validateJuiceFsRequest('sync', { source: 's3://b/x', flags: { update: 'yes' } }, env)).to.throw(/true or false/);
    expect(() => validateJuiceFsRequest('sync', { source: 's3://b/x', flags: { 'max-size': '12 parsecs' } }, env)).to.throw(
      /invalid value/,
    );
  });

  it("refuses clear paths outside this runtime's cache tiers, and clear without tiers", () => {
    expect(() => validateJuiceFsRequest('clear', { paths: ['/var/lib/etcd'] }, env)).to.throw(/paths\[0\] is not inside a cache directory/);
    expect(() => validateJuiceFsRequest('clear', { paths: ['ok', '/cache/2/x'] }, env)).to.throw(/paths\[1\]/);
    expect(() => validateJuiceFsRequest('clear', { paths: ['../x'] }, env)).to.throw(/'\.\.' segment/);
    expect(() => validateJuiceFsRequest('clear', {}, { cacheDirs: [] })).to.throw(/no cache directories/);
  });

  it('is what JuiceFsRuntime.validate runs', () => {
    const rt = new JuiceFsRuntime({ dataDir: '/data', ...env, binary: '/bin/false' });
    expect(() => rt.validate('sync', { source: 's3://u:p@b/x' })).to.throw(/must not embed credentials/);
    expect(() => rt.validate('clear', { paths: ['/etc'] })).to.throw(/not inside a cache directory/);
    rt.validate('rmr', { paths: ['/a'] });
  });
});
