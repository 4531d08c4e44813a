/** Group, versions, kinds and the fixed names every part of the operator agrees on. */

export const GROUP = 'batch.paddlepaddle.org';
export const V1ALPHA1 = 'v1alpha1';
export const V1 = 'v1';

/** Describes one Kubernetes resource type: enough to build its REST paths and owner references. */
export interface ResourceType {
  readonly group: string; // '' for the core group
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

export const SAMPLESET: ResourceType = { group: GROUP, version: V1ALPHA1, kind: 'SampleSet', plural: 'samplesets', namespaced: true };
export const SAMPLEJOB: ResourceType = { group: GROUP, version: V1ALPHA1, kind: 'SampleJob', plural: 'samplejobs', namespaced: true };
export const PADDLEJOB: ResourceType = { group: GROUP, version: V1, kind: 'PaddleJob', plural: 'paddlejobs', namespaced: true };

export const POD: ResourceType = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };
export const SERVICE: ResourceType = { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true };
export const CONFIGMAP: ResourceType = { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
export const SECRET: ResourceType = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
export const PVC: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  namespaced: true,
};
export const PV: ResourceType = { group: '', version: 'v1', kind: 'PersistentVolume', plural: 'persistentvolumes', namespaced: false };
export const NODE: ResourceType = { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
export const EVENT: ResourceType = { group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true };
export const STATEFULSET: ResourceType = { group: 'apps', version: 'v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true };
export const LEASE: ResourceType = { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true };
export const PODGROUP: ResourceType = {
  group: 'scheduling.volcano.sh',
  version: 'v1beta1',
  kind: 'PodGroup',
  plural: 'podgroups',
  namespaced: true,
};
export const MUTATING_WEBHOOK_CONFIGURATION: ResourceType = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'MutatingWebhookConfiguration',
  plural: 'mutatingwebhookconfigurations',
  namespaced: false,
};
export const CRD: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  namespaced: false,
};

/** Port of the paddle-runtime HTTP server in every cache pod. */
export const RUNTIME_PORT = 7716;
export const RUNTIME_PORT_NAME = 'runtime';

/** Finalizers (names kept from the original so existing objects keep working). */
export const SAMPLESET_FINALIZER = 'paddlepaddle.org/sampleset';
export const SAMPLEJOB_FINALIZER = 'paddlepaddle.org/samplejob';
export const PADDLEJOB_FINALIZER = 'finalizers.paddlepaddle.org';

/** Label and annotation keys. */
export const LABEL_DOMAIN = 'paddlepaddle.org';
export const CREATED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const CREATED_BY_VALUE = 'paddle-operator';
/** On objects that realise a SampleSet: the SampleSet's name. */
export const SAMPLESET_LABEL = `${LABEL_DOMAIN}/sampleset`;
/** Label on PaddleJob pods. */
export const PADDLE_RES_NAME = 'paddle-res-name';
export const PADDLE_RES_TYPE = 'paddle-res-type';
export const PADDLE_JOB_NAME = 'paddle-job-name';
export const PADDLE_RES_INDEX = 'paddle-res-index';

/**
 * The node label that marks a cache node of a SampleSet: `paddlepaddle.org/<engine>-<sampleset>`,
 * value = the runtime pod on that node. Label names are limited to 63 characters, which is why
 * SampleSet names are limited to 55 characters by the CRD.
 */
export function cacheNodeLabelKey(engine: string, sampleSet: string): string {
  return `${LABEL_DOMAIN}/${engine}-${sampleSet}`;
}
