/** Fixed names and defaults of the JuiceFS engine. */

export const JUICEFS_ENGINE = 'juicefs';
/** The JuiceFS CSI driver. */
export const JUICEFS_CSI_DRIVER = 'csi.juicefs.com';
/** storageClassName of the PV and PVC; no StorageClass object exists (static provisioning). */
export const STORAGE_CLASS = 'paddle-operator';
/** PV capacity (not enforced by JuiceFS; the PVC requests the same). */
export const CAPACITY = '10Pi';
/**
 * Default total cache size in MiB when neither cache.levels nor cache-size set one (100 GiB). The
 * cache must hold the dataset: in test/bench/data-path.ts a cache half the dataset's size served
 * 20 % of a warm read (37.9 MiB/s against 295 MiB/s with room for all of it).
 *
 * Apart from it and DEFAULT_MOUNT_OPTIONS, every `juicefs mount` option is left at JuiceFS's
 * default unless the SampleSet sets it. The same benchmark tried buffer-size 1024, prefetch 4,
 * max-readahead 64 and max-fuse-io 1M: none moved warm reads beyond the spread of the defaults'
 * own runs. free-space-ratio stays JuiceFS's 0.1: the mount stops caching on a disk whose free
 * share is below it (0.3 on a disk 80 % full: a "warm" read as slow as a cold one).
 */
export const DEFAULT_CACHE_SIZE_MIB = 102400;

/**
 * `juicefs mount` options the engine sets unless the SampleSet sets them (by API name; a SampleSet
 * turns one off with its off value, e.g. `open-cache: 0`).
 *
 * `open-cache` 300 s: the mount keeps a file's attributes and block list in memory for 5 minutes
 * after it was opened (up to JuiceFS's `open-cache-limit` of 10,000 files), so reading it again —
 * the next epoch of a training job — asks the metadata engine only to look its name up (the
 * kernel's entry cache below spares that too, when it outlasts the epoch). In test/bench/data-path.ts,
 * runs with and without it on the same machine (7 with, 8 without, 6 alternating pairs): warm reads
 * at a median 48 % of the local disk's rate against 42 % (379 against 322 MiB/s; 5 of the 6 pairs
 * +3 to +8 points), warmups no slower. It helps only a file read again within the 300 s (epochs
 * shorter than that). It cannot show stale data for what changes a SampleSet's data: a sync writes
 * each new or changed file under a temporary name and renames it into place (a new inode, which the
 * cache has never seen) and rmr unlinks, so once the kernel's 1 s entry cache (JuiceFS's default,
 * kept) has expired the next open reaches the new file or none (checked by hand: a file a sync had
 * replaced read new 1.5 s later). JuiceFS keeps the open cache for read-mostly data; a file
 * rewritten in place by another client (another node's mount) is the case it does not promise to
 * see at once (by hand it too read new after 1.5 s).
 *
 * The kernel's entry, attribute and directory-entry caches stay at JuiceFS's 1 s. At 300 s they
 * spare the `lookup` (a metadata query) of a file read again within that time: in the same
 * benchmark warm reads rose from 29–30 % to 35–41 % of the local disk's rate (small files from
 * 32–35 % to 41–46 %). But a longer entry cache shows stale content: a name whose file a sync
 * replaced keeps leading to the old file until it expires (by hand: five minutes of old content
 * at 300 s, silently), so the longer caches are left to a SampleSet whose data does not change
 * while it is read (`juiceFSMountOptions`).
 */
export const DEFAULT_MOUNT_OPTIONS: Readonly<Record<string, string | number | boolean>> = { 'open-cache': 300 };

/**
 * Files a warmup fills in parallel when the SampleJob does not say (JuiceFS's own default). In
 * test/bench/data-path.ts 10 threads took 1.7× as long for the same 510 MiB (17.4 s against 10.5 s)
 * and 200 were no faster (11.1 s).
 */
export const DEFAULT_WARMUP_THREADS = 50;

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
