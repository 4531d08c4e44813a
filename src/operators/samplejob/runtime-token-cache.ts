/**
 * A SampleSet's runtime bearer token, read live from its token Secret and reused for `ttlMs`.
 * Entries are kept oldest first and dropped once expired, so SampleSets that come and go leave
 * nothing behind.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { SECRET } from '../../api/constants.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { Clock } from '../../kube/clock.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { readRuntimeToken } from '../shared/runtime-pods.js';

export class RuntimeTokenCache {
  private readonly tokens = new Map<string, { token: string | undefined; at: number }>();

  constructor(
    private readonly api: Pick<KubeApi, 'get'>,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  async tokenOf(sampleSet: SampleSet, engine: CacheEngine): Promise<string | undefined> {
    const ns = sampleSet.metadata.namespace;
    const name = engine.tokenSecretName(sampleSet);
    const k = `${ns}/${name}`;
    const hit = this.tokens.get(k);
    const now = this.clock.now();
    if (hit && hit.token && now - hit.at < this.ttlMs) return hit.token;
    const token = readRuntimeToken(await this.api.get<V1Secret>(SECRET, name, ns));
    this.tokens.delete(k);
    this.tokens.set(k, { token, at: now });
    for (const [key, e] of this.tokens) {
      if (now - e.at < this.ttlMs) break;
      this.tokens.delete(key);
    }
    return token;
  }
}
