import { expect } from 'chai';
import { ConfigError, parseListenAddress, parseOperatorConfig } from '../../../src/config/operator-config.js';

describe('parseOperatorConfig', () => {
  it('has production defaults', () => {
    const c = parseOperatorConfig([], {});
    expect(c).to.include({
      namespace: '',
      concurrency: 4,
      leaderElect: false,
      logFormat: 'json',
      logLevel: 'info',
      metricsAddress: ':8080',
      probeAddress: ':8081',
    });
    expect(c.operators).to.deep.equal(['sampleset', 'samplejob', 'paddlejob']);
    expect(c.hostPortRange).to.deep.equal([35000, 65000]);
  });
  it('reads flags before environment', () => {
    const c = parseOperatorConfig(['--namespace', 'a', '--leader-elect=true', '--log-format=text', '--concurrency=8'], {
      WATCH_NAMESPACE: 'b',
      LOG_LEVEL: 'debug',
    });
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
  // Class 8 of issue 12: cache tiers only under roots the cluster admin configures.
  it('reads the cache roots from --cache-root (repeatable, comma-separated) or CACHE_ROOTS, with safe defaults', () => {
    expect(parseOperatorConfig([], {}).cacheRoots).to.deep.equal(['/var/lib/paddle-operator/cache', '/dev/shm/paddle-operator']);
    expect(
      parseOperatorConfig(['--cache-root', '/mnt/ssd0/', '--cache-root=/mnt/ssd1,/dev/shm/x'], { CACHE_ROOTS: '/ignored' }).cacheRoots,
    ).to.deep.equal(['/mnt/ssd0', '/mnt/ssd1', '/dev/shm/x']);
    expect(parseOperatorConfig([], { CACHE_ROOTS: '/mnt/nvme/cache, /dev/shm/p' }).cacheRoots).to.deep.equal([
      '/mnt/nvme/cache',
      '/dev/shm/p',
    ]);
    for (const bad of ['/', 'relative', '/etc', '/mnt/a/../b', '/mnt/a,/mnt/a/b', '/a:b']) {
      expect(() => parseOperatorConfig([`--cache-root=${bad}`], {}), bad).to.throw(ConfigError, /--cache-root/);
    }
  });
  it('reads the webhook address (default :9443, 0 disables) and certificate directory, refusing a bad address at once', () => {
    expect(parseOperatorConfig([], {})).to.include({ webhookAddress: ':9443', webhookCertDir: '' });
    expect(
      parseOperatorConfig(['--webhook-bind-address=127.0.0.1:0', '--webhook-cert-dir=/certs'], { WEBHOOK_CERT_DIR: '/env' }),
    ).to.include({
      webhookAddress: '127.0.0.1:0',
      webhookCertDir: '/certs',
    });
    expect(parseOperatorConfig([], { WEBHOOK_BIND_ADDRESS: '0', WEBHOOK_CERT_DIR: '/env' })).to.include({
      webhookAddress: '0',
      webhookCertDir: '/env',
    });
    expect(() => parseOperatorConfig(['--webhook-bind-address=:99999'], {})).to.throw(ConfigError, /bad listen address/);
  });
  it('reads the webhook certificate flags, with durations, and refuses names and lifetimes that cannot work', () => {
    expect(parseOperatorConfig([], {}).webhookCertificates).to.deep.equal({
      mode: 'self-managed',
      namespace: 'paddle-system',
      secretName: 'paddle-operator-webhook-certs',
      serviceName: 'paddle-operator-webhook',
      configurationName: 'paddle-operator-pod-cache-affinity',
      extraSans: [],
      servingValidityMs: 365 * 86_400_000,
      caValidityMs: 3650 * 86_400_000,
    });
    const c = parseOperatorConfig(
      [
        '--webhook-certs=directory',
        '--webhook-cert-dir=/certs',
        '--webhook-extra-sans=127.0.0.1, Hook.Example.com',
        '--webhook-cert-validity=1h30m',
        '--webhook-ca-validity=3d',
      ],
      { POD_NAMESPACE: 'ops' },
    ).webhookCertificates;
    expect(c).to.deep.include({ mode: 'directory', namespace: 'ops', servingValidityMs: 5_400_000, caValidityMs: 259_200_000 });
    expect(c.extraSans).to.deep.equal(['127.0.0.1', 'hook.example.com']);
    expect(parseOperatorConfig([], { WEBHOOK_CERTS: 'directory', WEBHOOK_CERT_DIR: '/c' }).webhookCertificates.mode).to.equal('directory');
    // a directory alone means directory mode; directory mode without one is refused
    expect(parseOperatorConfig(['--webhook-cert-dir=/c'], {}).webhookCertificates.mode).to.equal('directory');
    expect(parseOperatorConfig(['--webhook-cert-dir=/c', '--webhook-certs=self-managed'], {}).webhookCertificates.mode).to.equal(
      'self-managed',
    );
    expect(() => parseOperatorConfig(['--webhook-certs=directory'], {})).to.throw(ConfigError, /needs --webhook-cert-dir/);
    for (const [flag, message] of [
      ['--webhook-certs=openssl', /--webhook-certs/],
      ['--webhook-secret-name=Not_A_Name', /--webhook-secret-name/],
      ['--webhook-extra-sans=bad..name', /--webhook-extra-sans/],
      ['--webhook-cert-validity=1y', /--webhook-cert-validity/],
      ['--webhook-cert-validity=5s', /at least 10s/],
      ['--webhook-ca-validity=12000h', /at least twice/],
    ] as const) {
      expect(() => parseOperatorConfig([flag], {}), flag).to.throw(ConfigError, message);
    }
  });
  it('parses listen addresses', () => {
    expect(parseListenAddress(':8080')).to.deep.equal({ host: '0.0.0.0', port: 8080 });
    expect(parseListenAddress('127.0.0.1:0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('0')).to.equal(undefined);
  });
});
