import { expect } from 'chai';
import {
  childEnv,
  CREDENTIALS_IN_ARGUMENTS,
  CREDENTIALS_IN_ARGUMENTS_VALUE,
  CredentialsInArgumentsError,
  credentialsOnlyInUri,
  ENV_CREDENTIALS,
  infoCommand,
  parseInfoOutput,
  parseMetricsAddress,
  parsePrometheusText,
  parseSize,
  parseSyncSummary,
  placeSourceCredentials,
  syncCommand,
  syncSummaryText,
  tidyJuiceFsLine,
} from '../../../../src/engines/juicefs/commands.js';
import { readStatsOf } from '../../../../src/engines/juicefs/juicefs-stats.js';
import { parseSourceUri } from '../../../../src/engines/juicefs/source-uri.js';

const creds = { 'access-key': 'AKIAEXAMPLE', 'secret-key': 'se/cr+et:1@x' };

function place(uri: string, c: Record<string, string> | undefined = creds, noHttps = false) {
  return placeSourceCredentials(parseSourceUri(uri), uri, c, noHttps);
}

describe('juicefs commands', () => {
  it('puts s3 and minio credentials in the environment only', () => {
    const s3 = place('s3://bucket.s3.us-east-1.amazonaws.com/x/');
    expect(s3.via).to.equal('env');
    expect(s3.uri).to.equal('s3://bucket.s3.us-east-1.amazonaws.com/x/');
    expect(s3.env).to.deep.equal({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'se/cr+et:1@x' });
    const minio = place('minio://127.0.0.1:9000/b/p/');
    expect(minio.env).to.deep.equal({ MINIO_ACCESS_KEY: 'AKIAEXAMPLE', MINIO_SECRET_KEY: 'se/cr+et:1@x' });
    expect(place('s3://b/x/', { ...creds, 'session-token': 'TOK' }).env.AWS_SESSION_TOKEN).to.equal('TOK');
    for (const scheme of Object.keys(ENV_CREDENTIALS)) {
      const p = place(`${scheme}://bucket.example.com/x/`);
      expect(p.via, scheme).to.equal('env');
      expect(p.uri, scheme).to.not.include('AKIA');
      expect(Object.values(p.env), scheme).to.include('AKIAEXAMPLE');
    }
  });

  it('builds an Azure connection string and an HDFS user name', () => {
    const w = place('wasb://container.core.windows.net/x/');
    expect(w.env.AZURE_STORAGE_CONNECTION_STRING).to.equal(
      'DefaultEndpointsProtocol=https;AccountName=AKIAEXAMPLE;AccountKey=se/cr+et:1@x;EndpointSuffix=core.windows.net',
    );
    expect(w.uri).to.not.include('AKIA');
    expect(place('hdfs://nn:8020/x/').env).to.deep.equal({ HADOOP_USER_NAME: 'AKIAEXAMPLE' });
  });

  it('embeds credentials (URL-encoded) only for URI-only storages, and ignores them for file/gs', () => {
    const ks3 = place('ks3://bucket.ks3-cn-beijing.ksyun.com/x/', { ...creds, [CREDENTIALS_IN_ARGUMENTS]: CREDENTIALS_IN_ARGUMENTS_VALUE });
    expect(ks3.via).to.equal('uri');
    expect(ks3.uri).to.equal(`ks3://AKIAEXAMPLE:${encodeURIComponent('se/cr+et:1@x')}@bucket.ks3-cn-beijing.ksyun.com/x/`);
    expect(ks3.env).to.deep.equal({});
    expect(place('file:///srv/x/').via).to.equal('ignored');
    expect(place('gs://bucket/x/').via).to.equal('ignored');
    expect(placeSourceCredentials(parseSourceUri('s3://b/x/'), 's3://b/x/', undefined).via).to.equal('none');
  });

  // Class 6 of issue 12: credentials in argv only with the SampleSet's opt-in.
  it('refuses credentials for URI-only storages without the opt-in marker', () => {
    for (const scheme of ['ks3', 'webdav', 'redis', 'swift', 'b2', 'wasabi', 'qingstor', 'tikv', 'ceph']) {
      expect(credentialsOnlyInUri(scheme), scheme).to.equal(true);
      expect(() => place(`${scheme}://host.example.com/x/`), scheme).to.throw(CredentialsInArgumentsError, /allowCredentialsInArguments/);
      expect(() => place(`${scheme}://host.example.com/x/`, { ...creds, [CREDENTIALS_IN_ARGUMENTS]: 'true' }), scheme).to.throw(
        CredentialsInArgumentsError,
      );
    }
    for (const scheme of [...Object.keys(ENV_CREDENTIALS), 'wasb', 'hdfs', 'gs', 'file'])
      expect(credentialsOnlyInUri(scheme), scheme).to.equal(false);
  });

  it('masks the whole userinfo in the displayed command line, also with / : @ in the secret', () => {
    const uri = placeSourceCredentials(parseSourceUri('webdav://dav.example.com/x/'), 'webdav://dav.example.com/x/', {
      ...creds,
      [CREDENTIALS_IN_ARGUMENTS]: CREDENTIALS_IN_ARGUMENTS_VALUE,
    }).uri;
    for (const source of [uri, 'webdav://AKIAEXAMPLE:se/cr+et:1@x@dav.example.com/x/']) {
      const cmd = syncCommand(source, '/data', {});
      const shown = cmd.display.join(' ');
      expect(shown).to.include('webdav://****@dav.example.com/x/');
      for (const part of ['AKIAEXAMPLE', 'se/cr', 'cr+et', 'se%2Fcr']) expect(shown).to.not.include(part);
    }
  });

  it('builds the sync command with both ends ending in / and masks secrets for display', () => {
    const cmd = syncCommand('minio://127.0.0.1:9000/b/p', 'jfs://META/train', { threads: 4, update: true });
    expect(cmd.args).to.deep.equal([
      'sync',
      '--metrics',
      '127.0.0.1:0',
      '--threads=4',
      '--update',
      'minio://127.0.0.1:9000/b/p/',
      'jfs://META/train/',
    ]);
    const withCreds = syncCommand('ks3://AK:SK@bucket.example.com/x/', '/data', {});
    expect(withCreds.display.join(' ')).to.not.include('SK');
    expect(withCreds.display).to.include('ks3://****@bucket.example.com/x/');
  });

  it('builds the info command', () => {
    expect(infoCommand('/data')).to.deep.equal(['info', '-r', '--strict', '/data']);
  });

  it('parses the sync summary line', () => {
    const line =
      '2026/11/30 09:42:18.384841 juicefs[24724] <INFO>: Found: 20, excluded: 1 (2 B), skipped: 3 (1.50 KiB), copied: 16 (9.54 MiB), extra: 0 (0 B), deleted: 2, failed: 0 [Sync@sync.go:1677]';
    const s = parseSyncSummary(line)!;
    expect(s).to.include({ found: 20, excluded: 1, skipped: 3, copied: 16, extra: 0, deleted: 2, failed: 0, lost: 0 });
    expect(s.skippedBytes).to.equal(1536);
    expect(s.copiedBytes).to.be.closeTo(10003415, 6000);
    expect(syncSummaryText(line)).to.equal(
      'Found: 20, excluded: 1 (2 B), skipped: 3 (1.50 KiB), copied: 16 (9.54 MiB), extra: 0 (0 B), deleted: 2, failed: 0',
    );
    expect(parseSyncSummary('something else')).to.equal(undefined);
    expect(parseSize('12 B')).to.equal(12);
    expect(parseSize('2.00 GiB')).to.equal(2 * 1024 ** 3);
  });

  it('parses juicefs info, Prometheus text and the metrics address', () => {
    const info =
      '/mnt :\n  inode: 1\n  files: 2\n   dirs: 3\n length: 9.54 MiB (10000003 Bytes)\n   size: 9.55 MiB (10018816 Bytes)\n   path: /\n';
    expect(parseInfoOutput(info)).to.deep.equal({ files: 2, dirs: 3, bytes: 10000003 });
    expect(parseInfoOutput('/mnt/a :\n  files: 1\n   dirs: 2\n length: 3 Bytes\n')).to.deep.equal({ files: 1, dirs: 2, bytes: 3 });
    const prom = parsePrometheusText(
      '# HELP x\njuicefs_sync_handled{cmd="sync",pid="1"} 5\njuicefs_sync_copied_bytes{cmd="sync"} 1.5e+06\njuicefs_blockcache_bytes 42\n',
    );
    expect(prom.get('juicefs_sync_handled')).to.equal(5);
    expect(prom.get('juicefs_sync_copied_bytes')).to.equal(1500000);
    expect(prom.get('juicefs_blockcache_bytes')).to.equal(42);
    const mount = parsePrometheusText(
      'juicefs_blockcache_hits{vol_name="v",mp="/data"} 90\njuicefs_blockcache_miss{vol_name="v",mp="/data"} 10\njuicefs_blockcache_hit_bytes{vol_name="v"} 368640\njuicefs_blockcache_miss_bytes{vol_name="v"} 40960\n',
    );
    expect(readStatsOf(mount)).to.deep.equal({ hits: 90, misses: 10, hitBytes: 368640, missBytes: 40960 });
    expect(readStatsOf(prom)).to.equal(undefined);
    expect(parseMetricsAddress('... <INFO>: Prometheus metrics listening on 127.0.0.1:33929 [exposeMetrics@mount.go:134]')).to.equal(
      '127.0.0.1:33929',
    );
  });

  it('tidies juicefs log lines', () => {
    expect(
      tidyJuiceFsLine(
        '2026/11/30 09:53:07.470155 juicefs[8081] <INFO>: Prometheus metrics listening on 127.0.0.1:33929 [exposeMetrics@mount.go:134]',
      ),
    ).to.equal('INFO Prometheus metrics listening on 127.0.0.1:33929');
    expect(tidyJuiceFsLine('plain')).to.equal('plain');
  });

  it('never passes the runtime token to a child', () => {
    const env = childEnv({ PATH: '/bin', PADDLE_RUNTIME_TOKEN: 'secret' }, { MINIO_ACCESS_KEY: 'a' });
    expect(env).to.include({ PATH: '/bin', MINIO_ACCESS_KEY: 'a' });
    expect(env.PADDLE_RUNTIME_TOKEN).to.equal(undefined);
  });
});
