import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, text, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, tz } from '../db/columns.ts';

/** Domain events written in the same transaction as the change they describe. */
export const outboxEvents = pgTable(
  'outbox_events',
  {
    id: id(),
    topic: varchar({ length: 100 }).notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    attempts: integer().notNull().default(0),
    lastError: text(),
    createdAt: tz().notNull().defaultNow(),
    /** A dispatcher's claim on the row; another may take it once this has passed. */
    lockedUntil: tz(),
    dispatchedAt: tz(),
  },
  (t) => [index('idx_outbox_pending').on(t.id).where(sql`dispatched_at is null`)],
);

/** Stored results of POST requests sent with an Idempotency-Key. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    id: id(),
    /** Who sent it (user or API key), so two callers' keys never collide. */
    scope: varchar({ length: 100 }).notNull(),
    key: varchar({ length: 255 }).notNull(),
    method: varchar({ length: 10 }).notNull(),
    path: text().notNull(),
    requestHash: varchar({ length: 64 }).notNull(),
    status: varchar({ length: 20 }).notNull().default('processing'),
    responseStatus: integer(),
    responseBody: text(),
    responseContentType: varchar({ length: 100 }),
    createdAt: tz().notNull().defaultNow(),
    completedAt: tz(),
  },
  (t) => [
    uniqueIndex('idempotency_keys_scope_key_unique').on(t.scope, t.key),
    index('idx_idempotency_created').on(t.createdAt),
    check('idempotency_keys_status_check', oneOf(t.status, ['processing', 'completed'])),
  ],
);

/** Fixed-window counters for rate limits, shared by every server process and kept over restarts. */
export const rateLimits = pgTable('rate_limits', {
  key: text().primaryKey(),
  count: integer().notNull(),
  windowEndsAt: tz().notNull(),
});
