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

/**
 * `juicefs mount` options the engine adds unless `spec.csi.juiceFSMountOptions` sets them (the
 * SampleSet's value always wins; `open-cache: 0` turns it off again). Measured with
 * test/bench/data-path.ts, figures in the README ("The data path"):
 *
 *  - `open-cache=1` (seconds; JuiceFS's default 0 = off). With it, a warmup also loads each file's
 *    attributes and block list into the mount's open-file cache, and a file opened again keeps its
 *    block list while its mtime is unchanged: a warm read of a small file then skips the metadata
 *    engine for the block list (and, within the second, for the attributes). Small files read warm
 *    about 1.6× faster (files/s, median of paired runs). One second keeps the staleness window of
 *    JuiceFS's own attribute cache default (1 s): a file changed by another client (a sync) is seen
 *    as soon as without it.
 *
 * Measured and left at JuiceFS's defaults, as no candidate moved the figures beyond run-to-run
 * noise: buffer-size (300 MiB), prefetch (1), max-readahead, max-fuse-io (128 KiB). free-space-ratio
 * stays JuiceFS's 0.1: the mount stops caching on a disk with less free space than that ratio (at
 * 0.3 on a disk 80 % full a "warm" read was as slow as a cold one), so a higher value is a trap.
 */
export const DEFAULT_MOUNT_OPTIONS: Readonly<Record<string, string>> = { 'open-cache': '1' };

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
