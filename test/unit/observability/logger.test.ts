import { expect } from 'chai';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, redact } from '../../../src/observability/logger.js';

describe('logger', () => {
  it('redacts secret-looking fields at any depth', () => {
    expect(redact({ a: 1, token: 'abc', nested: { 'secret-key': 'x', list: [{ password: 'p' }] } })).to.deep.equal({
      a: 1,
      token: '[redacted]',
      nested: { 'secret-key': '[redacted]', list: [{ password: '[redacted]' }] },
    });
  });

  // Class 6 of issue 12: a URI's userinfo never reaches a log line, in the message or any field.
  it('masks URI userinfo (also with / in the secret) in messages and fields, JSON and text', () => {
    expect(redact({ argv: 'sync s3://AKIDX:Zq9/xW7@bucket/ file:///d/', nested: ['webdav://u:p@ss/w@h/'] })).to.deep.equal({
      argv: 'sync s3://****@bucket/ file:///d/',
      nested: ['webdav://****@h/'],
    });
    for (const format of ['json', 'text'] as const) {
      const lines: string[] = [];
      const log = createLogger({ level: 'debug', format });
      log.clear();
      log.add(new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) }));
      log
        .child({ uri: 'oss://AKIDX:Zq9/xW7@b/' })
        .warn('could not sync s3://AKIDX:Zq9/xW7@bucket/x', { error: 'parse "ks3://AKIDX:Zq9/xW7@b/": invalid port' });
      expect(lines, format).to.have.length(1);
      expect(lines[0], format).to.not.include('Zq9');
      expect(lines[0], format).to.not.include('AKIDX');
      expect(lines[0], format).to.include('s3://****@bucket/x');
    }
  });

  it('writes one JSON object per line with level and msg, without secrets', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', format: 'json' });
    log.clear();
    log.add(new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) }));
    log
      .child({ operator: 'sampleset' })
      .info('reconciled', { namespace: 'ns', name: 'n', credentials: { 'access-key': 'AK' }, token: 'T0KEN' });
    expect(lines).to.have.length(1);
    const o = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(o).to.include({ level: 'info', msg: 'reconciled', operator: 'sampleset', namespace: 'ns', name: 'n', token: '[redacted]' });
    expect(lines[0]).to.not.include('T0KEN');
    expect(lines[0]).to.not.include('AK');
  });
});

describe('metrics', () => {
  it('reads per-object gauges from the objects at scrape time', async () => {
    const { Metrics } = await import('../../../src/observability/metrics.js');
    const m = new Metrics();
    m.observeResources({
      sampleSets: () => [
        {
          apiVersion: 'v',
          kind: 'SampleSet',
          metadata: { namespace: 'a', name: 'img' },
          spec: { partitions: 1, secretRef: { name: 's' } },
          status: {
            cacheStatus: { cachedBytes: 25, totalBytes: 100, cacheHits: 3, cacheMisses: 1 },
            conditions: [
              { type: 'Ready', status: 'False', reason: 'RuntimeNotReady', message: '', lastTransitionTime: '2026-12-03T00:00:00Z' },
            ],
            nodes: [{ partition: 0, pod: 'img-runtime-0', cacheHits: 3, cacheMisses: 1, bytesFromCache: 300, bytesFromStore: 100 }],
          },
        },
      ],
      sampleJobs: () => [
        {
          apiVersion: 'v',
          kind: 'SampleJob',
          metadata: { namespace: 'a', name: 'w' },
          spec: { type: 'warmup', sampleSetRef: { name: 'img' } },
          status: { phase: 'Running', progress: { bytesDone: 30, bytesTotal: 60 } },
        },
        {
          apiVersion: 'v',
          kind: 'SampleJob',
          metadata: { namespace: 'a', name: 'cron' },
          spec: { type: 'warmup', sampleSetRef: { name: 'img' }, schedule: '@daily' },
        },
      ],
    });
    const text = await m.registry.metrics();
    expect(text).to.match(/^paddle_operator_sampleset_cached_bytes\{namespace="a",name="img"\} 25$/m);
    expect(text).to.match(/^paddle_operator_sampleset_cached_ratio\{namespace="a",name="img"\} 0.25$/m);
    expect(text).to.match(/^paddle_operator_sampleset_cache_hit_ratio\{namespace="a",name="img"\} 0.75$/m);
    expect(text).to.match(/^paddle_operator_sampleset_partition_cache_hit_ratio\{namespace="a",name="img",partition="0"\} 0.75$/m);
    expect(text).to.match(/^paddle_operator_sampleset_partition_read_bytes\{namespace="a",name="img",partition="0",source="cache"\} 300$/m);
    expect(text).to.match(/^paddle_operator_sampleset_partition_read_bytes\{namespace="a",name="img",partition="0",source="store"\} 100$/m);
    expect(text).to.match(
      /^paddle_operator_sampleset_condition\{namespace="a",name="img",condition="Ready",status="False",reason="RuntimeNotReady"\} 1$/m,
    );
    expect(text).to.match(/^paddle_operator_samplejob_phase\{namespace="a",name="w",type="warmup",phase="Running"\} 1$/m);
    expect(text).to.match(/^paddle_operator_samplejob_progress_ratio\{namespace="a",name="w",type="warmup"\} 0.5$/m);
    expect(text).to.not.match(/name="cron"/);
    // a scrape's per-object series are dropped after it (not held until the next one), and made again for the next
    expect((await m.sampleJobPhase.get()).values).to.have.length(1);
    await m.render();
    expect((await m.sampleJobPhase.get()).values).to.have.length(0);
    expect(await m.render()).to.match(/^paddle_operator_samplejob_phase\{namespace="a",name="w",type="warmup",phase="Running"\} 1$/m);
  });
});
