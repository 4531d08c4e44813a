/**
 * The SampleSet's JuiceFS volume: a statically provisioned CSI PV (`csi.juicefs.com`) and the PVC
 * bound to exactly that PV (volumeName plus a label selector on the SampleSet's name and namespace).
 * Owner references are added by the operator (the PV is cluster-scoped and gets none).
 */
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { CREATED_BY_LABEL, CREATED_BY_VALUE, SAMPLESET_LABEL } from '../../api/constants.js';
import type { SampleSet } from '../../api/sampleset.js';
import { CAPACITY, JUICEFS_CSI_DRIVER, SAMPLESET_NAMESPACE_LABEL, STORAGE_CLASS } from './constants.js';
import { buildMountConfig, mountOptionsString, type JuiceFsMountConfig } from './mount-options.js';
import { namespaceOf, persistentVolumeClaimName, persistentVolumeName, volumeHandle } from './names.js';

/** Labels of the PV; the PVC selects exactly these. */
export function volumeLabels(s: SampleSet): Record<string, string> {
  return {
    [SAMPLESET_LABEL]: s.metadata.name!,
    [SAMPLESET_NAMESPACE_LABEL]: namespaceOf(s),
    [CREATED_BY_LABEL]: CREATED_BY_VALUE,
  };
}

export function buildPersistentVolume(s: SampleSet, mount: JuiceFsMountConfig = buildMountConfig(s)): V1PersistentVolume {
  const name = persistentVolumeName(s);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels: volumeLabels(s) },
    spec: {
      accessModes: ['ReadWriteMany'],
      capacity: { storage: CAPACITY },
      storageClassName: STORAGE_CLASS,
      persistentVolumeReclaimPolicy: 'Retain',
      volumeMode: 'Filesystem',
      // Only the PVC of this SampleSet may bind it (even before the PVC exists).
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: namespaceOf(s), name: persistentVolumeClaimName(s) },
      csi: {
        driver: JUICEFS_CSI_DRIVER,
        fsType: 'juicefs',
        volumeHandle: volumeHandle(s),
        // Always the SampleSet's own namespace: a SampleSet may use only its own namespace's Secrets
        // (a different secretRef.namespace is refused by the operator before anything is built).
        nodePublishSecretRef: { name: s.spec.secretRef.name, namespace: namespaceOf(s) },
        volumeAttributes: { mountOptions: mountOptionsString(mount) },
      },
    },
  };
}

export function buildPersistentVolumeClaim(s: SampleSet): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: persistentVolumeClaimName(s),
      namespace: namespaceOf(s),
      labels: { [SAMPLESET_LABEL]: s.metadata.name!, [CREATED_BY_LABEL]: CREATED_BY_VALUE },
    },
    spec: {
      accessModes: ['ReadWriteMany'],
      storageClassName: STORAGE_CLASS,
      volumeMode: 'Filesystem',
      volumeName: persistentVolumeName(s),
      selector: { matchLabels: { [SAMPLESET_LABEL]: s.metadata.name!, [SAMPLESET_NAMESPACE_LABEL]: namespaceOf(s) } },
      resources: { requests: { storage: CAPACITY } },
    },
  };
}
