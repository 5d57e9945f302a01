import { and, asc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.ts';
import { outboxEvents } from './core.schema.ts';
import type { Logger } from './logger.ts';
import type { MailMessage } from '../modules/mail/mail.transport.ts';

/** The closed set of domain events. Payloads are ids; handlers re-read what they need. */
export interface EventMap {
  'mail.requested': MailMessage & { emailLogId: string };
  /** A wallet's available balance went down; auto top-up and low-balance alerts listen. */
  'wallet.debited': { walletId: string; balance: number; previous: number };
  'payment.succeeded': { paymentId: string };
  'payment.failed': { paymentId: string };
  'payment.refunded': { paymentId: string; refundId: string };
  /** A payment succeeded for something that can no longer be delivered: refund it in full. */
  'payment.refund_due': { paymentId: string; reason: string };
  /** An invoice got its number and was mailed; a paid one settled (by payment or offline). */
  'invoice.sent': { invoiceId: string };
  'invoice.paid': { invoiceId: string };
  /** An operator approved a payout: the send job picks it up. */
  'payout.approved': { payoutId: string };
  'payout.completed': { payoutId: string };
  'payout.failed': { payoutId: string };
  /** A media item's HLS renditions are stored (content can be published with it). */
  'media.ready': { mediaId: string };
  /** A media item's upload or transcode failed for good. */
  'media.failed': { mediaId: string };
  /** A media item was deleted and its stored objects removed. */
  'media.deleted': { mediaId: string };
  /** A Pay as Play session ended, for any reason (the partner's webhook listens). */
  'payplay.session_ended': { sessionId: string; endReason: string };
  /** A user answered or withdrew a platform's consent request. */
  'payplay.grant_approved': { grantId: string; platformId: string };
  'payplay.grant_denied': { grantId: string; platformId: string };
  'payplay.grant_revoked': { grantId: string; platformId: string };
}
export type EventTopic = keyof EventMap;

export interface OutboxEvent<T extends EventTopic = EventTopic> {
  id: string;
  topic: T;
  payload: EventMap[T];
}

export type EventHandler<T extends EventTopic> = (event: OutboxEvent<T>) => Promise<void>;

const MAX_ATTEMPTS = 10;

/** Writes an event in the caller's transaction; it is dispatched only if that transaction commits. */
export async function publish<T extends EventTopic>(tx: Executor, topic: T, payload: EventMap[T]): Promise<void> {
  await tx.insert(outboxEvents).values({ topic, payload: payload as unknown as Record<string, unknown> });
}

/** Writes several events of one topic in one statement (a metering batch that ends sessions). */
export async function publishMany<T extends EventTopic>(tx: Executor, topic: T, payloads: EventMap[T][]): Promise<void> {
  if (!payloads.length) return;
  await tx.insert(outboxEvents).values(payloads.map((payload) => ({ topic, payload: payload as unknown as Record<string, unknown> })));
}

export class Outbox {
  private readonly handlers = new Map<EventTopic, { name: string; fn: EventHandler<EventTopic> }[]>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /** `name` makes the (event, handler) pair a dedupe key for any job the handler enqueues. */
  subscribe<T extends EventTopic>(topic: T, name: string, fn: EventHandler<T>): void {
    const list = this.handlers.get(topic) ?? [];
    list.push({ name, fn: fn as unknown as EventHandler<EventTopic> });
    this.handlers.set(topic, list);
  }

  /** Dispatches pending events in id order; concurrent dispatchers skip each other's rows. */
  async dispatchPending(batch = 100): Promise<number> {
    // One dispatch at a time per process; a second caller waits for the running one.
    if (this.running) return this.running;
    this.running = this.dispatchBatch(batch).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Claims a batch with a lease in one statement, then runs handlers outside any transaction: a
   * handler may enqueue jobs through another connection (and PGlite has only one), and a crashed
   * dispatcher's claim simply runs out. Handlers are idempotent, so a rerun after a lost lease
   * is harmless.
   */
  private async dispatchBatch(batch: number): Promise<number> {
    const claimed = await this.db
      .update(outboxEvents)
      .set({ lockedUntil: sql`now() + interval '60 seconds'` })
      .where(
        inArray(
          outboxEvents.id,
          this.db
            .select({ id: outboxEvents.id })
            .from(outboxEvents)
            .where(
              and(
                isNull(outboxEvents.dispatchedAt),
                lt(outboxEvents.attempts, MAX_ATTEMPTS),
                or(isNull(outboxEvents.lockedUntil), lt(outboxEvents.lockedUntil, sql`now()`)),
              ),
            )
            .orderBy(asc(outboxEvents.id))
            .limit(batch)
            .for('update', { skipLocked: true }),
        ),
      )
      .returning();
    claimed.sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const row of claimed) {
      const event = { id: row.id, topic: row.topic as EventTopic, payload: row.payload } as unknown as OutboxEvent;
      try {
        for (const h of this.handlers.get(event.topic) ?? []) await h.fn(event);
        await this.db.update(outboxEvents).set({ dispatchedAt: sql`now()`, lockedUntil: null }).where(eq(outboxEvents.id, row.id));
      } catch (err) {
        this.log.warn({ err, topic: row.topic, eventId: row.id }, 'outbox handler failed; will retry');
        await this.db
          .update(outboxEvents)
          .set({
            attempts: sql`${outboxEvents.attempts} + 1`,
            lastError: String(err).slice(0, 1000),
            // Back off: the next attempt waits attempts² seconds.
            lockedUntil: sql`now() + make_interval(secs => power(${outboxEvents.attempts} + 1, 2))`,
          })
          .where(eq(outboxEvents.id, row.id));
      }
    }
    return claimed.length;
  }

  /** Forgets events dispatched more than `days` ago (the maintenance job). */
  async purgeDispatched(days = 7): Promise<void> {
    await this.db.delete(outboxEvents).where(lt(outboxEvents.dispatchedAt, sql`now() - make_interval(days => ${days})`));
  }

  /** Polls for events (the worker). */
  start(intervalMs = 500): void {
    const tick = () => {
      this.dispatchPending()
        .catch((err: unknown) => this.log.error({ err }, 'outbox dispatch failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
