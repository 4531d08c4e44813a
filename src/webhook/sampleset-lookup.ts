/**
 * Claim → SampleSet, from the SampleSet informer's cache only (the admission path makes no API
 * call). A SampleSet's claim name comes from its cache engine; a SampleSet whose engine is not
 * installed here cannot be named, so its claim is treated like any other PersistentVolumeClaim.
 */
import { engineNameOf, type SampleSet } from '../api/sampleset.js';
import type { EngineRegistry } from '../engines/registry.js';
import type { Informer } from '../kube/informer.js';
import { cacheNodesOf } from '../operators/shared/cache-placement.js';
import type { ClaimedSampleSet } from './affinity-decision.js';
import type { SampleSetLookup } from './pod-review.js';

/** The SampleSets among `sampleSets` whose claim is one of `claims`, in the order of `claims`. */
export function claimedSampleSets(
  claims: readonly string[],
  sampleSets: readonly SampleSet[],
  engines: EngineRegistry,
): ClaimedSampleSet[] {
  const byClaim = new Map<string, ClaimedSampleSet>();
  for (const sampleSet of sampleSets) {
    const engine = engines.find(engineNameOf(sampleSet));
    if (!engine) continue;
    const cache = cacheNodesOf(sampleSet, engine);
    byClaim.set(cache.claimName, { sampleSet, cache });
  }
  return claims.flatMap((c) => byClaim.get(c) ?? []);
}

/** Index of the SampleSet cache: `namespace/claim` of each SampleSet whose engine is installed. */
const BY_CLAIM = 'paddle:sampleset-claim';

/** The lookup the webhook serves from: the shared SampleSet informer, indexed by claim (no scan per admission). */
export class InformerSampleSetLookup implements SampleSetLookup {
  constructor(
    private readonly informer: Pick<Informer<SampleSet>, 'addIndex' | 'byIndex' | 'hasSynced'>,
    private readonly engines: EngineRegistry,
  ) {
    informer.addIndex(BY_CLAIM, (ss) => {
      const engine = engines.find(engineNameOf(ss));
      return engine ? [`${ss.metadata.namespace}/${engine.persistentVolumeClaimName(ss)}`] : [];
    });
  }

  synced(): boolean {
    return this.informer.hasSynced;
  }

  claimed(namespace: string, claims: readonly string[]): ClaimedSampleSet[] {
    if (!namespace) return []; // claims are namespaced: never match another namespace's SampleSet
    return claims.flatMap((c) => claimedSampleSets([c], this.informer.byIndex(BY_CLAIM, `${namespace}/${c}`), this.engines));
  }
}
