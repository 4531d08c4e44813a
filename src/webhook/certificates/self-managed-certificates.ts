/**
 * The operator manages its webhook's serving certificate itself (`--webhook-certs self-managed`).
 *
 * Every replica — the leader and any standby — watches the one Secret and serves the pair it
 * holds, so a standby answers admissions as well as the leader does. Only the replica that
 * writes (the leader, or the only replica without leader election) also watches the webhook
 * configuration and runs the rotation passes of CertificateWriter: a work queue with a single key,
 * kicked by either watch and by the time the next renewal is due, with backoff on errors.
 */
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { MUTATING_WEBHOOK_CONFIGURATION, SECRET, type ResourceType } from '../../api/constants.js';
import { kubeTime } from '../../api/time.js';
import { Informer } from '../../kube/informer.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { WorkQueue, type WorkResult } from '../../kube/work-queue.js';
import type { CertificateSource, ServingKeyPair } from '../certificate-source.js';
import { certificateFacts, keyMatches } from './certificate-facts.js';
import { secretContents } from './certificate-objects.js';
import { CertificateWriter, type CertificateWriterDeps } from './certificate-writer.js';
import type { SelfManagedSettings } from './settings.js';

const KEY = 'webhook-certificates';

export interface SelfManagedDeps extends CertificateWriterDeps {
  api: KubeApi;
}

export class SelfManagedCertificates implements CertificateSource {
  private pair?: ServingKeyPair;
  private readonly listeners: Array<(pair: ServingKeyPair) => void> = [];
  private readonly secrets: Informer<V1Secret>;
  private configurations?: Informer<V1MutatingWebhookConfiguration>;
  private queue?: WorkQueue;
  private readonly writer: CertificateWriter;
  /** resourceVersion of the last Secret whose pair could not be served (said once). */
  private refusedVersion = '';

  constructor(
    private readonly deps: SelfManagedDeps,
    private readonly settings: SelfManagedSettings,
  ) {
    this.secrets = this.informer<V1Secret>(SECRET, settings.secretName, settings.namespace);
    this.secrets.addHandler((type, secret) => {
      if (type !== 'delete') this.load(secret);
      this.queue?.add(KEY);
    });
    this.writer = new CertificateWriter(deps, settings);
  }

  current(): ServingKeyPair | undefined {
    return this.pair;
  }

  onChange(listener: (pair: ServingKeyPair) => void): void {
    this.listeners.push(listener);
  }

  /** Every replica: follows the Secret and serves the pair it holds. */
  start(): void {
    this.secrets.start();
  }

  /** Resolves once the Secret's first list is in (whether or not it held a pair). */
  waitForSync(): Promise<void> {
    return this.secrets.waitForSync();
  }

  /** The writing replica: keeps the Secret and the configuration's CA bundle right from now on. */
  startWriting(): void {
    if (this.queue) return;
    const { logger } = this.deps;
    this.configurations = this.informer<V1MutatingWebhookConfiguration>(MUTATING_WEBHOOK_CONFIGURATION, this.settings.configurationName);
    this.configurations.addHandler(() => this.queue?.add(KEY));
    this.queue = new WorkQueue(() => this.pass(), {
      concurrency: 1,
      baseDelayMs: 1000,
      maxDelayMs: 60_000,
      onProcessed: (_key, outcome, _ms, error) => {
        if (outcome === 'error')
          logger.warn('webhook certificates: pass failed; retrying with backoff', { error: (error as Error).message });
      },
    });
    logger.info('webhook certificates: managing', {
      secret: `${this.settings.namespace}/${this.settings.secretName}`,
      configuration: this.settings.configurationName,
    });
    this.configurations.start();
    this.queue.add(KEY);
    this.queue.start();
  }

  /** Stops writing (an in-flight pass finishes) and both watches. */
  async close(): Promise<void> {
    await this.queue?.stop(5000);
    await Promise.all([this.secrets.stop(), this.configurations?.stop()]);
  }

  private async pass(): Promise<WorkResult> {
    const configurations = this.configurations!;
    // a missing object in a cache that has not listed yet is not a missing object
    if (!this.secrets.hasSynced || !configurations.hasSynced) return { requeueAfterMs: 250 };
    const secret = this.secrets.get(this.settings.secretName, this.settings.namespace);
    const configuration = configurations.get(this.settings.configurationName);
    return { requeueAfterMs: await this.writer.reconcile(secret, configuration) };
  }

  /** Serves the Secret's pair when it is a usable one and differs from the current. */
  private load(secret: V1Secret): void {
    const { tlsCert: cert, tlsKey: key } = secretContents(secret);
    if (cert === this.pair?.cert && key === this.pair.key) return;
    const facts = cert ? certificateFacts(cert) : undefined;
    if (!facts || !keyMatches(facts, key)) {
      const rv = secret.metadata?.resourceVersion ?? '';
      if (rv !== this.refusedVersion)
        this.deps.logger.warn('webhook certificates: the Secret holds no usable serving pair; keeping the current one', {
          secret: `${this.settings.namespace}/${this.settings.secretName}`,
          serving: this.pair !== undefined,
        });
      this.refusedVersion = rv;
      return;
    }
    const pair = { cert, key };
    this.pair = pair;
    this.deps.logger.info('webhook certificates: serving a new certificate', {
      fingerprint: facts.fingerprint.slice(0, 23),
      notAfter: kubeTime(facts.notAfter),
    });
    for (const listener of this.listeners) {
      try {
        listener(pair);
      } catch (e) {
        this.deps.logger.warn('webhook certificates: a listener failed to take the new certificate', { error: (e as Error).message });
      }
    }
  }

  private informer<T extends V1Secret | V1MutatingWebhookConfiguration>(type: ResourceType, name: string, namespace?: string): Informer<T> {
    const { logger } = this.deps;
    return new Informer<T>(this.deps.api, type, {
      namespace,
      fieldSelector: `metadata.name=${name}`,
      onRestart: (reason) => {
        if (reason !== 'closed') logger.info('watch restarted', { resource: type.plural, reason });
      },
      onError: (err) => logger.warn('watch error', { resource: type.plural, error: String((err as Error)?.message ?? err) }),
    });
  }
}
