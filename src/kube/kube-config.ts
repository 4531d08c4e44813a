/**
 * Credentials for `KubeApi`, loaded the way kubectl (and `@kubernetes/client-node`'s `KubeConfig`)
 * loads them: an explicit kubeconfig file, else `$KUBECONFIG`, `~/.kube/config`, the pod's
 * ServiceAccount, or `http://localhost:8080`.
 *
 * client-node's `KubeConfig` cannot be loaded without the whole generated client (every API class
 * and model, about 40 MiB of resident memory), of which the operator uses nothing. So the
 * kubeconfig is read here with client-node's own schema (config_types.js, which loads nothing
 * else) and the common credentials are applied here, as client-node applies them: CA, client
 * certificate and key, bearer token, token file (files re-read every 60 s, like client-go's token
 * files: projected ServiceAccount tokens rotate), basic auth, impersonation,
 * insecure-skip-tls-verify, tls-server-name. A kubeconfig needing more — an `exec` credential
 * plugin, an `auth-provider` (OIDC, cloud), a `proxy-url` — is handed to client-node's
 * `KubeConfig`, loaded then and only then.
 */
import fs from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { newClusters, newContexts, newUsers, type Cluster, type Context, type User } from '@kubernetes/client-node/dist/config_types.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';

/**
 * What `KubeApi` needs of credentials: the API server, and what to add to each request (TLS
 * material, headers). client-node's `KubeConfig` has both, so tests may pass one.
 */
export interface KubeCredentials {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

const SERVICEACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Certificate, key and token files are re-read this often (projected ServiceAccount tokens rotate; client-go re-reads them every minute). */
const FILE_REFRESH_MS = 60_000;

interface Loaded {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
}

export class LightKubeConfig implements KubeCredentials {
  private full?: Promise<KubeConfig>;
  private readonly files: FileCache;

  private constructor(
    private readonly config: Loaded,
    now: () => number = Date.now,
  ) {
    this.files = new FileCache(now);
  }

  /** A kubeconfig file; relative certificate paths are taken from its directory. */
  static fromFile(file: string): LightKubeConfig {
    const raw = (parseYaml(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
    const dir = path.dirname(file);
    const absolute = (p: string | undefined): string | undefined => (p && !path.isAbsolute(p) ? path.join(dir, p) : p);
    const clusters = newClusters(raw.clusters).map((c) => ({ ...c, caFile: absolute(c.caFile) }));
    const users = newUsers(raw.users).map((u) => ({ ...u, certFile: absolute(u.certFile), keyFile: absolute(u.keyFile) }));
    const currentContext = typeof raw['current-context'] === 'string' ? raw['current-context'] : '';
    return new LightKubeConfig({ clusters, users, contexts: newContexts(raw.contexts), currentContext });
  }

  /**
   * Several kubeconfig files merged as client-node merges `$KUBECONFIG`: entries are added in
   * order (a name given twice is an error) and a later file's current-context wins.
   */
  static fromFiles(files: string[]): LightKubeConfig {
    const [first, ...rest] = files.map((f) => LightKubeConfig.fromFile(f).config);
    for (const more of rest) {
      for (const kind of ['clusters', 'users', 'contexts'] as const) {
        for (const entry of more[kind]) {
          if ((first[kind] as Array<{ name: string }>).some((e) => e.name === entry.name)) {
            throw new Error(`Duplicate ${kind.slice(0, -1)}: ${entry.name}`);
          }
          (first[kind] as Array<{ name: string }>).push(entry);
        }
      }
      if (more.currentContext) first.currentContext = more.currentContext;
    }
    return new LightKubeConfig(first);
  }

  /** The pod's ServiceAccount (`KUBERNETES_SERVICE_HOST`/`_PORT`, its token and CA). */
  static inCluster(root = SERVICEACCOUNT, now: () => number = Date.now): LightKubeConfig {
    const host = process.env.KUBERNETES_SERVICE_HOST ?? '';
    const port = process.env.KUBERNETES_SERVICE_PORT ?? '';
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const server = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return new LightKubeConfig(
      {
        clusters: [{ name: 'inCluster', server, caFile: `${root}/ca.crt`, skipTLSVerify: false }],
        users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: `${root}/token` } } }],
        contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }],
        currentContext: 'inClusterContext',
      },
      now,
    );
  }

  /** `$KUBECONFIG`, `~/.kube/config`, the ServiceAccount, or localhost:8080, the first that exists. */
  static fromDefault(): LightKubeConfig {
    const env = process.env.KUBECONFIG ?? '';
    const files = env.split(path.delimiter).filter(Boolean);
    if (files.length) return LightKubeConfig.fromFiles(files);
    const home = process.env.HOME || os.homedir();
    const config = home ? path.join(home, '.kube', 'config') : '';
    if (config && fs.existsSync(config)) return LightKubeConfig.fromFile(config);
    if (fs.existsSync(`${SERVICEACCOUNT}/token`)) return LightKubeConfig.inCluster();
    return new LightKubeConfig({
      clusters: [{ name: 'cluster', server: 'http://localhost:8080', skipTLSVerify: false }],
      users: [{ name: 'user' }],
      contexts: [{ name: 'loaded-context', cluster: 'cluster', user: 'user' }],
      currentContext: 'loaded-context',
    });
  }

  private get context(): Context | undefined {
    return this.config.contexts.find((c) => c.name === this.config.currentContext);
  }

  getCurrentCluster(): Cluster | null {
    const name = this.context?.cluster;
    return this.config.clusters.find((c) => c.name === name) ?? null;
  }

  getCurrentUser(): User | null {
    const name = this.context?.user;
    return this.config.users.find((u) => u.name === name) ?? null;
  }

  /** True when the credentials need client-node's own code (a plugin, a provider, a proxy). */
  get needsClientNode(): boolean {
    const user = this.getCurrentUser();
    const provider = user?.authProvider as { config?: { tokenFile?: string } } | undefined;
    return !!user?.exec || (!!provider && !provider.config?.tokenFile) || !!this.getCurrentCluster()?.proxyUrl;
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    if (this.needsClientNode) {
      this.full ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
        const kc = new KubeConfig();
        kc.loadFromOptions(this.config);
        return kc;
      });
      return (await this.full).applyToHTTPSOptions(opts);
    }
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (cluster?.server.startsWith('http:') && !cluster.skipTLSVerify) {
      throw new Error('HTTP protocol is not allowed when skipTLSVerify is not set or false');
    }
    // client-node applies no TLS material at all to a context without a user; neither do we
    if (!user) return;
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const fileOrData = (file: string | undefined, data: string | undefined): Buffer | undefined =>
      file ? this.files.read(file) : data ? Buffer.from(data, 'base64') : undefined;
    const ca = cluster && fileOrData(cluster.caFile, cluster.caData);
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    const headers = (opts.headers ??= {}) as Record<string, string>;
    if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
    const tokenFile = (user.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
    if (tokenFile) {
      const token = this.files.read(tokenFile).toString('utf8');
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    if (user.token) headers.Authorization = `Bearer ${user.token}`;
    if (user.username) opts.auth = `${user.username}:${user.password}`;
  }
}

/** A certificate, key or token file's contents, re-read once its last read is a minute old. */
class FileCache {
  private readonly files = new Map<string, { data: Buffer; readAt: number }>();

  constructor(private readonly now: () => number) {}

  read(file: string): Buffer {
    const now = this.now();
    const hit = this.files.get(file);
    if (hit && now - hit.readAt <= FILE_REFRESH_MS) return hit.data;
    const data = fs.readFileSync(file);
    this.files.set(file, { data, readAt: now });
    return data;
  }
}

/** Loads credentials the way kubectl does: an explicit file, else $KUBECONFIG/~/.kube/config/in-cluster. */
export function loadKubeConfig(file: string): KubeCredentials {
  return file ? LightKubeConfig.fromFile(file) : LightKubeConfig.fromDefault();
}
