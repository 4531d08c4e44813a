/** Fixed names and defaults of the JuiceFS engine. */

export const JUICEFS_ENGINE = 'juicefs';
/** The JuiceFS CSI driver. */
export const JUICEFS_CSI_DRIVER = 'csi.juicefs.com';
/** storageClassName of the PV and PVC; no StorageClass object exists (static provisioning). */
export const STORAGE_CLASS = 'paddle-operator';
/** PV capacity (not enforced by JuiceFS; the PVC requests the same). */
export const CAPACITY = '10Pi';
/** Default total cache size in MiB when neither cache.levels nor cache-size set one (100 GiB). */
export const DEFAULT_CACHE_SIZE_MIB = 102400;

/** Inside a runtime pod: the dataset (the SampleSet PVC) and the cache tiers `/cache/<i>`. */
export const POD_DATA_DIR = '/data';
export const POD_CACHE_ROOT = '/cache';
export const POD_TMP_DIR = '/tmp';

/** Label values and keys of the objects this engine builds. */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const RUNTIME_COMPONENT = 'cache-runtime';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const RUNTIME_APP_NAME = 'paddle-runtime';
/** On the (cluster-scoped) PV: the SampleSet's namespace, so a PVC selects only its own PV. */
export const SAMPLESET_NAMESPACE_LABEL = 'paddlepaddle.org/sampleset-namespace';
/** The runtime binary inside the image. */
export const RUNTIME_COMMAND = 'paddle-runtime';

/** Env var naming the juicefs binary for the runtime (default `juicefs` on PATH). */
export const JUICEFS_BIN_ENV = 'JUICEFS_BIN';

/**
 * Runtime pod env: the volume's META-URL (from the volume Secret's `metaurl`) and the mounted
 * subdirectory, if any. Syncs write through `jfs://PADDLE_JUICEFS_META_URL/<subdir>/<dest>/`:
 * JuiceFS then resolves every path inside the volume itself, so no symlink a tenant plants can
 * lead a copy or a delete out of it (a path through the FUSE mount would follow it).
 */
export const META_URL_ENV = 'PADDLE_JUICEFS_META_URL';
export const SUBDIR_ENV = 'PADDLE_JUICEFS_SUBDIR';
