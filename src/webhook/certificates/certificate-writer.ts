/**
 * Carries out the rotation plan: one pass reads the Secret and the webhook configuration (as the
 * watches last saw them), asks planCertificates for the next step, does it with one write, and
 * says when to look again. Writes are optimistic — the Secret is created only if absent and
 * rewritten only at the resourceVersion it was read at — so two writers at once (say, during a
 * leader handover) lose a race harmlessly instead of overwriting each other. Events and log lines
 * name certificates by fingerprint and expiry; key material never leaves the Secret.
 */
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { MUTATING_WEBHOOK_CONFIGURATION, SECRET } from '../../api/constants.js';
import { kubeTime } from '../../api/time.js';
import { isConflict, isForbidden, isNotFound } from '../../kube/api-error.js';
import type { Clock } from '../../kube/clock.js';
import { createIfAbsent } from '../../kube/create-if-absent.js';
import type { EventRecorder } from '../../kube/event-recorder.js';
import type { KubeApi } from '../../kube/kube-api.js';
import type { Logger } from '../../observability/logger.js';
import { certificateFacts, splitPem, type CertificateFacts } from './certificate-facts.js';
import {
  certificateSecret,
  configurationCarries,
  secretContents,
  secretContentsPatch,
  type SecretContents,
} from './certificate-objects.js';
import { joinPem, planCertificates, type CertificateStep } from './rotation-plan.js';
import { backdateMs, caCommonName, renewalTime, servingNames, type SelfManagedSettings } from './settings.js';
import { issueCa, issueServingCertificate, type IssuedCertificate } from './x509-issuer.js';

/** The longest a writer waits between passes when nothing is due (clocks jump, and a watch may miss a change). */
export const MAX_IDLE_MS = 60 * 60_000;
/** How soon a writer looks again after a write or a lost race (a watch event usually comes first). */
export const LOOK_AGAIN_MS = 1000;

export interface CertificateWriterDeps {
  api: Pick<KubeApi, 'create' | 'patch'>;
  events: Pick<EventRecorder, 'record'>;
  logger: Logger;
  clock: Clock;
}

const short = (c: CertificateFacts): string => c.fingerprint.slice(0, 23);

export class CertificateWriter {
  /** The CA bundle the configuration was last seen to carry, and since when. */
  private carried?: { bundle: string; since: number };
  private configurationMissing = false;

  constructor(
    private readonly deps: CertificateWriterDeps,
    private readonly settings: SelfManagedSettings,
  ) {}

  /** One pass: observe, plan, move one step. Resolves with when to look again; throws on errors worth a backoff. */
  async reconcile(secret: V1Secret | undefined, configuration: V1MutatingWebhookConfiguration | undefined): Promise<number> {
    const now = this.deps.clock.now();
    this.noteCarried(secret, configuration, now);
    if (secret) this.noteConfiguration(secret, configuration);
    const step = planCertificates({
      now,
      settings: this.settings,
      secret,
      configuration,
      bundleCarriedSince: this.carried?.since,
    });
    try {
      return await this.carryOut(step, secret, now);
    } catch (e) {
      // a newer Secret or configuration is on its way through the watch: plan again from it (a
      // create that finds no namespace is no race, though: that one backs off and says so)
      const raced = isConflict(e) || (step.action !== 'create' && (isNotFound(e) || (e as { code?: number }).code === 422));
      if (raced) {
        this.deps.logger.debug('webhook certificates: lost a race, looking again', { step: step.action, error: (e as Error).message });
        return LOOK_AGAIN_MS;
      }
      if (isForbidden(e) && secret)
        void this.deps.events.record(
          secret,
          'Warning',
          'WebhookCertificatesForbidden',
          `cannot ${step.action} for the webhook: ${(e as Error).message}; the operator's RBAC (kustomize/rbac) must allow it`,
        );
      throw e;
    }
  }

  private async carryOut(step: CertificateStep, secret: V1Secret | undefined, now: number): Promise<number> {
    const { logger, events } = this.deps;
    const where = `${this.settings.namespace}/${this.settings.secretName}`;
    switch (step.action) {
      case 'create': {
        const ca = await this.newCa(now);
        const serving = await this.newServing(ca.issued, now, ca.facts.notAfter);
        const contents = { caBundle: ca.facts.pem, caKey: ca.issued.keyPem, tlsCert: serving.certPem, tlsKey: serving.keyPem };
        const created = await createIfAbsent(this.deps.api, SECRET, certificateSecret(this.settings, contents), this.settings.namespace);
        if (!created) return LOOK_AGAIN_MS; // another replica was first
        const message = `created a CA (${short(ca.facts)}, valid until ${kubeTime(ca.facts.notAfter)}) and ${this.describeServing(contents)} because ${step.reason}`;
        logger.info('webhook certificates: created', { secret: where, reason: step.reason, ca: short(ca.facts) });
        void events.record(created, 'Normal', 'CertificatesCreated', message);
        return LOOK_AGAIN_MS;
      }
      case 'foreign':
        logger.warn('webhook certificates: the Secret is not managed by paddle-operator; leaving it alone', { secret: where });
        void events.record(
          secret!,
          'Warning',
          'SecretNotManaged',
          `Secret ${where} lacks the labels of paddle-operator's webhook certificates, so it is never written: delete it to let the operator create its own, or set --webhook-secret-name`,
        );
        return MAX_IDLE_MS;
      case 'stage-ca': {
        const ca = await this.newCa(now);
        const current = secretContents(secret!);
        await this.rewrite(secret!, { ...current, caBundle: joinPem([ca.facts, ...step.keep]), caKey: ca.issued.keyPem });
        const kept = step.keep.map((c) => `${short(c)} until ${kubeTime(c.notAfter)}`).join(', ');
        const message = `created a new CA (${short(ca.facts)}, valid until ${kubeTime(ca.facts.notAfter)}) because ${step.reason}; ${
          kept ? `clients keep trusting the older CA (${kept}), and ` : ''
        }the serving certificate moves to the new CA once the webhook configuration carries it`;
        logger.info('webhook certificates: new CA', { secret: where, reason: step.reason, ca: short(ca.facts), kept: step.keep.length });
        void events.record(secret!, 'Normal', 'CARotated', message);
        return LOOK_AGAIN_MS;
      }
      case 'write-bundle':
        await this.rewrite(secret!, { ...secretContents(secret!), caBundle: step.bundle });
        logger.info('webhook certificates: rewrote the CA bundle', { secret: where, reason: step.reason });
        void events.record(secret!, 'Normal', 'CABundleUpdated', `rewrote ca.crt because ${step.reason}`);
        return LOOK_AGAIN_MS;
      case 'publish': {
        await this.deps.api.patch(MUTATING_WEBHOOK_CONFIGURATION, this.settings.configurationName, undefined, step.patch, 'json');
        const count = splitPem(secretContents(secret!).caBundle).length;
        const repaired = step.emptied.length > 0 ? ` (it was missing from ${step.emptied.join(', ')})` : '';
        const message = `wrote the CA bundle (${count} CA${count === 1 ? '' : 's'}) into MutatingWebhookConfiguration ${this.settings.configurationName}${repaired}`;
        logger.info('webhook certificates: published the CA bundle', {
          configuration: this.settings.configurationName,
          cas: count,
          repaired: step.emptied,
        });
        void events.record(secret!, 'Normal', 'CABundlePublished', message);
        return LOOK_AGAIN_MS;
      }
      case 'issue-serving': {
        const current = secretContents(secret!);
        const serving = await this.newServing({ certPem: step.signer.pem, keyPem: current.caKey }, now, step.signer.notAfter);
        const contents = { ...current, tlsCert: serving.certPem, tlsKey: serving.keyPem };
        await this.rewrite(secret!, contents);
        logger.info('webhook certificates: issued a serving certificate', { secret: where, reason: step.reason, ca: short(step.signer) });
        void events.record(
          secret!,
          'Normal',
          'ServingCertificateIssued',
          `issued ${this.describeServing(contents)} because ${step.reason}`,
        );
        return LOOK_AGAIN_MS;
      }
      case 'wait':
        logger.debug('webhook certificates: waiting', { reason: step.reason });
        return step.untilMs === undefined ? LOOK_AGAIN_MS : Math.max(0, step.untilMs - now);
      case 'idle':
        return Math.min(MAX_IDLE_MS, Math.max(0, step.nextCheckAt - now));
    }
  }

  /** Remembers since when the configuration carries the Secret's bundle. */
  private noteCarried(secret: V1Secret | undefined, configuration: V1MutatingWebhookConfiguration | undefined, now: number): void {
    const bundle = secret ? secretContents(secret).caBundle : undefined;
    if (bundle && configuration && configurationCarries(configuration, bundle)) {
      if (this.carried?.bundle !== bundle) this.carried = { bundle, since: now };
    } else {
      this.carried = undefined;
    }
  }

  /** Says (once per disappearance, and in an Event) that the configuration to write the bundle into does not exist. */
  private noteConfiguration(secret: V1Secret, configuration: V1MutatingWebhookConfiguration | undefined): void {
    const missing = configuration === undefined;
    if (missing && !this.configurationMissing) {
      const name = this.settings.configurationName;
      this.deps.logger.warn('webhook certificates: the webhook configuration does not exist', { configuration: name });
      void this.deps.events.record(
        secret,
        'Warning',
        'WebhookConfigurationNotFound',
        `MutatingWebhookConfiguration ${name} does not exist, so the API server never calls the webhook: apply kustomize/default, or set --webhook-configuration-name`,
      );
    }
    this.configurationMissing = missing;
  }

  private async rewrite(secret: V1Secret, contents: SecretContents): Promise<void> {
    const rv = secret.metadata?.resourceVersion ?? '';
    await this.deps.api.patch(SECRET, this.settings.secretName, this.settings.namespace, secretContentsPatch(rv, contents));
  }

  private async newCa(now: number): Promise<{ issued: IssuedCertificate; facts: CertificateFacts }> {
    const validity = this.settings.caValidityMs;
    const issued = await issueCa(caCommonName(now), {
      notBefore: new Date(now - backdateMs(validity)),
      notAfter: new Date(now + validity),
    });
    return { issued, facts: certificateFacts(splitPem(issued.certPem)[0])! };
  }

  /** A serving certificate signed by `ca`, never outliving it. */
  private newServing(ca: IssuedCertificate, now: number, caNotAfter: number): Promise<IssuedCertificate> {
    const validity = this.settings.servingValidityMs;
    const names = servingNames(this.settings);
    return issueServingCertificate(ca, {
      commonName: names.dnsNames[0],
      ...names,
      notBefore: new Date(now - backdateMs(validity)),
      notAfter: new Date(Math.min(now + validity, caNotAfter)),
    });
  }

  private describeServing(contents: SecretContents): string {
    const s = certificateFacts(contents.tlsCert)!;
    return `a serving certificate for ${[...s.dnsNames, ...s.ipAddresses].join(', ')} (${short(s)}, valid until ${kubeTime(s.notAfter)}, renewed after ${kubeTime(renewalTime(s.notBefore, s.notAfter))})`;
  }
}
