import http from 'node:http';
import type net from 'node:net';
import { expect } from 'chai';
import { describeLimits, seededUniform, startThrottledProxy, TokenBucket } from '../../harness/throttled-proxy.js';

/** A local endpoint answering every request with `size` bytes (and echoing the uploaded byte count in a header). */
async function endpoint(size: number): Promise<{ hostPort: string; close(): Promise<void> }> {
  const body = Buffer.alloc(size, 7);
  const server = http.createServer((req, res) => {
    let got = 0;
    req.on('data', (c: Buffer) => (got += c.length));
    req.on('end', () => res.writeHead(200, { 'x-received': String(got), 'x-host': req.headers.host ?? '' }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return { hostPort: `127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('throttled proxy (a remote bucket, simulated)', () => {
  it('paces a token bucket at its rate', async () => {
    const bucket = new TokenBucket(1_000_000, 50_000);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await bucket.take(50_000);
    // the first 50 kB pass on the initial burst, the other 200 kB at 1 MB/s
    expect(performance.now() - t0).to.be.at.least(190);
    bucket.stop();
  });

  it('adds the latency, caps the bandwidth and forwards requests unchanged', async function () {
    this.timeout(20_000);
    const size = 1_000_000;
    const up = await endpoint(size);
    const proxy = await startThrottledProxy({ upstream: up.hostPort, latencyMs: { min: 100, max: 100 }, bytesPerSecond: 2_000_000 });
    try {
      const t0 = performance.now();
      const res = await fetch(`${proxy.endpoint}/bucket/key`, { method: 'PUT', body: Buffer.alloc(200_000, 1) });
      const got = Buffer.from(await res.arrayBuffer());
      const ms = performance.now() - t0;
      expect(res.status).to.equal(200);
      expect(got.length).to.equal(size);
      expect(res.headers.get('x-received')).to.equal('200000');
      // the Host header the client signed stays the proxy's address
      expect(res.headers.get('x-host')).to.equal(proxy.hostPort);
      // 100 ms latency + 200 kB up (less the burst) + 1 MB down (less the burst) at 2 MB/s
      expect(ms).to.be.at.least(100 + 80 + 480);
      expect(proxy.counters()).to.deep.equal({ requests: 1, bytesDown: size, bytesUp: 200_000 });
      proxy.resetCounters();
      expect(proxy.counters().requests).to.equal(0);
      expect(proxy.describe()).to.equal('100 ms added to each request, 2 MB/s aggregate each way');
    } finally {
      await proxy.stop();
      await up.close();
    }
  });

  it('draws latencies reproducibly from the seed, inside the range', () => {
    const a = seededUniform(3);
    const b = seededUniform(3);
    const xs = Array.from({ length: 100 }, () => a());
    expect(xs).to.deep.equal(Array.from({ length: 100 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).to.equal(true);
    expect(describeLimits({ latencyMs: { min: 20, max: 40 }, bytesPerSecond: 80e6 })).to.equal(
      '20–40 ms added to each request, 80 MB/s aggregate each way',
    );
  });
});
