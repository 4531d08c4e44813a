/**
 * Which SampleSets an event on another object concerns: the watches of the SampleSet operator map
 * Secrets, pods, nodes, PersistentVolumes and finished SampleJobs to SampleSet keys here, from the
 * informer caches only, through indexes of the SampleSet cache (`addIndexes`): an event costs the
 * SampleSets it concerns, never a scan of them all.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { LABEL_DOMAIN, SAMPLESET, SAMPLESET_LABEL, cacheNodeLabelKey } from '../../api/constants.js';
import type { SampleJob } from '../../api/samplejob.js';
import { engineNameOf, type SampleSet } from '../../api/sampleset.js';
import type { EngineRegistry } from '../../engines/registry.js';
import type { ObjectKey } from '../../kube/decorators.js';
import type { Informer } from '../../kube/informer.js';
import { controllerOf } from '../../kube/owner-reference.js';
import { claimsOfPod } from '../shared/cache-placement.js';
import { PV_OWNER_ANNOTATION } from './runtime-objects.js';
import { scaleDownWaits } from './scale-down-guard.js';
import { secretKeyOf } from './spec-check.js';

/** Names of the SampleSet cache's indexes. */
const BY = {
  name: 'paddle:sampleset-name',
  secret: 'paddle:sampleset-secret',
  node: 'paddle:sampleset-node',
  claimWatch: 'paddle:sampleset-claim-watch',
};

type SampleSetCache = Pick<Informer<SampleSet>, 'byIndex' | 'addIndex'>;

/** The node label key of a SampleSet's cache nodes (its engine's; the standard key when the engine is not installed). */
function nodeLabelKey(ss: SampleSet, registry: EngineRegistry | undefined): string {
  try {
    return registry!.get(engineNameOf(ss)).nodeLabelKey(ss);
  } catch {
    return cacheNodeLabelKey(engineNameOf(ss), ss.metadata.name!);
  }
}

/**
 * Adds the indexes the mappings read to the SampleSet cache. The operator does so before the base
 * class attaches its handlers (which may map cached objects at once).
 */
export function indexSampleSets(cache: Pick<Informer<SampleSet>, 'addIndex'>, engines: EngineRegistry): void {
  cache.addIndex(BY.name, (ss) => [ss.metadata.name!]);
  cache.addIndex(BY.secret, (ss) =>
    [ss.spec?.secretRef, ss.spec?.source?.secretRef]
      .map((r) => secretKeyOf(ss, r))
      .filter((k) => k !== undefined)
      .map((k) => `${k.namespace}/${k.name}`),
  );
  cache.addIndex(BY.node, (ss) => [`label:${nodeLabelKey(ss, engines)}`, ...(ss.status?.nodes ?? []).map((n) => `node:${n.node}`)]);
  // only these SampleSets care about every pod that mounts their claim
  cache.addIndex(BY.claimWatch, (ss) => (ss.metadata.deletionTimestamp || scaleDownWaits(ss) ? [ss.metadata.namespace!] : []));
}

export class SampleSetWatchMappings {
  /**
   * Both are read when a mapping runs: the base class's informers may deliver objects while the
   * operator is still being constructed.
   */
  constructor(
    private readonly cache: () => SampleSetCache,
    private readonly registry: () => EngineRegistry | undefined,
  ) {}

  private get sampleSets(): SampleSetCache {
    return this.cache();
  }

  /** The SampleSets named `name`, in every namespace. */
  named(name: string): SampleSet[] {
    return this.sampleSets.byIndex(BY.name, name);
  }

  /** The SampleSets whose cache nodes carry label key `key`. */
  withNodeLabelKey(key: string): SampleSet[] {
    return this.sampleSets.byIndex(BY.node, `label:${key}`);
  }

  /** Pods, PVs… labelled with the SampleSet name (namespaced objects only). */
  static ofLabelled(o: KubernetesObject): ObjectKey[] {
    const name = o.metadata?.labels?.[SAMPLESET_LABEL];
    return name && o.metadata?.namespace ? [{ namespace: o.metadata.namespace, name }] : [];
  }

  /**
   * A runtime pod → its SampleSet (by label); any pod mounting a claim → the SampleSets being deleted
   * or waiting to scale down whose claim it is (only they care about the claim's users; other
   * SampleSets are not woken by every training pod).
   */
  ofPod(o: KubernetesObject): ObjectKey[] {
    const out = SampleSetWatchMappings.ofLabelled(o);
    const ns = o.metadata?.namespace;
    const claims = claimsOfPod(o);
    if (!ns || claims.length === 0) return out;
    for (const ss of this.sampleSets.byIndex(BY.claimWatch, ns)) {
      if (claims.some((c) => c === this.claimNameOf(ss))) out.push({ namespace: ns, name: ss.metadata.name! });
    }
    return out;
  }

  /**
   * A warmup or clear SampleJob that has finished → its SampleSet, which may re-warm partitions
   * from it (partition-rewarm.ts); runs in progress do not wake it on every progress update.
   */
  static ofSampleJob(o: KubernetesObject): ObjectKey[] {
    const j = o as SampleJob;
    const ns = j.metadata?.namespace;
    const name = j.spec?.sampleSetRef?.name;
    if (!ns || !name || (j.spec.type !== 'warmup' && j.spec.type !== 'clear')) return [];
    return j.status?.phase === 'Succeeded' || j.status?.phase === 'Failed' ? [{ namespace: ns, name }] : [];
  }

  /** Our token Secrets (owner) and the user Secrets a SampleSet names (spec.secretRef, spec.source.secretRef). */
  ofSecret(o: KubernetesObject): ObjectKey[] {
    const out: ObjectKey[] = [];
    const ns = o.metadata?.namespace;
    const name = o.metadata?.name;
    const ref = controllerOf(o);
    if (ref?.kind === SAMPLESET.kind && ns) out.push({ namespace: ns, name: ref.name });
    for (const ss of this.sampleSets.byIndex(BY.secret, `${ns}/${name}`))
      out.push({ namespace: ss.metadata.namespace, name: ss.metadata.name! });
    return out;
  }

  /**
   * SampleSets whose cache-node label the node carries (nodes are few; labels are checked per
   * SampleSet), and those whose status places a partition on it (a lost node keeps no label once
   * its pod is terminating).
   */
  ofNode(o: KubernetesObject): ObjectKey[] {
    const keys = Object.keys(o.metadata?.labels ?? {})
      .filter((k) => k.startsWith(LABEL_DOMAIN + '/'))
      .map((k) => `label:${k}`);
    const found = new Map<string, ObjectKey>();
    for (const key of [...keys, `node:${o.metadata?.name}`]) {
      for (const ss of this.sampleSets.byIndex(BY.node, key))
        found.set(ss.metadata.uid ?? `${ss.metadata.namespace}/${ss.metadata.name}`, {
          namespace: ss.metadata.namespace,
          name: ss.metadata.name!,
        });
    }
    return [...found.values()];
  }

  ofPv(o: KubernetesObject): ObjectKey[] {
    const owner = o.metadata?.annotations?.[PV_OWNER_ANNOTATION];
    if (owner?.includes('/')) {
      const [namespace, name] = owner.split('/', 2);
      return [{ namespace, name }];
    }
    const name = o.metadata?.labels?.[SAMPLESET_LABEL];
    return name ? this.named(name).map((ss) => ({ namespace: ss.metadata.namespace, name })) : [];
  }

  claimNameOf(ss: SampleSet): string {
    try {
      return this.registry()!.get(engineNameOf(ss)).persistentVolumeClaimName(ss);
    } catch {
      return ss.metadata.name!;
    }
  }

  nodeLabelKeyOf(ss: SampleSet): string {
    return nodeLabelKey(ss, this.registry());
  }
}
