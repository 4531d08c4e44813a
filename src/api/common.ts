import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { Condition } from './conditions.js';

/** The parts every one of our custom resources has. */
export interface CustomResource<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

export interface CommonStatus {
  phase?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}

/** {name, namespace} reference to a Secret; namespace defaults to the referring object's. */
export interface SecretRef {
  name: string;
  namespace?: string;
}

export interface ObjectRef {
  apiVersion?: string;
  kind?: string;
  name: string;
  namespace?: string;
  uid?: string;
}
