/**
 * Which SampleSets an event on another object concerns: the watches of the SampleSet operator map
 * Secrets, pods, nodes, PersistentVolumes and finished SampleJobs to SampleSet keys here, from the informer caches only.
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

export class SampleSetWatchMappings {
  /**
   * Both are read when a mapping runs: the base class's informers may deliver objects while the
   * operator is still being constructed.
   */
  constructor(
    private readonly cache: () => Pick<Informer<SampleSet>, 'list'>,
    private readonly registry: () => EngineRegistry | undefined,
  ) {}

  private get sampleSets(): Pick<Informer<SampleSet>, 'list'> {
    return this.cache();
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
    for (const ss of this.sampleSets.list(ns, (s) => !!s.metadata.deletionTimestamp || scaleDownWaits(s))) {
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
    for (const ss of this.sampleSets.list()) {
      for (const r of [ss.spec?.secretRef, ss.spec?.source?.secretRef]) {
        const k = secretKeyOf(ss, r);
        if (k && k.name === name && k.namespace === ns) {
          out.push({ namespace: ss.metadata.namespace, name: ss.metadata.name! });
          break;
        }
      }
    }
    return out;
  }

  /**
   * SampleSets whose cache-node label the node carries (nodes are few; labels are checked per
   * SampleSet), and those whose status places a partition on it (a lost node keeps no label once
   * its pod is terminating).
   */
  ofNode(o: KubernetesObject): ObjectKey[] {
    const labels = o.metadata?.labels ?? {};
    const node = o.metadata?.name;
    const labelled = Object.keys(labels).some((k) => k.startsWith(LABEL_DOMAIN + '/'));
    return this.sampleSets
      .list()
      .filter((ss) => (labelled && labels[this.nodeLabelKeyOf(ss)] !== undefined) || (ss.status?.nodes ?? []).some((n) => n.node === node))
      .map((ss) => ({ namespace: ss.metadata.namespace, name: ss.metadata.name! }));
  }

  ofPv(o: KubernetesObject): ObjectKey[] {
    const owner = o.metadata?.annotations?.[PV_OWNER_ANNOTATION];
    if (owner?.includes('/')) {
      const [namespace, name] = owner.split('/', 2);
      return [{ namespace, name }];
    }
    const name = o.metadata?.labels?.[SAMPLESET_LABEL];
    return name
      ? this.sampleSets.list(undefined, (ss) => ss.metadata.name === name).map((ss) => ({ namespace: ss.metadata.namespace, name }))
      : [];
  }

  claimNameOf(ss: SampleSet): string {
    try {
      return this.registry()!.get(engineNameOf(ss)).persistentVolumeClaimName(ss);
    } catch {
      return ss.metadata.name!;
    }
  }

  nodeLabelKeyOf(ss: SampleSet): string {
    try {
      return this.registry()!.get(engineNameOf(ss)).nodeLabelKey(ss);
    } catch {
      return cacheNodeLabelKey(engineNameOf(ss), ss.metadata.name!);
    }
  }
}
