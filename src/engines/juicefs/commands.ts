/**
 * `juicefs` command lines and output parsers used by the runtime half (pure functions).
 *
 * Credentials (JuiceFS v1.3.1, cmd/sync.go + pkg/object/*.go): `juicefs sync` hands the URI's
 * user:password to the storage constructor; when they are empty, these storages read the
 * environment instead, so for them credentials go ONLY into the child's environment:
 *
 *   s3     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (AWS SDK default chain)
 *   minio  MINIO_ACCESS_KEY / MINIO_SECRET_KEY
 *   oss    ALICLOUD_ACCESS_KEY_ID / ALICLOUD_ACCESS_KEY_SECRET / SECURITY_TOKEN
 *   cos    COS_SECRETID / COS_SECRETKEY
 *   bos    BDCLOUD_ACCESS_KEY / BDCLOUD_SECRET_KEY
 *   obs    HWCLOUD_ACCESS_KEY / HWCLOUD_SECRET_KEY
 *   scw    SCW_ACCESS_KEY / SCW_SECRET_KEY
 *   eos    EOS_ACCESS_KEY / EOS_SECRET_KEY / EOS_TOKEN
 *   wasb   AZURE_STORAGE_CONNECTION_STRING (built from account name = access-key, key = secret-key)
 *   hdfs   HADOOP_USER_NAME (= access-key; HDFS has no secret, Kerberos uses KRB5* files)
 *   gs     none: Google Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS file);
 *          access-key/secret-key are ignored
 *   file   none
 *
 * Every other scheme (ks3, ufile, qingstor, jss, qiniu, b2, space, oos, scs, ibmcos, wasabi, mss,
 * nos, speedy, ceph, swift, webdav, redis, tikv) takes credentials only in the URI: v1.3.1 has no
 * environment variable or file for them (their constructors build static credentials from the
 * URI's user:password; `juicefs sync` has no flag that reads a URI or a key from a file). For
 * those the URI with `ak:sk@` is built here, at the last moment, and exists only in the child's
 * argv: it is never logged (the logged command line is `display`, with the userinfo masked), never
 * stored in a job's state and never returned. juicefs rewrites its process title to hide the
 * password (cmd/main.go removePassword), but /proc/<pid>/cmdline shows it to every process of the
 * node that may read it until then. So this happens only when the SampleSet opted in
 * (`spec.source.allowCredentialsInArguments: true`): the operator then adds
 * CREDENTIALS_IN_ARGUMENTS to the job's credentials, and without that marker such a sync fails.
 */
import { maskUriUserinfo } from '../../observability/scrub.js';
import { syncFlagArgs, type SyncFlags } from './sync-flags.js';
import type { ParsedSource } from './source-uri.js';

export interface EnvCredentialNames {
  access: string;
  secret: string;
  token?: string;
}

export const ENV_CREDENTIALS: Record<string, EnvCredentialNames> = {
  s3: { access: 'AWS_ACCESS_KEY_ID', secret: 'AWS_SECRET_ACCESS_KEY', token: 'AWS_SESSION_TOKEN' },
  minio: { access: 'MINIO_ACCESS_KEY', secret: 'MINIO_SECRET_KEY' },
  oss: { access: 'ALICLOUD_ACCESS_KEY_ID', secret: 'ALICLOUD_ACCESS_KEY_SECRET', token: 'SECURITY_TOKEN' },
  cos: { access: 'COS_SECRETID', secret: 'COS_SECRETKEY' },
  bos: { access: 'BDCLOUD_ACCESS_KEY', secret: 'BDCLOUD_SECRET_KEY' },
  obs: { access: 'HWCLOUD_ACCESS_KEY', secret: 'HWCLOUD_SECRET_KEY' },
  scw: { access: 'SCW_ACCESS_KEY', secret: 'SCW_SECRET_KEY' },
  eos: { access: 'EOS_ACCESS_KEY', secret: 'EOS_SECRET_KEY', token: 'EOS_TOKEN' },
};

/** Schemes whose credentials cannot be given in the environment and are not meaningful. */
export const NO_CREDENTIAL_SCHEMES = ['file', 'gs'];

/** Schemes that take credentials through the environment (besides ENV_CREDENTIALS). */
const OTHER_ENV_SCHEMES = ['wasb', 'hdfs'];

/**
 * A key of the job's credentials (never a Secret key: credentialsFromSecret copies only
 * access-key/secret-key/session-token) set by the operator when the SampleSet allows credentials in
 * juicefs's arguments. The value is deliberately unlike any word a log line would contain, since
 * the runtime masks every credential value in its output.
 */
export const CREDENTIALS_IN_ARGUMENTS = 'credentials-in-arguments';
export const CREDENTIALS_IN_ARGUMENTS_VALUE = 'allowed-by-spec.source.allowCredentialsInArguments';

/** True for schemes whose credentials juicefs reads only from the URI (so from its argv). */
export function credentialsOnlyInUri(scheme: string): boolean {
  return !ENV_CREDENTIALS[scheme] && !NO_CREDENTIAL_SCHEMES.includes(scheme) && !OTHER_ENV_SCHEMES.includes(scheme);
}

/** Raised for a URI-only storage with credentials but without the SampleSet's opt-in. */
export class CredentialsInArgumentsError extends Error {
  readonly reason = 'CredentialsInArguments';
  constructor(scheme: string) {
    super(
      `${scheme} sources take credentials only inside the URI, which juicefs receives as a command-line argument (readable in /proc/<pid>/cmdline on the node until juicefs hides it); ` +
        'refused unless the SampleSet sets spec.source.allowCredentialsInArguments: true (or use a source whose credentials go through the environment, e.g. s3, minio, oss)',
    );
    this.name = 'CredentialsInArgumentsError';
  }
}

/** Environment variables never passed on to a juicefs child. */
export const STRIPPED_ENV = ['PADDLE_RUNTIME_TOKEN'];

export interface SourceCredentialPlacement {
  /** Variables to add to the child's environment. */
  env: Record<string, string>;
  /** The source URI as given to juicefs (with `ak:sk@` only for URI-only schemes). */
  uri: string;
  /** Where the credentials went, for the job log (never the values). */
  via: 'env' | 'uri' | 'none' | 'ignored';
}

function insertUserinfo(src: ParsedSource, userinfo: string): string {
  return `${src.scheme}://${userinfo}@${src.rest}`;
}

/**
 * Places source credentials for `juicefs sync`. `uri` is the validated source URI (no userinfo);
 * `noHttps` is the job's `no-https` flag (for the wasb connection string).
 */
export function placeSourceCredentials(
  src: ParsedSource,
  uri: string,
  credentials: Record<string, string> | undefined,
  noHttps = false,
): SourceCredentialPlacement {
  const ak = credentials?.['access-key'] ?? '';
  const sk = credentials?.['secret-key'] ?? '';
  const token = credentials?.['session-token'] ?? '';
  if (!ak && !sk && !token) return { env: {}, uri, via: 'none' };
  if (NO_CREDENTIAL_SCHEMES.includes(src.scheme)) return { env: {}, uri, via: 'ignored' };
  const names = ENV_CREDENTIALS[src.scheme];
  if (names) {
    const env: Record<string, string> = {};
    if (ak) env[names.access] = ak;
    if (sk) env[names.secret] = sk;
    if (token && names.token) env[names.token] = token;
    return { env, uri, via: 'env' };
  }
  if (src.scheme === 'wasb') {
    const suffix = src.host.includes('.') ? src.host.slice(src.host.indexOf('.') + 1).replace(/^blob\./, '') : 'core.windows.net';
    const conn = `DefaultEndpointsProtocol=${noHttps ? 'http' : 'https'};AccountName=${ak};AccountKey=${sk};EndpointSuffix=${suffix}`;
    return { env: { AZURE_STORAGE_CONNECTION_STRING: conn }, uri, via: 'env' };
  }
  if (src.scheme === 'hdfs') {
    return ak ? { env: { HADOOP_USER_NAME: ak }, uri, via: 'env' } : { env: {}, uri, via: 'ignored' };
  }
  // URI-only storages: ak:sk[:token]@ (URL-encoded, as juicefs expects special characters), and
  // only with the SampleSet's explicit opt-in.
  if (credentials?.[CREDENTIALS_IN_ARGUMENTS] !== CREDENTIALS_IN_ARGUMENTS_VALUE) throw new CredentialsInArgumentsError(src.scheme);
  const userinfo = [ak, sk, ...(token ? [token] : [])].map((v) => encodeURIComponent(v)).join(':');
  return { env: {}, uri: insertUserinfo(src, userinfo), via: 'uri' };
}

export interface SyncCommand {
  args: string[];
  /** The same arguments for logs: the userinfo of any URI masked (`scheme://****@…`). */
  display: string[];
}

/**
 * `juicefs sync --metrics 127.0.0.1:0 [flags] <source>/ <dest>/`. Both ends end with `/` (juicefs
 * refuses a mix); the destination is a URI into the dataset's volume (`jfs://…/`).
 */
export function syncCommand(sourceForArgv: string, destinationUri: string, flags: SyncFlags): SyncCommand {
  const src = sourceForArgv.endsWith('/') ? sourceForArgv : `${sourceForArgv}/`;
  const dest = destinationUri.endsWith('/') ? destinationUri : `${destinationUri}/`;
  const args = ['sync', '--metrics', '127.0.0.1:0', ...syncFlagArgs(flags), src, dest];
  const display = args.map((a) => maskUriUserinfo(a));
  return { args, display };
}

/**
 * Dataset totals. `--strict` walks the metadata for an exact summary: without it JuiceFS answers
 * from directory statistics that other clients (e.g. the runtime pod that just ran a sync) flush
 * with a delay, so totals read right after a job would lag behind it.
 */
export function infoCommand(dir: string): string[] {
  return ['info', '-r', '--strict', dir];
}

export interface SyncSummary {
  found: number;
  excluded: number;
  skipped: number;
  copied: number;
  copiedBytes: number;
  skippedBytes: number;
  extra: number;
  failed: number;
  deleted: number;
  lost: number;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5, E: 1024 ** 6 };

/** `9.54 MiB` / `12 B` (juicefs formatSize) → bytes (approximate for the scaled forms). */
export function parseSize(s: string): number {
  const m = /^\s*([\d.]+)\s*([KMGTPE]?)i?B\s*$/.exec(s);
  if (!m) return 0;
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}

/** Parses juicefs sync's final `Found: N, excluded: …, copied: N (size), …` log line. */
export function parseSyncSummary(line: string): SyncSummary | undefined {
  const i = line.indexOf('Found: ');
  if (i < 0) return undefined;
  const text = line.slice(i);
  const count = (name: string): number => Number(new RegExp(`${name}: (\\d+)`).exec(text)?.[1] ?? 0);
  const size = (name: string): number => parseSize(new RegExp(`${name}: \\d+ \\(([^)]*)\\)`).exec(text)?.[1] ?? '');
  return {
    found: count('Found'),
    excluded: count('excluded'),
    skipped: count('skipped'),
    copied: count('copied'),
    copiedBytes: size('copied'),
    skippedBytes: size('skipped'),
    extra: count('extra'),
    failed: count('failed'),
    deleted: count('deleted'),
    lost: count('lost'),
  };
}

/** The summary part of the line (from `Found:` on, without the `[Sync@sync.go:…]` suffix). */
export function syncSummaryText(line: string): string {
  const i = line.indexOf('Found: ');
  return i < 0 ? line : line.slice(i).replace(/\s*\[[^\]]*\]\s*$/, '');
}

/** Parses `juicefs info -r <dir>` output: files and length (logical bytes). */
export function parseInfoOutput(text: string): { files: number; dirs: number; bytes: number } | undefined {
  const files = /^\s*files:\s*(\d+)/m.exec(text);
  const dirs = /^\s*dirs:\s*(\d+)/m.exec(text);
  const length = /^\s*length:\s*(?:.*\((\d+) Bytes\)|(\d+) Bytes)/m.exec(text);
  if (!files || !length) return undefined;
  return { files: Number(files[1]), dirs: Number(dirs?.[1] ?? 0), bytes: Number(length[1] ?? length[2]) };
}

/** Prometheus text → metric name (labels dropped, values of the same name summed). */
export function parsePrometheusText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN|[+-]Inf)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    out.set(m[1], (out.get(m[1]) ?? 0) + v);
  }
  return out;
}

/** The address of juicefs's Prometheus endpoint from its `Prometheus metrics listening on …` log line. */
export function parseMetricsAddress(line: string): string | undefined {
  return /Prometheus metrics listening on (\S+)/.exec(line)?.[1];
}

/** The child's environment: the runtime's own minus the runtime token, plus `extra`. */
export function childEnv(base: NodeJS.ProcessEnv, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!STRIPPED_ENV.includes(k) && v !== undefined) env[k] = v;
  // juicefs prints progress bars only on a terminal; make sure, and never colour the output.
  env.DISPLAY_PROGRESSBAR = 'false';
  return { ...env, ...extra };
}

/** A juicefs log line without its timestamp/pid prefix and `[fn@file.go:n]` suffix: `<INFO>: msg` → `INFO msg`. */
export function tidyJuiceFsLine(line: string): string {
  const m = /^\d{4}\/\d{2}\/\d{2} [\d:.]+ juicefs\[\d+\] <(\w+)>: (.*?)(?:\s*\[[^\]]*@[^\]]*\])?$/.exec(line);
  return m ? `${m[1]} ${m[2]}` : line;
}
