/**
 * The JuiceFS v1.3 `juicefs mount` flags a SampleSet may set in `spec.csi.juiceFSMountOptions`, by
 * their API name, with the kind and range of value each takes. The SampleSet CRD lists exactly
 * these fields with the same types, ranges and patterns (test/unit/engines/juicefs/crd-agreement
 * checks it), so an option is either offered and honoured or refused by the apiserver — never
 * accepted and silently dropped.
 *
 * Left out on purpose: flags that would let a tenant reach outside the volume or the node's
 * defaults (`storage`, `bucket`, `consul`, `log`, `update-fstab`, `background`, `force`, `-o`,
 * `prefix-internal`, `disable-transparent-hugepage`, `no-syslog`), and `max-downloads`, which
 * JuiceFS v1.3 itself refuses ("unknown option").
 */
import { SpecError } from '../cache-engine.js';

/**
 * `bool`: a bare flag when true. `int`: an integer in [min, max]. `duration`: integer seconds in
 * [min, max] or a string matching DURATION_PATTERN. `size`: integer MiB in [min, max] or a string
 * matching SIZE_PATTERN. `string`: a string of at most maxLength characters matching `pattern`.
 */
export type MountOptionKind = 'bool' | 'int' | 'duration' | 'size' | 'string';

export interface MountOptionDef {
  kind: MountOptionKind;
  /** The `juicefs mount` flag, when it differs from the API name. */
  flag?: string;
  /** Numeric range (int, and the integer form of duration and size). */
  min?: number;
  max?: number;
  /** String form: longest value and the pattern it must match. */
  maxLength?: number;
  pattern?: RegExp;
  /** Extra check on a string value; returns the problem. */
  check?: (v: string) => string | undefined;
}

/** Largest integer a numeric mount option takes (int32: what every JuiceFS counter and timeout fits). */
export const MOUNT_INT_MAX = 2147483647;
/** Longest string value of a duration or size option. */
export const MOUNT_SCALAR_MAX_LENGTH = 32;
/** Seconds as a number, or a Go-style duration (JuiceFS also takes `d` for days): `90s`, `1h30m`, `2d`. */
export const DURATION_PATTERN = /^([0-9]+([.][0-9]+)?|([0-9]+([.][0-9]+)?(ns|us|µs|ms|s|m|h|d))+)$/;
/** MiB as a number, or a number with a one-letter binary unit (JuiceFS refuses `Gi`): `512`, `1.5G`, `128K`. */
export const SIZE_PATTERN = /^[0-9]+([.][0-9]+)?[KMGTPE]?$/;
/** Octal file mode. */
const OCTAL_MODE = /^0?[0-7]{3}$/;
const SQUASH = /^[0-9]{1,10}(:[0-9]{1,10})?$/;

function checkRatio(v: string): string | undefined {
  if (!/^\d*\.?\d+$/.test(v)) return 'must be a decimal number';
  const r = Number(v);
  if (!(r >= 0 && r < 1)) return 'must be in [0, 1)';
  return undefined;
}

/** Supported mount options by API name. */
export const MOUNT_OPTIONS: Record<string, MountOptionDef> = {
  // metadata cache
  'attr-cache': { kind: 'duration' },
  'entry-cache': { kind: 'duration' },
  'dir-entry-cache': { kind: 'duration' },
  'negative-entry-cache': { kind: 'duration' },
  'open-cache': { kind: 'duration' },
  'open-cache-limit': { kind: 'int' },
  'readdir-cache': { kind: 'bool' },
  // data cache
  'cache-dir': { kind: 'string', maxLength: 4096 },
  'cache-size': { kind: 'size' },
  'free-space-ratio': { kind: 'string', maxLength: 32, pattern: /^(0([.][0-9]+)?|[.][0-9]+)$/, check: checkRatio },
  'cache-partial-only': { kind: 'bool' },
  'cache-large-write': { kind: 'bool' },
  'cache-items': { kind: 'int' },
  'cache-mode': { kind: 'string', maxLength: 4, pattern: OCTAL_MODE },
  'cache-eviction': { kind: 'string', maxLength: 8, pattern: /^(none|2-random)$/ },
  'cache-expire': { kind: 'duration' },
  'cache-scan-interval': { kind: 'duration' },
  'verify-cache-checksum': { kind: 'string', maxLength: 6, pattern: /^(none|full|shrink|extend)$/ },
  'buffer-size': { kind: 'size', min: 1 },
  prefetch: { kind: 'int' },
  'max-readahead': { kind: 'size' },
  writeback: { kind: 'bool' },
  'upload-delay': { kind: 'duration' },
  'upload-hours': { kind: 'string', maxLength: 5, pattern: /^[0-9]{1,2}[-,][0-9]{1,2}$/ },
  // object storage
  'get-timeout': { kind: 'duration' },
  'put-timeout': { kind: 'duration' },
  'io-retries': { kind: 'int' },
  'max-uploads': { kind: 'int', min: 1 },
  'max-deletes': { kind: 'int', min: 1 },
  'max-stage-write': { kind: 'int' },
  'upload-limit': { kind: 'size' },
  'download-limit': { kind: 'size' },
  'storage-class': { kind: 'string', maxLength: 64, pattern: /^[A-Za-z0-9_-]{1,64}$/ },
  'check-storage': { kind: 'bool' },
  // metadata / FUSE
  'sub-dir': { kind: 'string', flag: 'subdir', maxLength: 4096 },
  'backup-meta': { kind: 'duration' },
  'backup-skip-trash': { kind: 'bool' },
  heartbeat: { kind: 'duration' },
  'read-only': { kind: 'bool' },
  'no-bgjob': { kind: 'bool' },
  'atime-mode': { kind: 'string', maxLength: 11, pattern: /^(noatime|relatime|strictatime)$/ },
  'skip-dir-nlink': { kind: 'int' },
  'skip-dir-mtime': { kind: 'duration' },
  'sort-dir': { kind: 'bool' },
  'fast-statfs': { kind: 'bool' },
  'enable-xattr': { kind: 'bool' },
  'enable-cap': { kind: 'bool' },
  'enable-selinux': { kind: 'bool' },
  'enable-ioctl': { kind: 'bool' },
  'non-default-permission': { kind: 'bool' },
  'max-fuse-io': { kind: 'size' },
  umask: { kind: 'string', maxLength: 4, pattern: OCTAL_MODE },
  'root-squash': { kind: 'string', maxLength: 21, pattern: SQUASH },
  'all-squash': { kind: 'string', maxLength: 21, pattern: SQUASH },
  // metrics
  metrics: { kind: 'string', maxLength: 256, pattern: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):[0-9]{1,5}$/ },
  'custom-labels': {
    kind: 'string',
    maxLength: 1024,
    pattern: /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_.-]*(;[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_.-]*)*$/,
  },
  'no-usage-report': { kind: 'bool' },
};

/** The `juicefs mount` flag of an API name. */
export function mountFlagName(apiName: string): string {
  return MOUNT_OPTIONS[apiName]?.flag ?? apiName;
}

/** The numeric range of an int, duration or size option. */
export function mountOptionRange(def: MountOptionDef): { min: number; max: number } {
  return { min: def.min ?? 0, max: def.max ?? MOUNT_INT_MAX };
}

export function invalidMountOption(name: string, why: string): SpecError {
  return new SpecError('InvalidMountOption', `juiceFSMountOptions.${name}: ${why}`);
}

/**
 * The value of a mount option as it goes on the mount command line (`''` for a bare flag,
 * undefined for a false boolean). Throws SpecError InvalidMountOption. `cache-dir` and `sub-dir`
 * are only type-checked here: mount-options.ts validates them as paths.
 */
export function formatMountOption(name: string, value: unknown): string | undefined {
  const def = MOUNT_OPTIONS[name];
  if (!def) {
    throw invalidMountOption(name, `is not a supported JuiceFS mount option (supported: ${Object.keys(MOUNT_OPTIONS).sort().join(', ')})`);
  }
  if (def.kind === 'bool') {
    if (typeof value !== 'boolean') throw invalidMountOption(name, 'must be true or false');
    return value ? '' : undefined;
  }
  if (typeof value === 'number') {
    if (def.kind === 'string') throw invalidMountOption(name, 'must be a string');
    const { min, max } = mountOptionRange(def);
    if (!Number.isInteger(value) || value < min || value > max) throw invalidMountOption(name, `must be an integer in [${min}, ${max}]`);
    return String(value);
  }
  if (typeof value !== 'string')
    throw invalidMountOption(
      name,
      `must be ${def.kind === 'int' ? 'an integer' : def.kind === 'string' ? 'a string' : 'an integer or a string'}`,
    );
  if (def.kind === 'int') throw invalidMountOption(name, 'must be an integer');
  const maxLength = def.kind === 'string' ? (def.maxLength ?? 256) : MOUNT_SCALAR_MAX_LENGTH;
  if (value === '') throw invalidMountOption(name, 'must not be empty');
  if (value.length > maxLength) throw invalidMountOption(name, `must be at most ${maxLength} characters`);
  if (/[\s,=\0]/.test(value)) throw invalidMountOption(name, "must not contain whitespace, ',' or '='");
  const pattern = def.kind === 'duration' ? DURATION_PATTERN : def.kind === 'size' ? SIZE_PATTERN : def.pattern;
  if (pattern && !pattern.test(value)) {
    const hint =
      def.kind === 'duration'
        ? ': use seconds or a duration such as 90s, 1h30m'
        : def.kind === 'size'
          ? ': use MiB or a size with a K/M/G/T/P/E suffix such as 512M, 2G'
          : '';
    throw invalidMountOption(name, `has an invalid value ${JSON.stringify(value)}${hint}`);
  }
  const problem = def.check?.(value);
  if (problem) throw invalidMountOption(name, problem);
  return value;
}
