import { expect } from 'chai';
import type { SampleSet } from '../../../src/api/sampleset.js';
import { EngineRegistry } from '../../../src/engines/registry.js';
import { IndexedStore } from '../../../src/kube/indexed-store.js';
import { InformerSampleSetLookup } from '../../../src/webhook/sampleset-lookup.js';
import { NS, juicefs, sampleSet } from './fixtures.js';

/** The parts of an informer the lookup uses, over a real indexed store. */
function cache(sampleSets: SampleSet[]): IndexedStore<SampleSet> & { hasSynced: boolean } {
  const store = Object.assign(new IndexedStore<SampleSet>(), { hasSynced: true });
  for (const ss of sampleSets) store.set(`${ss.metadata.namespace}/${ss.metadata.name}`, ss);
  return store;
}

describe('InformerSampleSetLookup', () => {
  const engines = new EngineRegistry([juicefs]);
  const imagenet = sampleSet('imagenet', 'Ready', [true, true]);
  const coco = sampleSet('coco', 'Ready', [true]);
  const other = { ...sampleSet('imagenet', 'Ready', [true]), metadata: { name: 'imagenet', namespace: 'team-b', uid: 'b' } };
  const foreign = sampleSet('foreign', 'Ready', [true], { csi: { driver: 'not-installed' } });

  it('finds SampleSets by their claim in the pod namespace only, in the order of the claims', () => {
    const lookup = new InformerSampleSetLookup(cache([imagenet, coco, other]), engines);
    const claimOf = (ss: SampleSet): string => juicefs.persistentVolumeClaimName(ss);
    const found = lookup.claimed(NS, ['unrelated', claimOf(coco), claimOf(imagenet)]);
    expect(found.map((c) => `${c.sampleSet.metadata.namespace}/${c.sampleSet.metadata.name}`)).to.deep.equal([
      `${NS}/coco`,
      `${NS}/imagenet`,
    ]);
    expect(found[1].cache.claimName).to.equal(claimOf(imagenet));
    expect(lookup.claimed('team-c', [claimOf(imagenet)])).to.deep.equal([]);
    expect(lookup.claimed('', [claimOf(imagenet)])).to.deep.equal([]);
  });

  it('leaves out a SampleSet whose engine is not installed (its claim cannot be named)', () => {
    const lookup = new InformerSampleSetLookup(cache([foreign]), engines);
    expect(lookup.claimed(NS, [juicefs.persistentVolumeClaimName(foreign), 'foreign'])).to.deep.equal([]);
  });

  it('follows SampleSets added after it was built (the index is kept by the cache)', () => {
    const store = cache([]);
    const lookup = new InformerSampleSetLookup(store, engines);
    const claim = juicefs.persistentVolumeClaimName(imagenet);
    expect(lookup.claimed(NS, [claim])).to.deep.equal([]);
    store.set(`${NS}/imagenet`, imagenet);
    expect(lookup.claimed(NS, [claim]).map((c) => c.sampleSet.metadata.name)).to.deep.equal(['imagenet']);
    store.delete(`${NS}/imagenet`);
    expect(lookup.claimed(NS, [claim])).to.deep.equal([]);
  });
});
