import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { WebhookDelivery } from './webhooks.repository.ts';
import { deliveryStatuses, webhookEventTypes } from './webhooks.schema.ts';
import type { WebhookService } from './webhooks.service.ts';

const deliverySchema = z.object({
  id: z.uuid(),
  platformId: z.uuid(),
  eventId: z.uuid().describe('The Fanfare-Event-Id header: the same on every attempt and redelivery'),
  eventType: z.enum(webhookEventTypes),
  status: z
    .enum(deliveryStatuses)
    .describe('pending: being attempted; delivered: a 2xx answer; failed: every attempt failed'),
  attempts: z.number().int(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.date().nullable(),
  deliveredAt: z.date().nullable(),
  payload: z.record(z.string(), z.unknown()).describe('The body sent: {id, type, createdAt, data}'),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const toDelivery = (d: WebhookDelivery): z.infer<typeof deliverySchema> => ({
  id: d.id,
  platformId: d.platformId,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attempts: d.attempts,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt : null,
  deliveredAt: d.deliveredAt,
  payload: d.payload,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

export const webhookRoutes =
  (svc: WebhookService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['pay as play: webhooks'];
    const orgPlatform = z.object({ orgId: z.uuid(), platformId: z.uuid() });
    const base = '/v1/orgs/:orgId/platforms/:platformId';

    app.get(
      `${base}/webhook-deliveries`,
      {
        schema: {
          tags,
          summary: 'Webhook deliveries to a platform, newest first',
          description: 'Needs platforms.read.',
          params: orgPlatform,
          querystring: pageQuery.extend({
            status: z.enum(deliveryStatuses).optional(),
            eventType: z.enum(webhookEventTypes).optional(),
          }),
          response: { 200: pageSchema(deliverySchema), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const p = await svc.listDeliveries(req.actor, req.params.orgId, req.params.platformId, req.query);
        return { items: p.items.map(toDelivery), nextCursor: p.nextCursor };
      },
    );
    app.get(
      `${base}/webhook-deliveries/:deliveryId`,
      {
        schema: {
          tags,
          summary: 'A webhook delivery',
          params: orgPlatform.extend({ deliveryId: z.uuid() }),
          response: { 200: deliverySchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) =>
        toDelivery(
          await svc.getDelivery(req.actor, req.params.orgId, req.params.platformId, req.params.deliveryId),
        ),
    );
    app.post(
      `${base}/webhook-deliveries/:deliveryId/redeliver`,
      {
        schema: {
          tags,
          summary: 'Send a delivered or failed webhook again',
          description:
            'Needs platforms.manage. Same event id and body, a fresh round of attempts; 409 while the delivery is still pending.',
          params: orgPlatform.extend({ deliveryId: z.uuid() }),
          response: { 202: deliverySchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req, reply) =>
        reply
          .status(202)
          .send(
            toDelivery(
              await svc.redeliver(req.actor, req.params.orgId, req.params.platformId, req.params.deliveryId),
            ),
          ),
    );
    app.post(
      `${base}/webhook-secret/rotate`,
      {
        schema: {
          tags,
          summary: 'Replace the webhook signing secret',
          description:
            'Needs platforms.manage. The new secret (whsec_…) is shown in this response only and signs every attempt from now on; the old one stops at once.',
          params: orgPlatform,
          response: {
            200: z.object({ secret: z.string(), rotatedAt: z.date() }),
            ...errorResponses(400, 401, 403, 404, 409),
          },
        },
      },
      async (req) => svc.rotateSecret(req.actor, req.params.orgId, req.params.platformId),
    );
  };
