// The extension point end to end with the minimal example engine: registered next to JuiceFS,
// picked by spec.csi.driver, its objects built, its runtime driven through the generic runtime
// server and RuntimeClient — no operator or server code knows about it.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engineNameOf } from '../../../src/api/sampleset.js';
import { SpecError } from '../../../src/engines/cache-engine.js';
import { EXAMPLE_ENGINE, EXAMPLE_PACKAGE } from '../../../src/engines/example/example-engine.js';
import { INSTALLED_ENGINES, installedEngines } from '../../../src/engines/installed.js';
import { RuntimeClient } from '../../../src/operators/shared/runtime-client.js';
import { RuntimeServer } from '../../../src/runtime/server.js';
import { sampleJob, sampleSet } from './fixtures.js';

describe('engine registry with the example engine', () => {
  const registry = installedEngines({}, [...INSTALLED_ENGINES, EXAMPLE_PACKAGE]);

  it('picks the engine named by spec.csi.driver, JuiceFS by default', () => {
    expect(registry.names()).to.deep.equal(['example', 'juicefs']);
    expect(registry.get(engineNameOf(sampleSet())).name).to.equal('juicefs');
    const s = sampleSet({ csi: { driver: EXAMPLE_ENGINE }, source: { uri: 'file:///srv/data/' } });
    const engine = registry.get(engineNameOf(s));
    expect(engine.name).to.equal('example');
    expect(engine.nodeLabelKey(s)).to.equal('paddlepaddle.org/example-imagenet');
    const objs = engine.buildObjects({ sampleSet: s, volumeSecret: { metadata: {} }, runtimeToken: 'tok', runtimeImage: 'img' });
    expect(objs.persistentVolume.spec?.hostPath?.path).to.equal('/var/lib/paddle-example/ml/imagenet');
    expect(objs.statefulSet.spec?.template.spec?.containers[0].ports?.[0].name).to.equal('runtime');
    expect(engine.fanOut('warmup')).to.equal('all');
  });

  it('reports an unknown engine as a SpecError', () => {
    try {
      registry.get('alluxio');
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(SpecError);
      expect((err as SpecError).reason).to.equal('UnknownEngine');
      expect((err as SpecError).message).to.include('example, juicefs');
    }
    expect(() => registry.runtime('alluxio')).to.throw(SpecError);
  });

  it('runs the example runtime through the generic server', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'example-engine-'));
    const src = path.join(tmp, 'src');
    const dataDir = path.join(tmp, 'data');
    fs.mkdirSync(path.join(src, 'a'), { recursive: true });
    fs.mkdirSync(dataDir);
    fs.writeFileSync(path.join(src, 'a', 'one.txt'), 'one');
    fs.writeFileSync(path.join(src, 'two.txt'), 'two!');
    const s = sampleSet({ csi: { driver: EXAMPLE_ENGINE }, source: { uri: `file://${src}` } });
    const engine = registry.get(engineNameOf(s));
    const runtime = registry.runtime(engineNameOf(s))({ dataDir, cacheDirs: [] });
    const server = new RuntimeServer({ runtime, token: 'example-token-0123456789', host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    const base = `http://127.0.0.1:${port}`;
    const client = new RuntimeClient({ retries: 0 });
    try {
      await client.submit(base, 'example-token-0123456789', engine.initialSyncRequest(s, 'sync-1', undefined));
      let st = await client.get(base, 'example-token-0123456789', 'sync-1', 5);
      if (st?.status !== 'succeeded') st = await client.get(base, 'example-token-0123456789', 'sync-1', 5);
      expect(st?.status).to.equal('succeeded');
      expect(fs.readFileSync(path.join(dataDir, 'a', 'one.txt'), 'utf8')).to.equal('one');
      const stats = await client.cacheStats(base, 'example-token-0123456789');
      expect(stats).to.include({ totalFiles: 2, totalBytes: 7 });
      const rmr = engine.jobRequest(sampleJob({ type: 'rmr', rmrOptions: { paths: ['/a'] } }), s, 'rmr-1', 0, 1, undefined);
      await client.submit(base, 'example-token-0123456789', rmr);
      st = await client.get(base, 'example-token-0123456789', 'rmr-1', 5);
      if (st?.status !== 'succeeded') st = await client.get(base, 'example-token-0123456789', 'rmr-1', 5);
      expect(st?.status).to.equal('succeeded');
      expect(fs.existsSync(path.join(dataDir, 'a'))).to.equal(false);
    } finally {
      await server.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
