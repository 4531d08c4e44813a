/**
 * Phases 2 and 3 of a SampleSet pass: the objects that realise it — PersistentVolume, claim,
 * runtime token Secret, headless Service, runtime StatefulSet — created once, owned, never adopted;
 * then the StatefulSet kept at `partitions` replicas and restarted when the token changes.
 *
 * An object of that name that is not ours stops the pass (Blocked): creating the rest would not
 * make it work. The PV is cluster-scoped and cannot be owned: ours is the one with our label, owner
 * annotation and volumeHandle (the engine's, or the PV name that earlier releases used).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KubernetesObject, V1PersistentVolume, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import type { CachedClaim, CachedService, CachedStatefulSet, CachedVolume } from '../../kube/cached-objects.js';
import {
  CREATED_BY_LABEL,
  CREATED_BY_VALUE,
  LABEL_DOMAIN,
  PV,
  PVC,
  SAMPLESET_LABEL,
  SECRET,
  SERVICE,
  STATEFULSET,
  type ResourceType,
} from '../../api/constants.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { Clock } from '../../kube/clock.js';
import { createOrFindOwned } from '../../kube/create-if-absent.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { isControlledBy, ownerReference } from '../../kube/owner-reference.js';
import { RUNTIME_TOKEN_KEY } from '../../api/runtime-protocol.js';
import { readRuntimeToken } from '../shared/runtime-pods.js';
import { Blocked } from './blocked.js';
import type { ClaimUser } from './in-use.js';
import { SCALE_DOWN_RECHECK_MS, scaleDownMessage } from './scale-down-guard.js';

/** Annotation on the (cluster-scoped, owner-less) PV naming its SampleSet as `<namespace>/<name>`. */
export const PV_OWNER_ANNOTATION = `${LABEL_DOMAIN}/sampleset-owner`;

/**
 * Pod-template annotation with a hash of the runtime token: a new token (the token Secret was
 * deleted and re-created) changes the template, so the StatefulSet restarts the runtime pods with it.
 */
export const TOKEN_HASH_ANNOTATION = `${LABEL_DOMAIN}/runtime-token-hash`;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** On our PVC: when we last nudged the PV binder (see `nudgeBinder`). */
export const BIND_NUDGE_ANNOTATION = `${LABEL_DOMAIN}/bind-nudged-at`;
/** The first nudge comes this long after the claim was made; each next one waits twice as long as the last, up to the longest. */
const BIND_NUDGE_MS = 2_000;
const BIND_NUDGE_MAX_MS = 30_000;
/** Look again this soon after creating the PV (its watch event normally comes first). */
const PV_CREATED_REQUEUE_MS = 2_000;

/** What the operator lends these phases. */
export interface RuntimeObjectsDeps {
  api: Pick<KubeApi, 'create' | 'get' | 'patch'>;
  cached<T extends KubernetesObject>(type: ResourceType, name: string, namespace?: string): T | undefined;
  event(ss: SampleSet, type: EventType, reason: string, message: string): Promise<void>;
  clock: Clock;
  runtimeImage: string;
  /** Look again at an object conflict after this long. */
  conflictRetryMs: number;
  /** The pods a scale-down to `partitions` must wait for (scale-down-guard.ts). */
  scaleDownBlockers(ss: SampleSet, claimName: string, statefulSetName: string, partitions: number): ClaimUser[];
}

export interface RuntimeObjectsInput {
  sampleSet: SampleSet;
  engine: CacheEngine;
  volumeSecret: V1Secret;
}

/** The PV was created in this pass: the claim follows in the next one (see `ensure`). */
export interface PvJustCreated {
  pvCreated: true;
  pvName: string;
  requeueAfterMs: number;
}

export interface RuntimeObjects {
  pvCreated?: false;
  pv: CachedVolume;
  pvc: CachedClaim;
  statefulSet: CachedStatefulSet;
  /** The token the runtime pods use (the stored one). */
  runtimeToken: string;
  /** The StatefulSet asks for exactly `partitions` replicas (after this pass's rescale), or keeps more on purpose. */
  replicasMatch: boolean;
  /** Why a scale-down waits (the extra partitions keep serving meanwhile). */
  scaleDownHeld?: string;
  /** Look again this soon (the PV binder was nudged). */
  requeueAfterMs?: number;
}

export class RuntimeObjectsPhase {
  constructor(private readonly deps: RuntimeObjectsDeps) {}

  async ensure({ sampleSet: ss, engine, volumeSecret }: RuntimeObjectsInput): Promise<RuntimeObjects | PvJustCreated> {
    const ns = ss.metadata.namespace!;
    const { runtimeImage } = this.deps;
    const tokenName = engine.tokenSecretName(ss);
    const existingToken = this.deps.cached<V1Secret>(SECRET, tokenName, ns);
    const token =
      (existingToken && isControlledBy(existingToken, ss) && readRuntimeToken(existingToken)) || randomBytes(32).toString('hex');
    let built = engine.buildObjects({ sampleSet: ss, volumeSecret, runtimeToken: token, runtimeImage });
    const pvName = built.persistentVolume.metadata!.name!;
    const pv = await this.ensurePv(ss, stamp(ss, built.persistentVolume, false));
    if (pv.created) {
      // Create the claim in the next pass, once the PV shows in our watch: kube-controller-manager's
      // binder, handed a claim for a PV it has not seen yet, leaves it Pending until its periodic
      // resync (15 s). (Our PV watch event re-queues us; the requeue is a fallback.)
      return { pvCreated: true, pvName, requeueAfterMs: PV_CREATED_REQUEUE_MS };
    }
    const pvc = await this.ensureOwned<CachedClaim>(ss, PVC, stamp(ss, built.persistentVolumeClaim, true));
    const tokenSecret = await this.ensureOwned<V1Secret>(ss, SECRET, stamp(ss, built.tokenSecret, true));
    if (!readRuntimeToken(tokenSecret)) await this.deps.api.patch(SECRET, tokenName, ns, { stringData: { [RUNTIME_TOKEN_KEY]: token } });
    // the token that counts is the stored one (our cache may have lagged behind a token made earlier)
    const runtimeToken = readRuntimeToken(tokenSecret) ?? token;
    if (runtimeToken !== token) built = engine.buildObjects({ sampleSet: ss, volumeSecret, runtimeToken, runtimeImage });
    await this.ensureOwned<CachedService>(ss, SERVICE, stamp(ss, built.service, true));
    const sts = await this.ensureOwned<CachedStatefulSet>(ss, STATEFULSET, stampStatefulSet(ss, built.statefulSet, runtimeToken));

    await this.releaseOldClaim(pv.object, pvc);
    const requeueAfterMs = await this.nudgeBinder(pv.object, pvc, ns);
    const { replicasMatch, held } = await this.rollOut(ss, sts, runtimeToken, pvc.metadata!.name!);
    if (held)
      return {
        pv: pv.object,
        pvc,
        statefulSet: sts,
        runtimeToken,
        replicasMatch,
        scaleDownHeld: held,
        requeueAfterMs: SCALE_DOWN_RECHECK_MS,
      };
    return { pv: pv.object, pvc, statefulSet: sts, runtimeToken, replicasMatch, requeueAfterMs };
  }

  /** A PV left Released by an earlier SampleSet of the same name is ours: let the new claim bind it (keep the pre-binding, drop the old claim's uid). */
  private async releaseOldClaim(pv: CachedVolume, pvc: CachedClaim): Promise<void> {
    if (pv.status?.phase === 'Released' && pv.spec?.claimRef?.uid && pv.spec.claimRef.uid !== pvc.metadata?.uid) {
      await this.deps.api.patch(PV, pv.metadata!.name!, undefined, { spec: { claimRef: { uid: null, resourceVersion: null } } });
    }
  }

  /**
   * kube-controller-manager's binder can lose a race with itself (claim and volume workers both
   * update the PV; the loser logs "Could not sync claim" and waits for its 15 s resync), leaving the
   * PV bound to our claim and the claim Pending. Touching the claim makes it sync again. A binder
   * that is merely busy (hundreds of claims at once) also shows that state for a while, so the
   * nudges back off: 2 s after the claim was made, then 4, 8, … up to 30 s apart. Returns when to
   * look again while that may be the case.
   */
  private async nudgeBinder(pv: CachedVolume, pvc: CachedClaim, ns: string): Promise<number | undefined> {
    if (pvc.status?.phase !== 'Pending' || !pv.spec?.claimRef?.uid || pv.spec.claimRef.uid !== pvc.metadata?.uid) return undefined;
    const now = this.deps.clock.now();
    const created = Date.parse(String(pvc.metadata?.creationTimestamp ?? '')) || 0;
    const nudged = Date.parse(pvc.metadata?.annotations?.[BIND_NUDGE_ANNOTATION] ?? '') || 0;
    const wait = (since: number): number => Math.min(BIND_NUDGE_MAX_MS, Math.max(BIND_NUDGE_MS, since - created));
    const due = nudged ? nudged + wait(nudged) : created + BIND_NUDGE_MS;
    if (now < due) return due - now;
    await this.deps.api.patch(PVC, pvc.metadata.name!, ns, {
      metadata: { annotations: { [BIND_NUDGE_ANNOTATION]: new Date(now).toISOString() } },
    });
    return wait(now);
  }

  /**
   * Restarts the runtime with a new token and scales it to `partitions` (a scale-down waits for the
   * pods using the cache it removes); whether the replicas match, and why a scale-down waits.
   */
  private async rollOut(
    ss: SampleSet,
    sts: CachedStatefulSet,
    runtimeToken: string,
    claimName: string,
  ): Promise<{ replicasMatch: boolean; held?: string }> {
    const ns = ss.metadata.namespace!;
    const name = sts.metadata!.name!;
    const partitions = Math.max(1, ss.spec.partitions ?? 1);
    if (sts.metadata?.deletionTimestamp) return { replicasMatch: sts.spec?.replicas === partitions };
    const wantHash = tokenHash(runtimeToken);
    if (sts.spec?.template?.metadata?.annotations?.[TOKEN_HASH_ANNOTATION] !== wantHash) {
      await this.deps.api.patch(STATEFULSET, name, ns, {
        spec: { template: { metadata: { annotations: { [TOKEN_HASH_ANNOTATION]: wantHash } } } },
      });
      await this.deps.event(ss, 'Normal', 'RuntimeTokenChanged', `the runtime token changed; restarting the pods of ${name} with it`);
    }
    if (sts.spec?.replicas !== partitions) {
      const from = sts.spec?.replicas ?? 0;
      const users = from > partitions ? this.deps.scaleDownBlockers(ss, claimName, name, partitions) : [];
      if (users.length > 0) {
        const held = scaleDownMessage(from, partitions, users);
        await this.deps.event(ss, 'Warning', 'ScaleDownWaiting', held);
        return { replicasMatch: true, held };
      }
      await this.deps.api.patch(STATEFULSET, name, ns, { spec: { replicas: partitions } });
      await this.deps.event(ss, 'Normal', 'Scaled', `runtime StatefulSet ${name} scaled from ${from} to ${partitions} partitions`);
    }
    return { replicasMatch: true };
  }

  private blocked(conflict: string): Blocked {
    return new Blocked(
      'ObjectConflict',
      `${conflict}: the operator adopts nothing it did not create; delete or rename it`,
      this.deps.conflictRetryMs,
    );
  }

  /** Gets (from the cache) or creates a namespaced object the SampleSet controls; a foreign one blocks the pass. */
  private async ensureOwned<T extends KubernetesObject>(ss: SampleSet, type: ResourceType, desired: T): Promise<T> {
    const ns = ss.metadata.namespace!;
    const name = desired.metadata!.name!;
    const what = `${type.kind} ${ns}/${name}`;
    const conflict = `${what} exists and is not owned by this SampleSet`;
    const cached = this.deps.cached<T>(type, name, ns);
    if (cached) {
      if (!isControlledBy(cached, ss)) throw this.blocked(conflict);
      return cached;
    }
    const r = await createOrFindOwned(this.deps.api, type, desired, (o) => isControlledBy(o, ss), ns);
    if (!r.object) throw this.blocked(conflict);
    if (r.created) await this.deps.event(ss, 'Normal', `Created${type.kind}`, `created ${what}`);
    return r.object;
  }

  private async ensurePv(ss: SampleSet, desired: V1PersistentVolume): Promise<{ object: CachedVolume; created: boolean }> {
    const name = desired.metadata!.name!;
    const ours = (pv: CachedVolume): boolean => isOurPersistentVolume(pv, ss, desired);
    const conflict = `PersistentVolume ${name} exists and does not belong to this SampleSet`;
    const cached = this.deps.cached<CachedVolume>(PV, name);
    if (cached) {
      if (!ours(cached)) throw this.blocked(conflict);
      return { object: cached, created: false };
    }
    const r = await createOrFindOwned(this.deps.api, PV, desired, ours);
    if (!r.object) throw this.blocked(conflict);
    if (r.created) await this.deps.event(ss, 'Normal', 'CreatedPersistentVolume', `created PersistentVolume ${name}`);
    return { object: r.object, created: r.created };
  }
}

/**
 * The PV of this name is this SampleSet's: our label, our owner annotation, and the volumeHandle the
 * engine builds — or the PV's own name, which earlier builds used as the handle (a PV's spec is
 * immutable, so those PVs keep it).
 */
export function isOurPersistentVolume(pv: CachedVolume, ss: SampleSet, desired: V1PersistentVolume): boolean {
  const handle = pv.spec?.csi?.volumeHandle ?? '';
  return (
    pv.metadata?.labels?.[SAMPLESET_LABEL] === ss.metadata.name &&
    pv.metadata?.annotations?.[PV_OWNER_ANNOTATION] === `${ss.metadata.namespace}/${ss.metadata.name}` &&
    (handle === (desired.spec?.csi?.volumeHandle ?? '') || handle === desired.metadata?.name)
  );
}

/** Our label (and owner, for namespaced objects) on an object the engine built. */
function stamp<T extends KubernetesObject>(ss: SampleSet, o: T, namespaced: boolean): T {
  const md = (o.metadata ??= {});
  md.labels = { ...(md.labels ?? {}), [SAMPLESET_LABEL]: ss.metadata.name!, [CREATED_BY_LABEL]: CREATED_BY_VALUE };
  if (namespaced) {
    md.namespace = ss.metadata.namespace;
    const refs = (md.ownerReferences ?? []).filter((r) => r.uid !== ss.metadata.uid && !r.controller);
    md.ownerReferences = [ownerReference(ss), ...refs];
  } else {
    md.annotations = { ...(md.annotations ?? {}), [PV_OWNER_ANNOTATION]: `${ss.metadata.namespace}/${ss.metadata.name}` };
  }
  return o;
}

function stampStatefulSet(ss: SampleSet, sts: V1StatefulSet, token: string): V1StatefulSet {
  stamp(ss, sts, true);
  const tmd = sts.spec?.template?.metadata;
  if (tmd) {
    tmd.labels = { ...(tmd.labels ?? {}), [SAMPLESET_LABEL]: ss.metadata.name! };
    tmd.annotations = { ...(tmd.annotations ?? {}), [TOKEN_HASH_ANNOTATION]: tokenHash(token) };
  }
  return sts;
}
