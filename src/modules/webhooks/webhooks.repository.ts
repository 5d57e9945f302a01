import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db, Executor } from '../../db/client.ts';
import {
  platformWebhookSecrets,
  webhookDeliveries,
  type DeliveryStatus,
  type WebhookEventType,
} from './webhooks.schema.ts';

export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;

export function createWebhookRepository(db: Db) {
  return {
    // ---- secrets
    async sealedSecret(platformId: string, tx: Executor = db): Promise<string | undefined> {
      const [row] = await tx
        .select({ s: platformWebhookSecrets.secretSealed })
        .from(platformWebhookSecrets)
        .where(eq(platformWebhookSecrets.platformId, platformId));
      return row?.s;
    },
    /** Stores a platform's first secret; false when it already has one. */
    async insertSecret(platformId: string, sealed: string, tx: Executor): Promise<boolean> {
      const rows = await tx
        .insert(platformWebhookSecrets)
        .values({ platformId, secretSealed: sealed })
        .onConflictDoNothing()
        .returning({ id: platformWebhookSecrets.platformId });
      return rows.length > 0;
    },
    async replaceSecret(platformId: string, sealed: string, at: Date, tx: Executor): Promise<void> {
      await tx
        .insert(platformWebhookSecrets)
        .values({ platformId, secretSealed: sealed, rotatedAt: at })
        .onConflictDoUpdate({
          target: platformWebhookSecrets.platformId,
          set: { secretSealed: sealed, rotatedAt: at },
        });
    },

    // ---- deliveries
    /** Records an event for a platform once: a second insert of the same event answers the first row. */
    async insertDelivery(row: {
      platformId: string;
      eventId: string;
      eventType: WebhookEventType;
      payload: Record<string, unknown>;
    }): Promise<WebhookDelivery> {
      const [created] = await db
        .insert(webhookDeliveries)
        .values({ ...row, nextAttemptAt: sql`now()` })
        .onConflictDoNothing()
        .returning();
      if (created) return created;
      const [existing] = await db
        .select()
        .from(webhookDeliveries)
        .where(
          and(eq(webhookDeliveries.platformId, row.platformId), eq(webhookDeliveries.eventId, row.eventId)),
        );
      return existing!;
    },
    async delivery(
      platformId: string,
      id: string,
      tx: Executor = db,
      lock = false,
    ): Promise<WebhookDelivery | undefined> {
      const q = tx
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.platformId, platformId), eq(webhookDeliveries.id, id)));
      const [row] = lock ? await q.for('update') : await q;
      return row;
    },
    async list(
      platformId: string,
      f: {
        before?: string | undefined;
        limit: number;
        status?: DeliveryStatus | undefined;
        eventType?: WebhookEventType | undefined;
      },
    ): Promise<WebhookDelivery[]> {
      return db
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.platformId, platformId),
            f.status ? eq(webhookDeliveries.status, f.status) : undefined,
            f.eventType ? eq(webhookDeliveries.eventType, f.eventType) : undefined,
            f.before ? lt(webhookDeliveries.id, f.before) : undefined,
          ),
        )
        .orderBy(desc(webhookDeliveries.id))
        .limit(f.limit + 1);
    },
    /**
     * Claims a pending delivery for one attempt (a lease of `leaseSeconds`), so two jobs for the
     * same delivery never send it at the same time; undefined when it is not pending or is held.
     */
    async claim(id: string, leaseSeconds: number): Promise<WebhookDelivery | undefined> {
      const [row] = await db
        .update(webhookDeliveries)
        .set({ lockedUntil: sql`now() + make_interval(secs => ${leaseSeconds})` })
        .where(
          and(
            eq(webhookDeliveries.id, id),
            eq(webhookDeliveries.status, 'pending'),
            or(isNull(webhookDeliveries.lockedUntil), lt(webhookDeliveries.lockedUntil, sql`now()`)),
          ),
        )
        .returning();
      return row;
    },
    async markDelivered(id: string, statusCode: number): Promise<WebhookDelivery> {
      const [row] = await db
        .update(webhookDeliveries)
        .set({
          status: 'delivered',
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          lastStatusCode: statusCode,
          lastError: null,
          nextAttemptAt: null,
          lockedUntil: null,
          deliveredAt: sql`now()`,
        })
        .where(eq(webhookDeliveries.id, id))
        .returning();
      return row!;
    },
    /** Records a failed attempt: pending again after `retryInSeconds`, or failed for good (null). */
    async markAttemptFailed(
      id: string,
      f: { statusCode: number | null; error: string; retryInSeconds: number | null },
    ): Promise<WebhookDelivery> {
      const [row] = await db
        .update(webhookDeliveries)
        .set({
          status: f.retryInSeconds === null ? 'failed' : 'pending',
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          lastStatusCode: f.statusCode,
          lastError: f.error.slice(0, 1000),
          nextAttemptAt:
            f.retryInSeconds === null ? null : sql`now() + make_interval(secs => ${f.retryInSeconds})`,
          lockedUntil: null,
        })
        .where(eq(webhookDeliveries.id, id))
        .returning();
      return row!;
    },
    /** A delivered or failed delivery sent again: a fresh round of attempts, due now. */
    async reset(id: string, tx: Executor): Promise<WebhookDelivery> {
      const [row] = await tx
        .update(webhookDeliveries)
        .set({
          status: 'pending',
          attempts: 0,
          nextAttemptAt: sql`now()`,
          lockedUntil: null,
          deliveredAt: null,
        })
        .where(eq(webhookDeliveries.id, id))
        .returning();
      return row!;
    },
    /** Pending deliveries whose attempt is overdue by a minute and not held: their job was lost. */
    async stalePending(limit: number): Promise<{ id: string; attempts: number }[]> {
      return db
        .select({ id: webhookDeliveries.id, attempts: webhookDeliveries.attempts })
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.status, 'pending'),
            lt(webhookDeliveries.nextAttemptAt, sql`now() - interval '1 minute'`),
            or(isNull(webhookDeliveries.lockedUntil), lt(webhookDeliveries.lockedUntil, sql`now()`)),
          ),
        )
        .orderBy(webhookDeliveries.nextAttemptAt)
        .limit(limit);
    },
  };
}
export type WebhookRepository = ReturnType<typeof createWebhookRepository>;
