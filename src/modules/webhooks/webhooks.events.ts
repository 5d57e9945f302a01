import type { JobQueue } from '../../core/jobs.ts';
import type { Outbox } from '../../core/outbox.ts';
import type { WebhookService } from './webhooks.service.ts';

/**
 * Pay as Play's events become deliveries to the partner's webhook URL. The outbox event's id is
 * the webhook event's id, so a handler run twice for one event records one delivery.
 */
export function registerWebhookEvents(outbox: Outbox, jobs: JobQueue, webhooks: WebhookService): void {
  outbox.subscribe('payplay.session_ended', 'webhooks.session-ended', async (e) => {
    await webhooks.sessionEnded(e.id, e.payload.sessionId);
  });
  outbox.subscribe('payplay.grant_approved', 'webhooks.grant-approved', async (e) => {
    await webhooks.grantChanged(e.id, 'grant.approved', e.payload.platformId, e.payload.grantId);
  });
  outbox.subscribe('payplay.grant_denied', 'webhooks.grant-denied', async (e) => {
    await webhooks.grantChanged(e.id, 'grant.denied', e.payload.platformId, e.payload.grantId);
  });
  outbox.subscribe('payplay.grant_revoked', 'webhooks.grant-revoked', async (e) => {
    await webhooks.grantChanged(e.id, 'grant.revoked', e.payload.platformId, e.payload.grantId);
  });
  jobs.register('webhooks.deliver', async ({ deliveryId }) => {
    await webhooks.deliver(deliveryId);
  });
}
