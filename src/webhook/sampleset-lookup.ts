/**
 * Claim → SampleSet, from the SampleSet informer's cache only (the admission path makes no API
 * call). A SampleSet's claim name comes from its cache engine; a SampleSet whose engine is not
 * installed here cannot be named, so its claim is treated like any other PersistentVolumeClaim.
 */
import { engineNameOf, type SampleSet } from '../api/sampleset.js';
import type { CacheEngine } from '../engines/cache-engine.js';
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
    let engine: CacheEngine;
    try {
      engine = engines.get(engineNameOf(sampleSet));
    } catch {
      continue;
    }
    const cache = cacheNodesOf(sampleSet, engine);
    byClaim.set(cache.claimName, { sampleSet, cache });
  }
  return claims.flatMap((c) => byClaim.get(c) ?? []);
}

/** The lookup the webhook serves from: the shared SampleSet informer. */
export class InformerSampleSetLookup implements SampleSetLookup {
  constructor(
    private readonly informer: Informer<SampleSet>,
    private readonly engines: EngineRegistry,
  ) {}

  synced(): boolean {
    return this.informer.hasSynced;
  }

  claimed(namespace: string, claims: readonly string[]): ClaimedSampleSet[] {
    if (!namespace) return []; // claims are namespaced: never match another namespace's SampleSet
    return claimedSampleSets(claims, this.informer.list(namespace), this.engines);
  }
}
