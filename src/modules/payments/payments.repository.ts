import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { rowsOf, type Db, type Executor } from '../../db/client.ts';
import { payments, refunds, webhookEvents, type PaymentGateway, type PaymentStatus } from './payments.schema.ts';

export type Payment = typeof payments.$inferSelect;
export type NewPayment = typeof payments.$inferInsert;
export type Refund = typeof refunds.$inferSelect;


export function createPaymentRepository(db: Db) {
  return {
    async insert(p: NewPayment, tx: Executor = db): Promise<Payment> {
      const [row] = await tx.insert(payments).values(p).returning();
      return row!;
    },
    async get(id: string, tx: Executor = db): Promise<Payment | undefined> {
      const [row] = await tx.select().from(payments).where(eq(payments.id, id));
      return row;
    },
    async lock(id: string, tx: Executor): Promise<Payment | undefined> {
      const [row] = await tx.select().from(payments).where(eq(payments.id, id)).for('update');
      return row;
    },
    async lockByGatewayId(gateway: PaymentGateway, gatewayPaymentId: string, tx: Executor): Promise<Payment | undefined> {
      const [row] = await tx
        .select()
        .from(payments)
        .where(and(eq(payments.paymentGateway, gateway), eq(payments.gatewayPaymentId, gatewayPaymentId)))
        .for('update');
      return row;
    },
    /** Moves a payment on only from the statuses given: a late or repeated event changes nothing. */
    async transition(id: string, from: PaymentStatus[], patch: Partial<NewPayment>, tx: Executor = db): Promise<Payment | undefined> {
      const [row] = await tx
        .update(payments)
        .set(patch)
        .where(and(eq(payments.id, id), inArray(payments.status, from)))
        .returning();
      return row;
    },
    /** A payment for `reference` still waiting on the provider (created, or processing). */
    async inFlightFor(referenceType: string, referenceId: string, tx: Executor = db): Promise<Payment | undefined> {
      const [row] = await tx
        .select()
        .from(payments)
        .where(and(eq(payments.referenceType, referenceType), eq(payments.referenceId, referenceId), inArray(payments.status, ['pending', 'processing'])))
        .limit(1);
      return row;
    },
    /** Every payment for `reference` in one of `statuses`, oldest first. */
    async openFor(referenceType: string, referenceId: string, statuses: PaymentStatus[], tx: Executor = db): Promise<Payment[]> {
      return tx
        .select()
        .from(payments)
        .where(and(eq(payments.referenceType, referenceType), eq(payments.referenceId, referenceId), inArray(payments.status, statuses)))
        .orderBy(payments.id);
    },
    async update(id: string, patch: Partial<NewPayment>, tx: Executor = db): Promise<Payment | undefined> {
      const [row] = await tx.update(payments).set(patch).where(eq(payments.id, id)).returning();
      return row;
    },
    async listForUser(userId: string, f: { before?: string | undefined; limit: number; status?: PaymentStatus | undefined }): Promise<Payment[]> {
      return db
        .select()
        .from(payments)
        .where(and(eq(payments.userId, userId), f.status ? eq(payments.status, f.status) : undefined, f.before ? lt(payments.id, f.before) : undefined))
        .orderBy(desc(payments.id))
        .limit(f.limit + 1);
    },
    async listAll(f: { before?: string | undefined; limit: number; status?: PaymentStatus | undefined }): Promise<Payment[]> {
      return db
        .select()
        .from(payments)
        .where(and(f.status ? eq(payments.status, f.status) : undefined, f.before ? lt(payments.id, f.before) : undefined))
        .orderBy(desc(payments.id))
        .limit(f.limit + 1);
    },

    // --- refunds -------------------------------------------------------------------------------
    async insertRefund(r: typeof refunds.$inferInsert, tx: Executor = db): Promise<Refund> {
      const [row] = await tx.insert(refunds).values(r).returning();
      return row!;
    },
    async lockRefund(id: string, tx: Executor): Promise<Refund | undefined> {
      const [row] = await tx.select().from(refunds).where(eq(refunds.id, id)).for('update');
      return row;
    },
    async lockRefundByGatewayId(gatewayRefundId: string, tx: Executor): Promise<Refund | undefined> {
      const [row] = await tx.select().from(refunds).where(eq(refunds.gatewayRefundId, gatewayRefundId)).for('update');
      return row;
    },
    async updateRefund(id: string, patch: Partial<typeof refunds.$inferInsert>, tx: Executor = db): Promise<Refund | undefined> {
      const [row] = await tx.update(refunds).set(patch).where(eq(refunds.id, id)).returning();
      return row;
    },
    async refundsOf(paymentId: string): Promise<Refund[]> {
      return db.select().from(refunds).where(eq(refunds.paymentId, paymentId)).orderBy(refunds.id);
    },

    // --- webhooks ------------------------------------------------------------------------------
    /** Stores a verified event once; answers the row, and whether this call stored it. */
    async storeEvent(e: { provider: string; eventId: string; type: string; payload: Record<string, unknown> }): Promise<{ id: string; status: string; fresh: boolean }> {
      const [inserted] = await db.insert(webhookEvents).values(e).onConflictDoNothing().returning({ id: webhookEvents.id, status: webhookEvents.status });
      if (inserted) return { ...inserted, fresh: true };
      const [row] = await db
        .select({ id: webhookEvents.id, status: webhookEvents.status })
        .from(webhookEvents)
        .where(and(eq(webhookEvents.provider, e.provider), eq(webhookEvents.eventId, e.eventId)));
      return { ...row!, fresh: false };
    },
    /** Claims an event for processing inside `tx`: only one concurrent delivery gets it. */
    async claimEvent(id: string, tx: Executor): Promise<boolean> {
      const [row] = await tx
        .select({ id: webhookEvents.id })
        .from(webhookEvents)
        .where(and(eq(webhookEvents.id, id), inArray(webhookEvents.status, ['received', 'failed'])))
        .for('update', { skipLocked: true });
      return !!row;
    },
    async finishEvent(id: string, status: 'processed' | 'ignored', tx: Executor): Promise<void> {
      await tx
        .update(webhookEvents)
        .set({ status, processedAt: sql`now()`, attempts: sql`${webhookEvents.attempts} + 1` })
        .where(eq(webhookEvents.id, id));
    },
    async failEvent(id: string, error: string): Promise<void> {
      await db
        .update(webhookEvents)
        .set({ status: 'failed', lastError: error.slice(0, 1000), attempts: sql`${webhookEvents.attempts} + 1` })
        .where(eq(webhookEvents.id, id));
    },

    /** Reconciliation: succeeded payments without their ledger transfer. */
    async succeededWithoutTransfer(): Promise<{ id: string }[]> {
      return rowsOf(
        await db.execute(
          sql`select p.id from payments p left join ledger_transfers t on t.id = p.transfer_id
              where p.status in ('success', 'refunded', 'partially_refunded') and t.id is null limit 100`,
        ),
      );
    },
    /** Reconciliation: payments due an automatic refund that has not gone out after `graceSeconds`. */
    async overdueAutoRefunds(graceSeconds: number): Promise<{ id: string; reason: string }[]> {
      return rowsOf(
        await db.execute(
          sql`select id, metadata->>'autoRefundReason' as reason from payments
              where status = 'success' and metadata->>'autoRefundReason' is not null
                and paid_at < now() - make_interval(secs => ${graceSeconds}) limit 100`,
        ),
      );
    },
    /** Reconciliation: refunds recorded on payments match their refund rows. */
    async refundMismatches(): Promise<{ id: string; refund_amount: string; refunds: string }[]> {
      return rowsOf(
        await db.execute(
          sql`select p.id, p.refund_amount::text, coalesce(r.total, 0)::text as refunds from payments p
              left join (select payment_id, sum(amount) as total from refunds where status <> 'failed' group by payment_id) r on r.payment_id = p.id
              where p.refund_amount <> coalesce(r.total, 0) limit 100`,
        ),
      );
    },
  };
}
export type PaymentRepository = ReturnType<typeof createPaymentRepository>;
