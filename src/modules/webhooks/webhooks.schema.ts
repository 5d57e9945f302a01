import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { platforms } from '../payplay/payplay.schema.ts';

export const webhookEventTypes = [
  'session.ended',
  'grant.approved',
  'grant.denied',
  'grant.revoked',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];
export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/**
 * A partner platform's webhook signing secret. It is a shared HMAC key (Fanfare signs with it,
 * the partner verifies with it), so it is kept sealed (AES-256-GCM) rather than hashed.
 */
export const platformWebhookSecrets = pgTable('platform_webhook_secrets', {
  platformId: uuid()
    .primaryKey()
    .references(() => platforms.id, { onDelete: 'cascade' }),
  secretSealed: text().notNull(),
  rotatedAt: tz(),
  ...timestamps(),
});

/**
 * One event sent (or to be sent) to one platform's webhook URL. `event_id` is the outbox event's
 * id, unique per platform, so a replayed outbox event never makes a second delivery.
 * `payload` is the exact envelope sent: {id, type, createdAt, data}.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    platformId: uuid()
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    eventId: uuid().notNull(),
    eventType: varchar({ length: 50 }).notNull().$type<WebhookEventType>(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    status: varchar({ length: 20 }).notNull().default('pending').$type<DeliveryStatus>(),
    attempts: integer().notNull().default(0),
    lastStatusCode: integer(),
    lastError: text(),
    nextAttemptAt: tz(),
    /** A sender's claim on the row while an attempt is in flight. */
    lockedUntil: tz(),
    deliveredAt: tz(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_platform_event_unique').on(t.platformId, t.eventId),
    index('idx_webhook_deliveries_platform').on(t.platformId, t.id),
    index('idx_webhook_deliveries_pending')
      .on(t.nextAttemptAt)
      .where(sql`${t.status} = 'pending'`),
    check('webhook_deliveries_type_check', oneOf(t.eventType, webhookEventTypes)),
    check('webhook_deliveries_status_check', oneOf(t.status, deliveryStatuses)),
    check('webhook_deliveries_attempts_check', sql`${t.attempts} >= 0`),
    check(
      'webhook_deliveries_delivered_consistent',
      sql`(${t.status} = 'delivered') = (${t.deliveredAt} is not null)`,
    ),
  ],
);
