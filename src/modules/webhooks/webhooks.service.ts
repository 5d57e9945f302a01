import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import { OutboundError, outboundRequest } from '../../core/outbound-http.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import { createSecretBox, type SecretBox } from '../../core/secret-box.ts';
import type { PayplayRepository, Platform } from '../payplay/index.ts';
import { EVENT_ID_HEADER, newWebhookSecret, SIGNATURE_HEADER, signWebhook } from './webhooks.signature.ts';
import type { WebhookDelivery, WebhookRepository } from './webhooks.repository.ts';
import type { DeliveryStatus, WebhookEventType } from './webhooks.schema.ts';

export interface WebhookSettings {
  /** Attempts in all before a delivery is failed for good. */
  maxAttempts: number;
  /** The delay before the first retry; each next one waits four times longer, up to 12 hours. */
  retryBaseSeconds: number;
  /** One attempt's timeout (connection, request and answer). */
  timeoutMs: number;
  /** OUTBOUND_ALLOW_PRIVATE: whether webhook URLs on private addresses are called. */
  allowPrivate: boolean;
}

export const MAX_RETRY_DELAY_SECONDS = 12 * 3600;
/** What is kept of a receiver's answer to a failed attempt (for last_error). */
const ANSWER_SNIPPET_BYTES = 4096;

/** The wait after the `failedAttempts`-th failed attempt: base·4^(n−1), at most 12 hours. */
export function retryDelaySeconds(failedAttempts: number, baseSeconds: number): number {
  return Math.min(baseSeconds * 4 ** Math.max(0, failedAttempts - 1), MAX_RETRY_DELAY_SECONDS);
}

/** The envelope every webhook body is. */
export interface WebhookEnvelope {
  id: string;
  type: WebhookEventType;
  createdAt: string;
  data: Record<string, unknown>;
}

/** Signing secrets are sealed under a key of their own, derived from AUTH_SECRET. */
export const createWebhookSecretBox = (authSecret: string): SecretBox => createSecretBox(authSecret, 'platform-webhook-secrets/v1');

const secretContext = (platformId: string) => `platform_webhook_secrets:${platformId}`;

export function createWebhookService(deps: {
  db: Db;
  repo: WebhookRepository;
  /** Pay as Play's platforms, sessions and grants, read to build and address the events. */
  payplay: PayplayRepository;
  access: Access;
  audit: AuditService;
  jobs: JobQueue;
  box: SecretBox;
  settings: WebhookSettings;
  log: Logger;
}) {
  const { db, repo, payplay, access, audit, jobs, box, settings, log } = deps;

  const platformOf = async (
    actor: Actor,
    orgId: string,
    platformId: string,
    permission: 'platforms.read' | 'platforms.manage',
  ): Promise<Platform> => {
    await access.requireOrg(actor, orgId, permission);
    const platform = await payplay.platformOfOrg(orgId, platformId);
    if (!platform) throw notFound('Platform');
    return platform;
  };

  const enqueue = async (
    d: Pick<WebhookDelivery, 'id' | 'attempts'>,
    delaySeconds = 0,
    key = `${d.id}:${d.attempts}`,
  ) => {
    await jobs.send(
      'webhooks.deliver',
      { deliveryId: d.id },
      { key, ...(delaySeconds > 0 ? { startAfter: new Date(Date.now() + delaySeconds * 1000) } : {}) },
    );
  };

  /**
   * Records one event for a platform, once per (platform, event), and queues its first attempt.
   * Nothing is recorded for a platform without a webhook URL. Run again for the same event (the
   * outbox retries a handler until it succeeds), it finds the first row and sends no second copy.
   */
  async function record(
    eventId: string,
    platformId: string,
    type: WebhookEventType,
    data: Record<string, unknown>,
  ): Promise<WebhookDelivery | null> {
    const platform = await payplay.platform(platformId);
    if (!platform?.webhookUrl) return null;
    const envelope: WebhookEnvelope = { id: eventId, type, createdAt: new Date().toISOString(), data };
    const d = await repo.insertDelivery({
      platformId,
      eventId,
      eventType: type,
      payload: envelope as unknown as Record<string, unknown>,
    });
    // A first run that stored the row but did not get to queue its job is finished here; a job
    // already queued under the same key makes this one a no-op.
    if (d.status === 'pending' && d.attempts === 0) await enqueue(d);
    return d;
  }

  type Outcome =
    | { ok: true; statusCode: number }
    | { ok: false; statusCode: number | null; error: string; final: boolean };

  /** Sends `d` once, signed with the platform's secret, to its current webhook URL. */
  async function attempt(d: WebhookDelivery): Promise<Outcome> {
    const platform = await payplay.platform(d.platformId);
    if (!platform?.webhookUrl)
      {return { ok: false, statusCode: null, error: 'The platform has no webhook URL any more', final: true };}
    const sealed = await repo.sealedSecret(d.platformId);
    let secret: string;
    try {
      if (!sealed) throw new Error('no secret');
      secret = box.open(sealed, secretContext(d.platformId));
    } catch {
      return {
        ok: false,
        statusCode: null,
        error: 'The platform has no readable webhook signing secret (AUTH_SECRET changed?); rotate it',
        final: true,
      };
    }
    const body = JSON.stringify(d.payload);
    try {
      const res = await outboundRequest(
        platform.webhookUrl,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Fanfare-Webhooks/1',
            [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(Date.now() / 1000)),
            [EVENT_ID_HEADER]: d.eventId,
            'fanfare-event-type': d.eventType,
          },
          body,
        },
        {
          allowPrivate: settings.allowPrivate,
          timeoutMs: settings.timeoutMs,
          maxBodyBytes: ANSWER_SNIPPET_BYTES,
          truncateBody: true,
        },
      );
      if (res.status >= 200 && res.status < 300) return { ok: true, statusCode: res.status };
      return {
        ok: false,
        statusCode: res.status,
        error: `HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 500)}` : ''}`,
        final: false,
      };
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      // An address Fanfare refuses stays refused: retrying it would only fail again.
      return {
        ok: false,
        statusCode: null,
        error: err.message,
        final: err.code === 'forbidden_address' || err.code === 'bad_url',
      };
    }
  }

  return {
    retryDelaySeconds: (failedAttempts: number) =>
      retryDelaySeconds(failedAttempts, settings.retryBaseSeconds),

    /** A session ended: its final state is what the partner gets (an ended session no longer changes). */
    async sessionEnded(eventId: string, sessionId: string): Promise<WebhookDelivery | null> {
      const s = await payplay.session(sessionId);
      if (!s) return null;
      const g = await payplay.grantOfPlatform(s.platformId, s.grantId);
      return record(eventId, s.platformId, 'session.ended', {
        sessionId: s.id,
        grantId: s.grantId,
        externalRef: g?.externalRef ?? null,
        contentId: s.contentId,
        status: s.status,
        endReason: s.endReason,
        startedAt: s.startedAt.toISOString(),
        endedAt: s.endedAt?.toISOString() ?? null,
        durationSeconds: s.durationSeconds,
        billedUnits: s.billedUnits,
        totalCost: s.totalCost,
        currency: s.currency,
      });
    },

    async grantChanged(
      eventId: string,
      type: 'grant.approved' | 'grant.denied' | 'grant.revoked',
      platformId: string,
      grantId: string,
    ): Promise<WebhookDelivery | null> {
      const g = await payplay.grantOfPlatform(platformId, grantId);
      if (!g) return null;
      return record(eventId, platformId, type, {
        grantId: g.id,
        // What the event says happened, even if the grant changed again since (approved, then revoked).
        status: type === 'grant.approved' ? 'active' : type === 'grant.denied' ? 'denied' : 'revoked',
        externalRef: g.externalRef,
        currency: g.currency,
        pricePerMinute: g.pricePerMinute,
        dailyCap: g.dailyCap,
        approvedAt: g.approvedAt?.toISOString() ?? null,
        deniedAt: g.deniedAt?.toISOString() ?? null,
        revokedAt: g.revokedAt?.toISOString() ?? null,
      });
    },

    /**
     * One attempt at a delivery (the `webhooks.deliver` job). 2xx is delivered; anything else
     * (another status, a refused or unreachable address, a timeout) counts as a failed attempt and
     * schedules the next one, until `maxAttempts` attempts have failed.
     */
    async deliver(deliveryId: string): Promise<WebhookDelivery | undefined> {
      const d = await repo.claim(deliveryId, Math.ceil(settings.timeoutMs / 1000) + 30);
      if (!d) return undefined;
      const outcome = await attempt(d);
      if (outcome.ok) return repo.markDelivered(d.id, outcome.statusCode);
      const attempts = d.attempts + 1;
      const retry =
        outcome.final || attempts >= settings.maxAttempts
          ? null
          : retryDelaySeconds(attempts, settings.retryBaseSeconds);
      const updated = await repo.markAttemptFailed(d.id, {
        statusCode: outcome.statusCode,
        error: outcome.error,
        retryInSeconds: retry,
      });
      if (retry !== null) await enqueue(updated, retry);
      else
        {log.warn(
          { deliveryId: d.id, platformId: d.platformId, error: outcome.error },
          'webhook delivery failed for good',
        );}
      return updated;
    },

    /** Requeues pending deliveries whose job was lost (the maintenance job). */
    async requeueStale(limit = 500): Promise<number> {
      const rows = await repo.stalePending(limit);
      for (const r of rows) await enqueue(r, 0, `${r.id}:${r.attempts}:stale`);
      return rows.length;
    },

    /**
     * The platform's first signing secret, made when a webhook URL is set (Pay as Play calls this in
     * its transaction). Answers the secret when it was made now, null when the platform has one.
     */
    async issueSecret(platformId: string, tx: Executor): Promise<string | null> {
      const secret = newWebhookSecret();
      return (await repo.insertSecret(platformId, box.seal(secret, secretContext(platformId)), tx))
        ? secret
        : null;
    },

    /** A new signing secret; the old one stops being used at once. The secret is in this answer only. */
    async rotateSecret(
      actor: Actor,
      orgId: string,
      platformId: string,
    ): Promise<{ secret: string; rotatedAt: Date }> {
      const platform = await platformOf(actor, orgId, platformId, 'platforms.manage');
      if (!platform.webhookUrl)
        {throw new AppError(
          'conflict',
          'The platform has no webhook URL; set one first (that also makes its secret)',
          { code: 'no_webhook_url' },
        );}
      const secret = newWebhookSecret();
      const rotatedAt = new Date();
      await db.transaction(async (tx) => {
        await repo.replaceSecret(platformId, box.seal(secret, secretContext(platformId)), rotatedAt, tx);
        await audit.record(
          {
            action: 'platform.webhook_secret_rotated',
            userId: actor.kind === 'user' ? actor.userId : null,
            organizationId: orgId,
            resourceType: 'platform',
            resourceId: platformId,
            meta: actor.meta,
          },
          tx,
        );
      });
      return { secret, rotatedAt };
    },

    async listDeliveries(
      actor: Actor,
      orgId: string,
      platformId: string,
      q: PageQuery & { status?: DeliveryStatus | undefined; eventType?: WebhookEventType | undefined },
    ): Promise<Page<WebhookDelivery>> {
      await platformOf(actor, orgId, platformId, 'platforms.read');
      return toPage(
        await repo.list(platformId, {
          before: decodeCursor(q.cursor),
          limit: q.limit,
          status: q.status,
          eventType: q.eventType,
        }),
        q.limit,
      );
    },

    async getDelivery(
      actor: Actor,
      orgId: string,
      platformId: string,
      deliveryId: string,
    ): Promise<WebhookDelivery> {
      await platformOf(actor, orgId, platformId, 'platforms.read');
      const d = await repo.delivery(platformId, deliveryId);
      if (!d) throw notFound('Webhook delivery');
      return d;
    },

    /** Sends a delivered or failed delivery again, with a fresh round of attempts, the same event id. */
    async redeliver(
      actor: Actor,
      orgId: string,
      platformId: string,
      deliveryId: string,
    ): Promise<WebhookDelivery> {
      const platform = await platformOf(actor, orgId, platformId, 'platforms.manage');
      const d = await db.transaction(async (tx) => {
        const row = await repo.delivery(platformId, deliveryId, tx, true);
        if (!row) throw notFound('Webhook delivery');
        if (row.status === 'pending')
          {throw new AppError('conflict', 'The delivery is still being attempted', {
            code: 'delivery_pending',
          });}
        if (!platform.webhookUrl)
          {throw new AppError('conflict', 'The platform has no webhook URL; set one first', {
            code: 'no_webhook_url',
          });}
        return repo.reset(row.id, tx);
      });
      await enqueue(d, 0, `${d.id}:redeliver:${newId()}`);
      return d;
    },
  };
}
export type WebhookService = ReturnType<typeof createWebhookService>;
