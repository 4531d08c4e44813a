import { expect } from 'chai';
import { ConfigError, parseListenAddress, parseOperatorConfig } from '../../../src/config/operator-config.js';

describe('parseOperatorConfig', () => {
  it('has production defaults', () => {
    const c = parseOperatorConfig([], {});
    expect(c).to.include({ namespace: '', concurrency: 4, leaderElect: false, logFormat: 'json', logLevel: 'info', metricsAddress: ':8080', probeAddress: ':8081' });
    expect(c.operators).to.deep.equal(['sampleset', 'samplejob', 'paddlejob']);
    expect(c.hostPortRange).to.deep.equal([35000, 65000]);
  });
  it('reads flags before environment', () => {
    const c = parseOperatorConfig(['--namespace', 'a', '--leader-elect=true', '--log-format=text', '--concurrency=8'], { WATCH_NAMESPACE: 'b', LOG_LEVEL: 'debug' });
    expect(c).to.include({ namespace: 'a', leaderElect: true, logFormat: 'text', logLevel: 'debug', concurrency: 8 });
    expect(parseOperatorConfig(['--leader-elect=false'], { LEADER_ELECT: 'true' }).leaderElect).to.equal(false);
    expect(parseOperatorConfig(['--leader-elect'], {}).leaderElect).to.equal(true);
  });
  it('rejects bad values with a message naming the flag', () => {
    expect(() => parseOperatorConfig(['--concurrency=0'], {})).to.throw(ConfigError, /--concurrency/);
    expect(() => parseOperatorConfig(['--log-format=xml'], {})).to.throw(ConfigError, /--log-format/);
    expect(() => parseOperatorConfig(['--host-port-range=9-1'], {})).to.throw(ConfigError, /--host-port-range/);
    expect(() => parseOperatorConfig(['--operators=sampleset,foo'], {})).to.throw(ConfigError, /foo/);
    expect(() => parseOperatorConfig(['--lease-duration=5', '--renew-deadline=10'], {})).to.throw(ConfigError, /lease-duration/);
    expect(() => parseOperatorConfig(['--no-such-flag'], {})).to.throw();
  });
  it('parses listen addresses', () => {
    expect(parseListenAddress(':8080')).to.deep.equal({ host: '0.0.0.0', port: 8080 });
    expect(parseListenAddress('127.0.0.1:0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('0')).to.equal(undefined);
  });
});
