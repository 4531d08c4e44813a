import { expect } from 'chai';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { JuiceFsEngine } from '../../../../src/engines/juicefs/juicefs-engine.js';
import { CREDENTIALS_IN_ARGUMENTS, CREDENTIALS_IN_ARGUMENTS_VALUE } from '../../../../src/engines/juicefs/commands.js';
import { credentialsInUri, parseSourceUri, SOURCE_SCHEMES, withTrailingSlash } from '../../../../src/engines/juicefs/source-uri.js';
import { syncFlagArgs, validateSyncFlags } from '../../../../src/engines/juicefs/sync-flags.js';
import { validateJobRequest } from '../../../../src/runtime/validation.js';
import { sampleJob, sampleSet, secret } from '../fixtures.js';

const engine = new JuiceFsEngine();
const s = sampleSet();

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(SpecError);
    return (err as SpecError).reason;
  }
  return 'no error';
}

describe('juicefs source URIs', () => {
  it('accepts the original schemes plus file', () => {
    expect(SOURCE_SCHEMES).to.include.members(['s3', 'minio', 'oss', 'bos', 'hdfs', 'gs', 'file', 'webdav', 'tikv']);
    expect(parseSourceUri('s3://bucket.s3.us-east-1.amazonaws.com/prefix/')).to.include({
      scheme: 's3',
      host: 'bucket.s3.us-east-1.amazonaws.com',
      path: '/prefix/',
    });
    expect(parseSourceUri('minio://127.0.0.1:9000/bkt/pre')).to.include({ scheme: 'minio', host: '127.0.0.1:9000', path: '/bkt/pre' });
    expect(parseSourceUri('file:///srv/data/')).to.include({ scheme: 'file', host: '', path: '/srv/data/' });
    expect(parseSourceUri('hdfs://namenode:8020/data')).to.include({ scheme: 'hdfs' });
    expect(parseSourceUri('s3://bucket/prefix%20with%20spaces/')).to.include({ scheme: 's3', path: '/prefix%20with%20spaces/' });
  });

  // Class 6 of issue 12: any userinfo-looking text anywhere in a source URI.
  const NASTY = [
    's3://AKIDX:Zq9/xW7@bucket/',
    's3://AKIDX:Zq9/xW7/with/many/slashes@bucket.s3.amazonaws.com/prefix/',
    's3://AKIDX@bucket/',
    's3://:Zq9xW7@bucket/',
    's3://AKIDX:Zq9:x:W7@bucket/',
    's3://AKIDX:Zq9@xW7@bucket/',
    's3://bucket/prefix/AKIDX:Zq9xW7@host/',
    's3://bucket/a@b',
    's3://AKIDX%3AZq9xW7%40bucket/',
    's3://AKIDX:Zq9xW7%40bucket/',
    's3://bucket/AKIDX:Zq9%2FxW7%40x/',
    's3://bucket/%2540/',
    's3://bucket/%252540/',
    's3://AKIDX%3AZq9xW7/bucket/',
    'hdfs://hadoop@namenode:8020/data',
    'webdav://user:Pw%2FZ9@host/dav/',
    'redis://:PwZ9@host:6379/1',
    'ks3://AKIDX:SKZ9:TOKZ9@bucket.ks3-cn-beijing.ksyun.com/x/',
    'S3://AKIDX:Zq9/xW7@bucket/',
    'unknown://AKIDX:Zq9/xW7@bucket/',
    'file:///srv/AKIDX:Zq9xW7@x/',
    's3://AKIDX:Zq9/xW7@bucket/%zz',
  ];
  for (const uri of NASTY) {
    it(`refuses ${JSON.stringify(uri)} with CredentialsInURI, without echoing it`, () => {
      expect(credentialsInUri(uri)).to.be.a('string');
      try {
        parseSourceUri(uri);
        expect.fail('accepted');
      } catch (err) {
        expect(err).to.be.instanceOf(SpecError);
        expect((err as SpecError).reason).to.equal('CredentialsInURI');
        for (const part of ['AKIDX', 'Zq9', 'xW7', 'PwZ9', 'SKZ9', 'TOKZ9']) expect((err as SpecError).message).to.not.include(part);
      }
    });
  }

  it('rejects credentials, unknown schemes and malformed URIs', () => {
    expect(reason(() => parseSourceUri('s3://AK:SK@bucket/x'))).to.equal('CredentialsInURI');
    expect(reason(() => parseSourceUri('s3://AK@bucket/x'))).to.equal('CredentialsInURI');
    expect(reason(() => parseSourceUri('hdfs://user:pw@nn:8020/x'))).to.equal('CredentialsInURI');
    expect(reason(() => parseSourceUri('s3://KEY:sec/ret@bucket/'))).to.equal('CredentialsInURI');
    expect(reason(() => parseSourceUri('http://example.com/x'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri('jfs://META/x'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri('bucket/x'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri('s3:///x'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri('file://host/x'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri('file:///srv/../etc'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri('s3://b/a b'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri('s3://b/x://y'))).to.equal('InvalidSource');
    expect(reason(() => parseSourceUri(''))).to.equal('SourceMissing');
  });

  it('adds a trailing slash', () => {
    expect(withTrailingSlash('s3://b/x')).to.equal('s3://b/x/');
    expect(withTrailingSlash('s3://b/x/')).to.equal('s3://b/x/');
  });
});

describe('juicefs sync flags', () => {
  it('passes allowed flags through, drops false booleans and http-port', () => {
    const f = validateSyncFlags({
      threads: 20,
      update: true,
      'force-update': false,
      'delete-dst': true,
      exclude: '*.tmp',
      include: ['a*', 'b*'],
      bwlimit: 100,
      'http-port': 6070,
      'no-https': true,
    });
    expect(f).to.deep.equal({
      threads: 20,
      update: true,
      'delete-dst': true,
      exclude: ['*.tmp'],
      include: ['a*', 'b*'],
      bwlimit: 100,
      'no-https': true,
    });
    expect(syncFlagArgs(f)).to.deep.equal([
      '--include=a*',
      '--include=b*',
      '--exclude=*.tmp',
      '--bwlimit=100',
      '--delete-dst',
      '--no-https',
      '--threads=20',
      '--update',
    ]);
  });

  it('rejects unknown, cluster and file-reading flags and bad values', () => {
    for (const bad of [{ manager: 'x' }, { worker: 'h1,h2' }, { 'files-from': '/etc/passwd' }, { metrics: '0.0.0.0:1' }, { nope: 1 }]) {
      expect(
        reason(() => validateSyncFlags(bad)),
        JSON.stringify(bad),
      ).to.equal('InvalidSyncOption');
    }
    expect(reason(() => validateSyncFlags({ threads: -1 }))).to.equal('InvalidSyncOption');
    expect(reason(() => validateSyncFlags({ threads: 5000 }))).to.equal('InvalidSyncOption');
    expect(reason(() => validateSyncFlags({ update: 'yes' }))).to.equal('InvalidSyncOption');
    expect(reason(() => validateSyncFlags({ exclude: 'a\nb' }))).to.equal('InvalidSyncOption');
  });
});

describe('juicefs job requests', () => {
  it('builds the initial sync from the SampleSet source with credentials from the Secret', () => {
    const req = engine.initialSyncRequest(s, 'sync-1', secret({ 'access-key': 'AKIA', 'secret-key': 'SECRET' }));
    expect(req).to.deep.equal({
      id: 'sync-1',
      type: 'sync',
      options: { source: 's3://bucket.s3.us-east-1.amazonaws.com/imagenet/' },
      credentials: { 'access-key': 'AKIA', 'secret-key': 'SECRET' },
    });
    expect(validateJobRequest(req)).to.deep.equal(req);
    const noCreds = engine.initialSyncRequest(s, 'sync-2', undefined);
    expect(noCreds.credentials).to.equal(undefined);
    expect(JSON.stringify(noCreds.options)).to.not.include('AKIA');
  });

  it('translates a sync SampleJob: source, destination and flags', () => {
    const job = sampleJob({
      type: 'sync',
      syncOptions: { source: 'minio://10.0.0.1:9000/bkt/train', destination: '/train', threads: 8, 'delete-dst': true, update: false },
    });
    const req = engine.jobRequest(job, s, 'j1', 0, 1, secret({ 'access-key': 'a', 'secret-key': 'b', other: 'x' }));
    expect(req).to.deep.equal({
      id: 'j1',
      type: 'sync',
      options: { source: 'minio://10.0.0.1:9000/bkt/train', destination: '/train', flags: { threads: 8, 'delete-dst': true } },
      credentials: { 'access-key': 'a', 'secret-key': 'b' },
    });
    expect(validateJobRequest(req)).to.deep.equal(req);
    // The SampleSet's source is the default.
    expect((engine.jobRequest(sampleJob({ type: 'sync' }), s, 'j2', 0, 1, undefined).options as { source: string }).source).to.equal(
      s.spec.source!.uri,
    );
  });

  // Class 6 of issue 12: storages that take credentials only in the URI (so in juicefs's argv).
  it('refuses credentials for URI-only storages unless the SampleSet opts in, and marks the opt-in', () => {
    const creds = secret({ 'access-key': 'AKIA', 'secret-key': 'sec/ret' });
    const webdav = sampleSet({ source: { uri: 'webdav://dav.example.com/data/' } });
    expect(reason(() => engine.initialSyncRequest(webdav, 'i', creds))).to.equal('CredentialsInArguments');
    expect(
      reason(() =>
        engine.jobRequest(sampleJob({ type: 'sync', syncOptions: { source: 'ks3://b.ks3-cn-beijing.ksyun.com/x/' } }), s, 'j', 0, 1, creds),
      ),
    ).to.equal('CredentialsInArguments');
    // no credentials: nothing goes into argv, nothing to refuse
    expect(engine.initialSyncRequest(webdav, 'i', undefined).credentials).to.equal(undefined);
    // env storages never need the opt-in and never get the marker
    expect(engine.initialSyncRequest(s, 'i', creds).credentials).to.deep.equal({ 'access-key': 'AKIA', 'secret-key': 'sec/ret' });
    const optedIn = sampleSet({ source: { uri: 'webdav://dav.example.com/data/', allowCredentialsInArguments: true } });
    expect(engine.initialSyncRequest(optedIn, 'i', creds).credentials).to.deep.equal({
      'access-key': 'AKIA',
      'secret-key': 'sec/ret',
      [CREDENTIALS_IN_ARGUMENTS]: CREDENTIALS_IN_ARGUMENTS_VALUE,
    });
    // honoured for SampleJob syncs against that SampleSet, whatever their source
    const job = sampleJob({ type: 'sync', syncOptions: { source: 'swift://c.example.com/x/' } });
    expect(engine.jobRequest(job, optedIn, 'j', 0, 1, creds).credentials).to.include({
      [CREDENTIALS_IN_ARGUMENTS]: CREDENTIALS_IN_ARGUMENTS_VALUE,
    });
    // a Secret cannot set the marker itself
    const sneaky = secret({ 'access-key': 'AKIA', 'secret-key': 'x', [CREDENTIALS_IN_ARGUMENTS]: CREDENTIALS_IN_ARGUMENTS_VALUE });
    expect(reason(() => engine.initialSyncRequest(webdav, 'i', sneaky))).to.equal('CredentialsInArguments');
  });

  it('rejects sync jobs without a source, with credentials in the URI or unsafe destinations', () => {
    expect(reason(() => engine.jobRequest(sampleJob({ type: 'sync' }), sampleSet({ source: undefined }), 'j', 0, 1, undefined))).to.equal(
      'SourceMissing',
    );
    expect(
      reason(() =>
        engine.jobRequest(
          sampleJob({ type: 'sync', syncOptions: { source: 'oss://ak:sk@b.oss.aliyuncs.com/x' } }),
          s,
          'j',
          0,
          1,
          undefined,
        ),
      ),
    ).to.equal('CredentialsInURI');
    expect(
      reason(() => engine.jobRequest(sampleJob({ type: 'sync', syncOptions: { destination: '../../etc' } }), s, 'j', 0, 1, undefined)),
    ).to.equal('InvalidPath');
    expect(
      reason(() => engine.jobRequest(sampleJob({ type: 'sync', syncOptions: { destination: 'a\0b' } }), s, 'j', 0, 1, undefined)),
    ).to.equal('InvalidPath');
  });

  it('translates warmup with this pod shard', () => {
    const job = sampleJob({ type: 'warmup', warmupOptions: { paths: ['/train', 'val'], threads: 16, strategyName: 'random' } });
    const req = engine.jobRequest(job, s, 'w1', 1, 3, undefined);
    expect(req).to.deep.equal({
      id: 'w1',
      type: 'warmup',
      options: { shard: 1, shards: 3, strategy: 'random', paths: ['/train', 'val'], threads: 16 },
    });
    expect(validateJobRequest(req)).to.deep.equal(req);
    const whole = engine.jobRequest(sampleJob({ type: 'warmup' }), s, 'w2', 0, 2, undefined);
    expect(whole.options).to.deep.equal({ shard: 0, shards: 2, strategy: 'sequence' });
    expect(
      reason(() => engine.jobRequest(sampleJob({ type: 'warmup', warmupOptions: { paths: ['a/../..'] } }), s, 'w', 0, 1, undefined)),
    ).to.equal('InvalidPath');
    expect(reason(() => engine.jobRequest(sampleJob({ type: 'warmup' }), s, 'w', 2, 2, undefined))).to.equal('InvalidJob');
  });

  it('translates rmr (paths required, never the root) and clear', () => {
    expect(
      engine.jobRequest(sampleJob({ type: 'rmr', rmrOptions: { paths: ['/a', 'b/c'] } }), s, 'r', 0, 1, undefined).options,
    ).to.deep.equal({ paths: ['/a', 'b/c'] });
    expect(reason(() => engine.jobRequest(sampleJob({ type: 'rmr', rmrOptions: { paths: [] } }), s, 'r', 0, 1, undefined))).to.equal(
      'InvalidPath',
    );
    expect(reason(() => engine.jobRequest(sampleJob({ type: 'rmr', rmrOptions: { paths: ['/'] } }), s, 'r', 0, 1, undefined))).to.equal(
      'InvalidPath',
    );
    expect(
      reason(() => engine.jobRequest(sampleJob({ type: 'rmr', rmrOptions: { paths: ['x/../../y'] } }), s, 'r', 0, 1, undefined)),
    ).to.equal('InvalidPath');
    expect(engine.jobRequest(sampleJob({ type: 'clear' }), s, 'c', 0, 2, undefined).options).to.deep.equal({});
    const cached = sampleSet({ cache: { levels: [{ mediumType: 'MEM', path: '/dev/shm/paddle-operator/imagenet' }] } });
    expect(
      engine.jobRequest(
        sampleJob({ type: 'clear', clearOptions: { paths: ['/dev/shm/paddle-operator/imagenet'] } }),
        cached,
        'c',
        0,
        2,
        undefined,
      ).options,
    ).to.deep.equal({ paths: ['/dev/shm/paddle-operator/ml_imagenet/imagenet'] });
    expect(
      reason(() => engine.jobRequest(sampleJob({ type: 'clear', clearOptions: { paths: ['/dev/shm/../etc'] } }), s, 'c', 0, 1, undefined)),
    ).to.equal('InvalidPath');
    // absolute paths written against the declared level are mapped into the SampleSet's own directory
    const leveled = sampleSet({ cache: { levels: [{ mediumType: 'MEM', path: '/dev/shm/paddle-operator/imagenet' }] } });
    const clear = (paths: string[]) =>
      engine.jobRequest(sampleJob({ type: 'clear', clearOptions: { paths } }), leveled, 'c', 0, 1, undefined).options;
    expect(clear(['/dev/shm/paddle-operator/imagenet/x', '/dev/shm/paddle-operator/imagenet', 'rel/y'])).to.deep.equal({
      paths: ['/dev/shm/paddle-operator/ml_imagenet/imagenet/x', '/dev/shm/paddle-operator/ml_imagenet/imagenet', 'rel/y'],
    });
    expect(reason(() => clear(['/elsewhere']))).to.equal('InvalidPath');
    expect(clear(['/dev/shm/paddle-operator/ml_imagenet/imagenet/z'])).to.deep.equal({
      paths: ['/dev/shm/paddle-operator/ml_imagenet/imagenet/z'],
    });
  });

  it('refuses at translation what the runtime would refuse later (complete validation)', () => {
    const j = (spec: Parameters<typeof sampleJob>[0], set = s, id = 'j', shard = 0, shards = 1) =>
      reason(() => engine.jobRequest(sampleJob(spec), set, id, shard, shards, undefined));
    // JuiceFS control files are not dataset paths: the runtime refuses them (rmr) or would read an endless file (warmup list).
    expect(j({ type: 'rmr', rmrOptions: { paths: ['ok', '/.trash'] } })).to.equal('InvalidPath');
    expect(j({ type: 'rmr', rmrOptions: { paths: ['.control/x'] } })).to.equal('InvalidPath');
    expect(j({ type: 'warmup', warmupOptions: { file: '/.accesslog' } })).to.equal('InvalidPath');
    expect(j({ type: 'warmup', warmupOptions: { file: '.jfs.stats' } })).to.equal('InvalidPath');
    expect(j({ type: 'sync', syncOptions: { destination: '/.trash/x' } })).to.equal('InvalidPath');
    // A name that only starts like a control file is a dataset path.
    expect(j({ type: 'rmr', rmrOptions: { paths: ['.trash-old', 'x/.trash'] } })).to.equal('no error');
    // Absolute clear paths must lie in one of the SampleSet's cache directories (or /cache/<i> in the pod).
    const cached = sampleSet({
      cache: { levels: [{ mediumType: 'MEM', path: '/dev/shm/paddle-operator/imagenet-0:/dev/shm/paddle-operator/imagenet-1' }] },
    });
    expect(j({ type: 'clear', clearOptions: { paths: ['/dev/shm/paddle-operator/imagenet-1/x', '/cache/1/y', 'rel'] } }, cached)).to.equal(
      'no error',
    );
    expect(j({ type: 'clear', clearOptions: { paths: ['/var/lib/etcd'] } }, cached)).to.equal('InvalidPath');
    expect(j({ type: 'clear', clearOptions: { paths: ['/cache/2'] } }, cached)).to.equal('InvalidPath');
    expect(j({ type: 'clear', clearOptions: { paths: ['/dev/shm/paddle-operator/imagenet-10'] } }, cached)).to.equal('InvalidPath');
    // Ids the runtime refuses, shards beyond the largest SampleSet, sync flags out of range or malformed.
    expect(j({ type: 'clear' }, s, 'bad id/with slash')).to.equal('InvalidJob');
    expect(j({ type: 'warmup' }, s, 'w', 0, 5001)).to.equal('InvalidJob');
    expect(j({ type: 'sync', syncOptions: { threads: 0 } })).to.equal('InvalidSyncOption');
    expect(j({ type: 'sync', syncOptions: { 'list-depth': 65 } })).to.equal('InvalidSyncOption');
    expect(j({ type: 'sync', syncOptions: { limit: -1 } })).to.equal('InvalidSyncOption');
    expect(j({ type: 'sync', syncOptions: { 'max-size': '1 GB' } })).to.equal('InvalidSyncOption');
    expect(j({ type: 'sync', syncOptions: { 'storage-class': 'x'.repeat(65) } })).to.equal('InvalidSyncOption');
    expect(j({ type: 'sync', syncOptions: { start: 'x'.repeat(1025) } })).to.equal('InvalidSyncOption');
    expect(j({ type: 'sync', syncOptions: { manager: '10.0.0.1' } })).to.equal('InvalidSyncOption');
    // Over-long lists (the runtime takes at most 10000 paths).
    expect(j({ type: 'rmr', rmrOptions: { paths: Array.from({ length: 10001 }, (_, i) => `p${i}`) } })).to.equal('InvalidPath');
    // Credentials the runtime would refuse: too long or with NUL (never echoed).
    expect(
      reason(() => engine.jobRequest(sampleJob({ type: 'sync' }), s, 'j', 0, 1, secret({ 'access-key': 'a\0b', 'secret-key': 'x' }))),
    ).to.equal('SecretKeyInvalid');
  });

  it('fans out sync and rmr to one pod, warmup and clear to all', () => {
    expect(engine.fanOut('sync')).to.equal('one');
    expect(engine.fanOut('rmr')).to.equal('one');
    expect(engine.fanOut('warmup')).to.equal('all');
    expect(engine.fanOut('clear')).to.equal('all');
  });
});
