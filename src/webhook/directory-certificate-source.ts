/**
 * A serving certificate read from a directory holding `tls.crt` and `tls.key` — what a mounted
 * `kubernetes.io/tls` Secret looks like (cert-manager writes one) — and read again whenever the
 * directory changes: the kubelet swaps a Secret volume's files atomically, a watch on the directory
 * sees it, and a slow poll catches anything a watch misses. A pair becomes current only when both
 * files are there and the key matches the certificate, so a half-written update is never served.
 */
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import tls from 'node:tls';
import type { Logger } from '../observability/logger.js';
import type { CertificateSource, ServingKeyPair } from './certificate-source.js';

export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';

export interface DirectoryCertificateSourceOptions {
  logger?: Logger;
  /** How often the files are read again besides the watch (default 10 s). */
  pollIntervalMs?: number;
  /** How long after a change event the files are read (several events come in one update; default 200 ms). */
  settleMs?: number;
}

export class DirectoryCertificateSource implements CertificateSource {
  private pair?: ServingKeyPair;
  private readonly listeners: Array<(pair: ServingKeyPair) => void> = [];
  private watcher?: fs.FSWatcher;
  private poll?: NodeJS.Timeout;
  private settle?: NodeJS.Timeout;
  private lastProblem = '';

  constructor(
    readonly dir: string,
    private readonly opts: DirectoryCertificateSourceOptions = {},
  ) {}

  current(): ServingKeyPair | undefined {
    return this.pair;
  }

  onChange(listener: (pair: ServingKeyPair) => void): void {
    this.listeners.push(listener);
  }

  /** Reads the pair now (a missing or bad one is logged, not thrown) and keeps following the directory. */
  start(): void {
    this.reload();
    try {
      this.watcher = fs.watch(this.dir, () => this.reloadSoon());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // no directory yet: the poll notices when it appears
    }
    this.poll = setInterval(() => this.reload(), this.opts.pollIntervalMs ?? 10_000);
    this.poll.unref();
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.settle);
  }

  private reloadSoon(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), this.opts.settleMs ?? 200);
    this.settle.unref();
  }

  /** Reads both files; a complete, matching pair that differs from the current one replaces it and is announced. */
  reload(): boolean {
    let cert: string;
    let key: string;
    try {
      cert = fs.readFileSync(path.join(this.dir, CERT_FILE), 'utf8');
      key = fs.readFileSync(path.join(this.dir, KEY_FILE), 'utf8');
    } catch (e) {
      this.problem(`cannot read ${CERT_FILE} and ${KEY_FILE} in ${this.dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      return false;
    }
    if (this.pair && this.pair.cert === cert && this.pair.key === key) return false;
    let notAfter: string;
    try {
      tls.createSecureContext({ cert, key });
      notAfter = new X509Certificate(cert).validTo;
    } catch (e) {
      this.problem(`${CERT_FILE} and ${KEY_FILE} in ${this.dir} are not a matching PEM certificate and key (${(e as Error).message})`);
      return false;
    }
    const pair = { cert, key };
    this.pair = pair;
    this.lastProblem = '';
    this.opts.logger?.info('webhook serving certificate loaded', { dir: this.dir, notAfter });
    for (const listener of this.listeners) {
      try {
        listener(pair);
      } catch (e) {
        this.opts.logger?.warn('a certificate listener failed', { error: (e as Error).message });
      }
    }
    return true;
  }

  /** Logs a problem once until it changes; the current pair (if any) keeps being served. */
  private problem(message: string): void {
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.opts.logger?.warn(this.pair ? `${message}; serving the previous certificate` : `${message}; the webhook cannot serve TLS yet`);
  }
}
