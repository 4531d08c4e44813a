// The implicit contract between the operators and every cache engine (see the `CacheEngine` doc in
// src/engines/cache-engine.ts and src/engines/README.md), checked for each installed engine package
// and the example package: what the operators find objects by, what they read from the objects the
// engine builds, and the name limits of the API server. A new engine in src/engines/installed.ts is
// checked here without a line of this file changing.
import { expect } from 'chai';
import type { KubernetesObject, V1Container, V1PodTemplateSpec, V1Toleration, V1NodeAffinity } from '@kubernetes/client-node';
import { LABEL_DOMAIN, RUNTIME_PORT, RUNTIME_PORT_NAME, SAMPLESET_LABEL } from '../../../src/api/constants.js';
import { parseRuntimeArgs } from '../../../src/api/runtime-cli.js';
import { MAX_WARMUP_SHARDS, RUNTIME_TOKEN_ENV, RUNTIME_TOKEN_KEY } from '../../../src/api/runtime-protocol.js';
import type { SampleSet } from '../../../src/api/sampleset.js';
import type { CacheEngine, EnginePackage, SampleSetObjects } from '../../../src/engines/cache-engine.js';
import { EXAMPLE_PACKAGE } from '../../../src/engines/example/example-engine.js';
import { INSTALLED_ENGINES } from '../../../src/engines/installed.js';
import { podOrdinal, readRuntimeToken, runtimePodName } from '../../../src/operators/shared/runtime-pods.js';
import { sampleSet, secret } from './fixtures.js';

const PACKAGES: readonly EnginePackage[] = [...INSTALLED_ENGINES, EXAMPLE_PACKAGE];
/** The longest SampleSet name the CRD admits. */
const LONGEST_NAME = 'a'.repeat(39) + '-long-sample-set';
const TOKEN = 'contract-token-0123456789abcdef';

/** A DNS-1123 label (Service, StatefulSet names; label values are looser but fit it too). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS-1123 subdomain (PV, PVC, Secret names). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label key's name part. */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

const nodeAffinity: V1NodeAffinity = {
  requiredDuringSchedulingIgnoredDuringExecution: {
    nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'In', values: ['a100'] }] }],
  },
};
const tolerations: V1Toleration[] = [{ key: 'dedicated', operator: 'Equal', value: 'cache', effect: 'NoSchedule' }];

/**
 * A SampleSet every engine must accept: no sync (noSync, no source: nothing engine-specific to
 * validate), the placement fields set. The volume Secret carries the keys JuiceFS requires; an engine that needs
 * other keys adds them here.
 */
function contractSampleSet(pkg: EnginePackage, name = 'imagenet', partitions = 3): SampleSet {
  const s = sampleSet({ csi: { driver: pkg.name }, partitions, nodeAffinity, tolerations, noSync: true }, name, 'ml');
  delete s.spec.source;
  return s;
}
const volumeSecret = secret({ name: 'vol', metaurl: 'redis://redis.ml:6379/1' });

function build(engine: CacheEngine, s: SampleSet): SampleSetObjects {
  engine.validateSpec(s);
  engine.validateVolumeSecret(volumeSecret, s);
  return engine.buildObjects({ sampleSet: s, volumeSecret, runtimeToken: TOKEN, runtimeImage: 'paddle-operator:contract' });
}

const template = (o: SampleSetObjects): V1PodTemplateSpec => o.statefulSet.spec!.template;
/** The container serving the runtime: the one with the `runtime` port. */
function runtimeContainer(o: SampleSetObjects): V1Container {
  const found = template(o).spec!.containers.filter((c) => c.ports?.some((p) => p.name === RUNTIME_PORT_NAME));
  expect(found, 'exactly one container declares the runtime port').to.have.length(1);
  return found[0];
}
const subset = (sub: Record<string, string> | undefined, of: Record<string, string> | undefined): boolean =>
  !!sub && Object.keys(sub).length > 0 && Object.entries(sub).every(([k, v]) => of?.[k] === v);

for (const pkg of PACKAGES) {
  describe(`cache engine contract: ${pkg.name}`, () => {
    const engine = pkg.controller({});
    const s = contractSampleSet(pkg);
    let o: SampleSetObjects;
    before(() => {
      o = build(engine, s);
    });

    it('is registered under its own name, with a runtime half', () => {
      expect(engine.name).to.equal(pkg.name);
      expect(pkg.name).to.match(DNS_LABEL);
      expect(pkg.runtime).to.be.a('function');
    });

    it('builds the objects under the names its name functions give (the operators find them by those)', () => {
      expect(o.persistentVolume.metadata?.name).to.equal(engine.persistentVolumeName(s));
      expect(o.persistentVolume.metadata?.namespace, 'the PV is cluster-scoped').to.equal(undefined);
      for (const [obj, name] of [
        [o.persistentVolumeClaim, engine.persistentVolumeClaimName(s)],
        [o.tokenSecret, engine.tokenSecretName(s)],
        [o.service, engine.serviceName(s)],
        [o.statefulSet, engine.statefulSetName(s)],
      ] as const) {
        expect(obj.metadata?.name, obj.kind).to.equal(name);
        expect(obj.metadata?.namespace, `${obj.kind} lives in the SampleSet's namespace`).to.equal('ml');
        expect(obj.metadata?.ownerReferences, `${obj.kind}: the operator adds the owner`).to.equal(undefined);
      }
      expect(o.statefulSet.kind).to.equal('StatefulSet');
      expect(o.statefulSet.apiVersion).to.equal('apps/v1');
    });

    it('binds the claim to exactly its PV and keeps the data when the SampleSet goes (Retain)', () => {
      expect(o.persistentVolumeClaim.spec?.volumeName).to.equal(engine.persistentVolumeName(s));
      expect(o.persistentVolume.spec?.persistentVolumeReclaimPolicy).to.equal('Retain');
      const ref = o.persistentVolume.spec?.claimRef;
      if (ref)
        expect({ namespace: ref.namespace, name: ref.name }).to.deep.equal({ namespace: 'ml', name: engine.persistentVolumeClaimName(s) });
    });

    it(`stores the runtime token under the Secret key "${RUNTIME_TOKEN_KEY}" and hands it to the runtime as ${RUNTIME_TOKEN_ENV}`, () => {
      expect(readRuntimeToken(o.tokenSecret), 'what the operators read back').to.equal(TOKEN);
      const env = runtimeContainer(o).env?.find((e) => e.name === RUNTIME_TOKEN_ENV);
      expect(env?.valueFrom?.secretKeyRef).to.deep.include({ name: engine.tokenSecretName(s), key: RUNTIME_TOKEN_KEY });
      expect(JSON.stringify(o.statefulSet), 'the token is never written into the pod template').not.to.contain(TOKEN);
    });

    it(`runs paddle-runtime with this engine, serving on port "${RUNTIME_PORT_NAME}" ${RUNTIME_PORT} with /healthz as readiness`, () => {
      const c = runtimeContainer(o);
      expect(c.ports!.find((p) => p.name === RUNTIME_PORT_NAME)?.containerPort).to.equal(RUNTIME_PORT);
      const [command, ...rest] = [...(c.command ?? []), ...(c.args ?? [])];
      expect(command).to.equal('paddle-runtime');
      const args = parseRuntimeArgs(rest);
      expect(args.command ?? 'serve').to.equal('serve');
      expect(args.engine, 'paddle-runtime runs the runtime half of this engine').to.equal(pkg.name);
      expect(args.port, 'the operators call http://<podIP>:7716').to.equal(RUNTIME_PORT);
      expect(['0.0.0.0', '::']).to.include(args.host);
      const probe = c.readinessProbe?.httpGet;
      expect(probe?.path).to.equal('/healthz');
      expect([RUNTIME_PORT_NAME, RUNTIME_PORT]).to.include(probe?.port);
    });

    it(`selects its runtime pods by ${SAMPLESET_LABEL}=<name>: StatefulSet, Service and anti-affinity`, () => {
      const podLabels = template(o).metadata?.labels;
      const selector = o.statefulSet.spec?.selector?.matchLabels;
      expect(selector?.[SAMPLESET_LABEL], 'the selector is unique to the SampleSet').to.equal(s.metadata.name);
      expect(subset(selector, podLabels), 'the StatefulSet selects its own pods').to.equal(true);
      expect(podLabels?.[SAMPLESET_LABEL], 'the label the operators watch runtime pods by').to.equal(s.metadata.name);
      expect(o.service.spec?.clusterIP, 'headless').to.equal('None');
      expect(o.statefulSet.spec?.serviceName).to.equal(engine.serviceName(s));
      expect(subset(o.service.spec?.selector, podLabels), 'the Service selects the runtime pods').to.equal(true);
      expect(o.service.spec?.selector?.[SAMPLESET_LABEL]).to.equal(s.metadata.name);
      expect(o.service.spec?.ports?.find((p) => p.name === RUNTIME_PORT_NAME)?.port).to.equal(RUNTIME_PORT);
    });

    it('places at most one runtime pod per node, where the SampleSet says (nodeAffinity, tolerations), one per partition', () => {
      const spec = template(o).spec!;
      const terms = spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
      const own = terms.filter(
        (t) => t.topologyKey === 'kubernetes.io/hostname' && subset(t.labelSelector?.matchLabels, template(o).metadata?.labels),
      );
      expect(own, 'a required anti-affinity term on kubernetes.io/hostname matching the pods themselves').to.have.length.greaterThan(0);
      expect(own[0].labelSelector!.matchLabels![SAMPLESET_LABEL]).to.equal(s.metadata.name);
      expect(spec.affinity?.nodeAffinity).to.deep.equal(nodeAffinity);
      expect(spec.tolerations).to.deep.include.members(tolerations);
      expect(o.statefulSet.spec?.replicas).to.equal(3);
    });

    it(`labels cache nodes under ${LABEL_DOMAIN}/ (node events are only mapped back for that prefix)`, () => {
      const key = engine.nodeLabelKey(s);
      expect(key.startsWith(`${LABEL_DOMAIN}/`)).to.equal(true);
      expect(engine.nodeLabelKey(contractSampleSet(pkg, 'other'))).not.to.equal(key);
    });

    it("fits the API server's name limits for the longest SampleSet name the CRD admits (55) and the most partitions", () => {
      expect(LONGEST_NAME).to.have.length(55);
      const long = contractSampleSet(pkg, LONGEST_NAME, MAX_WARMUP_SHARDS);
      const lo = build(engine, long);
      const key = engine.nodeLabelKey(long);
      const [prefix, labelName] = key.split('/');
      expect(prefix).to.equal(LABEL_DOMAIN);
      expect(labelName.length, `node label key ${key}`).to.be.at.most(63);
      expect(labelName).to.match(LABEL_NAME);
      const sts = engine.statefulSetName(long);
      // the StatefulSet controller labels pods controller-revision-hash=<name>-<hash of up to 10>
      expect(sts.length, `StatefulSet ${sts}`).to.be.at.most(52);
      expect(sts).to.match(DNS_LABEL);
      const lastPod = runtimePodName(sts, MAX_WARMUP_SHARDS - 1);
      // the pod name is the value of the cache-node label (and of statefulset.kubernetes.io/pod-name)
      expect(lastPod.length, `runtime pod ${lastPod}`).to.be.at.most(63);
      expect(podOrdinal(lastPod, sts)).to.equal(MAX_WARMUP_SHARDS - 1);
      expect(engine.serviceName(long).length).to.be.at.most(63);
      expect(engine.serviceName(long)).to.match(DNS_LABEL);
      for (const n of [engine.persistentVolumeName(long), engine.persistentVolumeClaimName(long), engine.tokenSecretName(long)]) {
        expect(n.length, n).to.be.at.most(253);
        expect(n).to.match(DNS_SUBDOMAIN);
      }
      for (const obj of Object.values(lo) as KubernetesObject[]) {
        for (const [k, v] of Object.entries(obj.metadata?.labels ?? {})) expect(v.length, `${obj.kind} label ${k}`).to.be.at.most(63);
      }
    });

    it("names no two SampleSets' objects alike (same name in two namespaces; two names in one)", () => {
      const a = contractSampleSet(pkg, 'data');
      const b = { ...a, metadata: { ...a.metadata, namespace: 'other' } };
      const c = contractSampleSet(pkg, 'data2');
      expect(engine.persistentVolumeName(a), 'the PV is cluster-scoped').not.to.equal(engine.persistentVolumeName(b));
      for (const f of ['persistentVolumeName', 'persistentVolumeClaimName', 'statefulSetName', 'serviceName', 'tokenSecretName'] as const) {
        expect(engine[f](a), f).not.to.equal(engine[f](c));
      }
    });
  });
}
