/**
 * Sync source URIs, JuiceFS-sync style `scheme://bucket[.endpoint][/prefix]`. Credentials never
 * travel in the URI the user writes: they come from the Secret's `access-key` / `secret-key` and
 * reach the juicefs child through its environment (see commands.ts). Any `@` in a source URI is
 * refused (reason CredentialsInURI), for every scheme — HDFS's user name too, which goes in the
 * Secret's `access-key` (HADOOP_USER_NAME).
 */
import { SpecError } from '../cache-engine.js';
import { normalizeUserPath } from '../toolkit/path-safety.js';

/** The schemes the original operator supports, `file` included. `http(s)` and `jfs` are not sources. */
export const SOURCE_SCHEMES = [
  'bos',
  's3',
  'hdfs',
  'gs',
  'wasb',
  'oss',
  'cos',
  'ks3',
  'ufile',
  'qingstor',
  'jss',
  'qiniu',
  'b2',
  'space',
  'obs',
  'oos',
  'scw',
  'minio',
  'scs',
  'ibmcos',
  'wasabi',
  'mss',
  'nos',
  'eos',
  'speedy',
  'ceph',
  'swift',
  'webdav',
  'redis',
  'tikv',
  'file',
] as const;

export interface ParsedSource {
  scheme: string;
  /** Everything after `scheme://`. */
  rest: string;
  /** The authority (before the first `/` of rest). */
  host: string;
  /** The path part (from the first `/` of rest, '' if none). */
  path: string;
}

export const MAX_SOURCE_LENGTH = 4096;

/**
 * Why `uri` looks like it carries credentials, or undefined. Any `@` counts — literal or
 * percent-encoded (`%40`, `%2540`, …), in the authority or in the path: an AWS secret key may
 * contain `/`, so in `s3://KEY:sec/ret@bucket/` the userinfo ends after the first `/`, and
 * storages unescape parts of the URI themselves. A percent-encoded authority (`%3A`, `%2F`) is
 * refused too: a bucket or endpoint never needs one, and it hides userinfo from simple checks.
 */
export function credentialsInUri(uri: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(.*)$/s.exec(uri);
  const rest = m ? m[1] : uri;
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  if (authority.includes('%')) return 'a percent-encoded bucket or endpoint';
  // Decode repeatedly (double-encoding) until nothing changes; malformed escapes decode no further.
  let text = uri;
  for (let i = 0; i < 8; i++) {
    if (text.includes('@')) return "an '@' (user:password@)";
    let next: string;
    try {
      next = decodeURIComponent(text);
    } catch {
      next = text.replace(/%(?:25)*40/gi, '@');
    }
    if (next === text) break;
    text = next;
  }
  return text.includes('@') ? "an '@' (user:password@)" : undefined;
}

/** Parses and validates a source URI; throws SpecError (SourceMissing / InvalidSource / CredentialsInURI). Messages never echo the URI. */
export function parseSourceUri(uri: string): ParsedSource {
  if (typeof uri !== 'string' || uri.trim() === '')
    throw new SpecError('SourceMissing', 'no sync source: set spec.source.uri or syncOptions.source');
  // Credentials first: whatever else is wrong with the URI, say this (and never echo it).
  const creds = credentialsInUri(uri);
  if (creds) {
    throw new SpecError(
      'CredentialsInURI',
      `source URI must not embed credentials (it contains ${creds}); put access-key and secret-key in the source Secret (spec.source.secretRef or the SampleJob's secretRef) and remove them from the URI`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (uri.length > MAX_SOURCE_LENGTH || /[\s\x00-\x1f\x7f]/.test(uri))
    throw new SpecError('InvalidSource', 'source URI must be at most 4096 characters without whitespace or control characters');
  const m = /^([A-Za-z][A-Za-z0-9]*):\/\/(.*)$/.exec(uri);
  if (!m) throw new SpecError('InvalidSource', 'source URI must look like scheme://bucket[.endpoint][/prefix]');
  const scheme = m[1].toLowerCase();
  const rest = m[2];
  if (!(SOURCE_SCHEMES as readonly string[]).includes(scheme)) {
    throw new SpecError(
      'InvalidSource',
      `source scheme "${scheme.slice(0, 32)}" is not supported (supported: ${SOURCE_SCHEMES.join(', ')})`,
    );
  }
  if (rest.includes('://')) throw new SpecError('InvalidSource', 'source URI must contain "://" exactly once');
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (scheme === 'file') {
    if (host !== '' || !path.startsWith('/')) throw new SpecError('InvalidSource', 'a file source must be file:///absolute/path');
    try {
      normalizeUserPath(path);
    } catch (err) {
      throw new SpecError('InvalidSource', `file source: ${(err as Error).message}`);
    }
  } else if (host === '') {
    throw new SpecError('InvalidSource', 'source URI has no bucket or host');
  }
  if (path.split('/').includes('..')) throw new SpecError('InvalidSource', "source URI path must not contain a '..' segment");
  return { scheme, rest, host, path };
}

/** The URI with a trailing `/` (juicefs sync needs SRC and DST to agree; both are directories here). */
export function withTrailingSlash(uri: string): string {
  return uri.endsWith('/') ? uri : `${uri}/`;
}
