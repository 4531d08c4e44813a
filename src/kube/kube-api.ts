import * as https from 'node:https';
import * as http from 'node:http';
import { URL } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { type ResourceType, apiVersionOf } from '../api/constants.js';
import { ApiError, isNotFound } from './api-error.js';
import type { KubeCredentials } from './kube-config.js';

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface WatchEvent<T = KubernetesObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export const FIELD_MANAGER = 'paddle-operator';

/** RBAC verb of a request, as the apiserver's authorizer sees it. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface KubeApiOptions {
  /** Default per-request timeout (watches have none). */
  timeoutMs?: number;
  /** Connections to the API server kept for requests other than watches (default 32). */
  maxSockets?: number;
  /**
   * Called for every request with its RBAC verb and resource ("pods", "samplesets/status", with
   * the API group): feeds the request metric and lets tests audit which permissions are used.
   */
  onRequest?: (verb: Verb, group: string, resource: string, code: number) => void;
}

/** Splits an API path into the RBAC group and resource (with subresource), or undefined. */
export function rbacResourceOf(path: string): { group: string; resource: string; named: boolean } | undefined {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/?]+)(?:\/([^/?]+)(?:\/([^/?]+))?)?/.exec(path);
  if (!m) return undefined;
  const group = m[1] ?? '';
  // /api/v1/namespaces/x is the namespace itself
  if (!m[2]) return undefined;
  return { group, resource: m[4] ? `${m[2]}/${m[4]}` : m[2], named: m[3] !== undefined };
}

function verbOf(method: string, named: boolean, watch: boolean): Verb {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    default:
      return 'delete';
  }
}

/**
 * A small JSON client for the Kubernetes REST API on credentials that supply TLS material and
 * headers (kube-config.ts, or client-node's KubeConfig). One code path for CRUD, patches of every
 * kind, subresources and streaming watches, with a timeout on every call; every failure is an
 * ApiError.
 *
 * Connections are kept alive and reused: requests share a pool of `maxSockets`, watches (which hold
 * theirs for minutes) have their own. (client-node's KubeConfig hands each request a new agent,
 * which would cost a TLS handshake per request: its agent is replaced by ours unless it is a
 * proxy's.)
 */
export class KubeApi {
  private readonly server: URL;
  private readonly defaultTimeoutMs: number;
  private readonly agents: { request: Record<'http' | 'https', http.Agent>; watch: Record<'http' | 'https', http.Agent> };

  constructor(
    readonly kubeConfig: KubeCredentials,
    private readonly opts: KubeApiOptions = {},
  ) {
    this.defaultTimeoutMs = opts.timeoutMs ?? 30_000;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    const pool = { keepAlive: true, maxSockets: opts.maxSockets ?? 32, scheduling: 'lifo' as const };
    this.agents = {
      request: { http: new http.Agent(pool), https: new https.Agent(pool) },
      watch: { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) },
    };
  }

  static path(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    let p = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
    if (t.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${t.plural}`;
    if (name) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  async get<T extends KubernetesObject>(t: ResourceType, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', KubeApi.path(t, namespace, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubernetesObject>(t: ResourceType, namespace?: string, opts: ListOptions = {}): Promise<ListResult<T>> {
    const r = await this.request<{ items: T[]; metadata: { resourceVersion: string } }>('GET', KubeApi.path(t, namespace), {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
      timeoutMs: 120_000,
    });
    const apiVersion = apiVersionOf(t);
    for (const it of r.items) {
      // list items come without apiVersion/kind; fill them so objects look the same as watched ones
      it.apiVersion ??= apiVersion;
      it.kind ??= t.kind;
    }
    return { items: r.items, resourceVersion: r.metadata.resourceVersion };
  }

  create<T extends KubernetesObject>(t: ResourceType, obj: T, namespace?: string): Promise<T> {
    const ns = namespace ?? obj.metadata?.namespace;
    return this.request<T>('POST', KubeApi.path(t, ns), {
      body: { apiVersion: apiVersionOf(t), kind: t.kind, ...obj },
      query: { fieldManager: FIELD_MANAGER },
    });
  }

  replace<T extends KubernetesObject>(t: ResourceType, obj: T, subresource?: string): Promise<T> {
    return this.request<T>('PUT', KubeApi.path(t, obj.metadata?.namespace, obj.metadata?.name, subresource), {
      body: obj,
      query: { fieldManager: FIELD_MANAGER },
    });
  }

  patch<T extends KubernetesObject>(
    t: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    type: PatchType = 'merge',
    opts: { subresource?: string; force?: boolean } = {},
  ): Promise<T> {
    return this.request<T>('PATCH', KubeApi.path(t, namespace, name, opts.subresource), {
      body: patch,
      contentType: PATCH_CONTENT_TYPE[type],
      query: { fieldManager: FIELD_MANAGER, force: type === 'apply' ? (opts.force ?? true) : undefined },
    });
  }

  /** Deletes; a missing object is not an error (returns false). */
  async delete(
    t: ResourceType,
    name: string,
    namespace?: string,
    opts: {
      propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
      uid?: string;
      resourceVersion?: string;
      gracePeriodSeconds?: number;
    } = {},
  ): Promise<boolean> {
    const preconditions = opts.uid || opts.resourceVersion ? { uid: opts.uid, resourceVersion: opts.resourceVersion } : undefined;
    try {
      await this.request('DELETE', KubeApi.path(t, namespace, name), {
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: opts.propagationPolicy ?? 'Background',
          preconditions,
          gracePeriodSeconds: opts.gracePeriodSeconds,
        },
      });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    let res: http.IncomingMessage;
    try {
      res = await this.send(method, path, opts);
    } catch (e) {
      this.audit(method, path, false, 0);
      throw e;
    }
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    this.audit(method, path, false, status);
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    throw toApiError(status, text, method, path);
  }

  /**
   * Streams a watch; `onEvent` runs for every event line. Resolves when the server ends the stream
   * (a normal timeout), rejects with an ApiError on an HTTP error, an ERROR event, or a transport
   * failure. Abort with `signal`.
   */
  async watch<T extends KubernetesObject>(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let res: http.IncomingMessage;
    try {
      res = await this.send('GET', path, { query: { ...query, watch: true }, signal, timeoutMs: 0 }, true);
    } catch (e) {
      this.audit('GET', path, true, 0);
      throw e;
    }
    const status = res.statusCode ?? 0;
    this.audit('GET', path, true, status);
    if (status !== 200) throw toApiError(status, await readAll(res), 'WATCH', path);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      let failed = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (failed) return;
        buf += chunk;
        let start = 0;
        let nl: number;
        for (; !failed && (nl = buf.indexOf('\n', start)) >= 0; start = nl + 1) {
          const line = buf.slice(start, nl).trim();
          if (!line) continue;
          let ev: WatchEvent<T>;
          try {
            ev = JSON.parse(line) as WatchEvent<T>;
          } catch {
            continue;
          }
          if (ev.type === 'ERROR') {
            const st = ev.object as unknown as { code?: number; reason?: string; message?: string };
            failed = true;
            res.destroy();
            reject(new ApiError(st.code ?? 500, st.reason ?? 'WatchError', st.message ?? 'watch error event'));
            return;
          }
          onEvent(ev);
        }
        buf = buf.slice(start);
      });
      res.on('end', () => resolve());
      res.on('error', (e) => (failed ? undefined : reject(transportError(e, 'WATCH', path))));
      res.on('close', () => resolve());
    });
  }

  private audit(method: string, path: string, watch: boolean, code: number): void {
    if (!this.opts.onRequest) return;
    const r = rbacResourceOf(path);
    if (r) this.opts.onRequest(verbOf(method, r.named, watch), r.group, r.resource, code);
  }

  private async send(method: string, path: string, opts: RequestOptions, watch = false): Promise<http.IncomingMessage> {
    const url = new URL(this.server.toString());
    url.pathname = (this.server.pathname.replace(/\/$/, '') + path).replace(/\/\//g, '/');
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const reqOpts: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: url.pathname + url.search,
      headers: { Accept: 'application/json' },
    };
    await this.kubeConfig.applyToHTTPSOptions(reqOpts);
    // a plain agent from the credentials carries nothing the request options do not: pool instead
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    if (!reqOpts.agent || reqOpts.agent.constructor === https.Agent || reqOpts.agent.constructor === http.Agent) {
      reqOpts.agent = (watch ? this.agents.watch : this.agents.request)[scheme];
    }
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    if (payload !== undefined) {
      (reqOpts.headers as Record<string, string | number>)['Content-Type'] = opts.contentType ?? 'application/json';
      (reqOpts.headers as Record<string, string | number>)['Content-Length'] = Buffer.byteLength(payload);
    }
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(reqOpts, resolve);
      req.on('error', (e) => reject(transportError(e, method, path)));
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      if (opts.signal) {
        if (opts.signal.aborted) req.destroy(new Error('aborted'));
        opts.signal.addEventListener('abort', () => req.destroy(new Error('aborted')), { once: true });
      }
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function toApiError(status: number, text: string, method: string, path: string): ApiError {
  try {
    const st = JSON.parse(text) as { reason?: string; message?: string };
    return new ApiError(status, st.reason ?? 'Unknown', st.message ?? `${method} ${path}: HTTP ${status}`, st);
  } catch {
    return new ApiError(status, 'Unknown', `${method} ${path}: HTTP ${status}: ${text.slice(0, 200)}`);
  }
}

function transportError(e: Error, method: string, path: string): ApiError {
  return new ApiError(0, 'TransportError', `${method} ${path}: ${e.message}`);
}
