/**
 * Phase 5 of a SampleSet pass, and the first step of its deletion: the cache-node label on the
 * nodes that hold a partition. Another live SampleSet using the same label key (same name, other
 * namespace) keeps the nodes it wants: they are never removed or overwritten.
 */
import { NODE } from '../../api/constants.js';
import type { CachedNode, CachedPod } from '../../kube/cached-objects.js';
import { engineNameOf, type SampleSet } from '../../api/sampleset.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { isNotFound } from '../../kube/api-error.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { runtimePodsOf, type RuntimePod } from '../shared/runtime-pods.js';
import { desiredNodeLabels, diffNodeLabels } from './node-labels.js';

export interface NodeLabelDeps {
  api: Pick<KubeApi, 'patch'>;
  engines: EngineRegistry;
  nodes(): CachedNode[];
  /** The pods carrying SampleSet `namespace/name`'s label. */
  labelledPods(namespace: string, name: string): CachedPod[];
  /** The SampleSets whose nodes carry label key `key` (`labelKeyOf`). */
  sampleSetsWithLabelKey(key: string): SampleSet[];
  /** The label key a SampleSet's nodes carry. */
  labelKeyOf(ss: SampleSet): string;
}

export class NodeLabelSync {
  constructor(private readonly deps: NodeLabelDeps) {}

  /** Labels the nodes of the partition pods and unlabels the others. */
  async sync(ss: SampleSet, key: string, pods: RuntimePod[], partitions: number): Promise<void> {
    const diff = diffNodeLabels(key, this.deps.nodes(), desiredNodeLabels(pods, partitions), this.othersWanting(ss, key));
    for (const { node, value } of diff.set) await this.patch(node, key, value);
    for (const node of diff.remove) await this.patch(node, key, null);
  }

  /** Removes the SampleSet's label from every node no other SampleSet wants it on (deletion). */
  async clear(ss: SampleSet): Promise<void> {
    const key = this.deps.labelKeyOf(ss);
    const others = this.othersWanting(ss, key);
    for (const node of this.deps.nodes()) {
      const n = node.metadata!.name!;
      if (node.metadata?.labels?.[key] !== undefined && !others.has(n)) await this.patch(n, key, null);
    }
  }

  /** node → pod wanted by other live SampleSets that use the same label key. */
  private othersWanting(ss: SampleSet, key: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const other of this.deps.sampleSetsWithLabelKey(key)) {
      if (other.metadata.uid === ss.metadata.uid || other.metadata.deletionTimestamp) continue;
      if (this.deps.labelKeyOf(other) !== key) continue;
      let stsName: string;
      try {
        stsName = this.deps.engines.get(engineNameOf(other)).statefulSetName(other);
      } catch {
        continue;
      }
      const pods = runtimePodsOf(this.deps.labelledPods(other.metadata.namespace!, other.metadata.name!), other.metadata.name!, stsName);
      for (const [node, pod] of desiredNodeLabels(pods, Math.max(1, other.spec.partitions ?? 1))) if (!out.has(node)) out.set(node, pod);
    }
    return out;
  }

  private async patch(node: string, key: string, value: string | null): Promise<void> {
    try {
      await this.deps.api.patch(NODE, node, undefined, { metadata: { labels: { [key]: value } } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
