import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import { rowsOf, type Db, type Executor } from '../../db/client.ts';
import { payouts, type PayoutStatus } from './payouts.schema.ts';

export type Payout = typeof payouts.$inferSelect;
export type NewPayout = typeof payouts.$inferInsert;

export interface PayoutListFilter {
  before?: string | undefined;
  limit: number;
  status?: PayoutStatus | undefined;
  /** Only payouts handed to the provider before this (with `status: 'processing'`: stuck ones). */
  processedBefore?: Date | undefined;
}

export function createPayoutRepository(db: Db) {
  const page = (where: ReturnType<typeof and>, f: PayoutListFilter) =>
    db
      .select()
      .from(payouts)
      .where(
        and(
          where,
          f.status ? eq(payouts.status, f.status) : undefined,
          f.processedBefore ? lt(payouts.processedAt, f.processedBefore) : undefined,
          f.before ? lt(payouts.id, f.before) : undefined,
        ),
      )
      .orderBy(desc(payouts.id))
      .limit(f.limit + 1);

  return {
    async insert(row: NewPayout, tx: Executor = db): Promise<Payout> {
      const [out] = await tx.insert(payouts).values(row).returning();
      return out!;
    },

    async get(id: string, tx: Executor = db): Promise<Payout | undefined> {
      const [row] = await tx.select().from(payouts).where(eq(payouts.id, id));
      return row;
    },

    /** The row under lock: every change of status happens under it, so each happens once. */
    async lock(id: string, tx: Executor): Promise<Payout | undefined> {
      const [row] = await tx.select().from(payouts).where(eq(payouts.id, id)).for('update');
      return row;
    },

    async update(id: string, patch: Partial<NewPayout>, tx: Executor): Promise<Payout> {
      const [row] = await tx.update(payouts).set(patch).where(eq(payouts.id, id)).returning();
      return row!;
    },

    async byProviderId(
      provider: string,
      providerPayoutId: string,
      tx: Executor = db,
    ): Promise<Payout | undefined> {
      const [row] = await tx
        .select()
        .from(payouts)
        .where(and(eq(payouts.provider, provider), eq(payouts.providerPayoutId, providerPayoutId)));
      return row;
    },

    /** A user's own payouts (from their personal wallets), newest first. */
    listForUser: (userId: string, f: PayoutListFilter) =>
      page(and(eq(payouts.userId, userId), isNull(payouts.organizationId)), f),
    listForOrganization: (organizationId: string, f: PayoutListFilter) =>
      page(and(eq(payouts.organizationId, organizationId)), f),
    listAll: (f: PayoutListFilter) => page(undefined, f),

    // --- reconciliation ------------------------------------------------------------------------

    /** Payouts handed to the provider before `before` and still without its answer of paid or failed. */
    async stuckProcessing(before: Date): Promise<Payout[]> {
      return db
        .select()
        .from(payouts)
        .where(and(eq(payouts.status, 'processing'), lt(payouts.processedAt, before)))
        .orderBy(payouts.processedAt)
        .limit(100);
    },

    /** Open payouts whose transfers do not keep their amount in payout clearing, closed ones that do. */
    async clearingMismatches(): Promise<{ id: string; status: string; amount: string; clearing: string }[]> {
      return rowsOf(
        await db.execute(sql`select p.id, p.status, p.amount::text, coalesce(sum(e.amount) filter (where a.kind = 'payout_clearing'), 0)::text as clearing
          from payouts p
          left join ledger_transfers t on t.reference_type = 'payout' and t.reference_id = p.id
          left join ledger_entries e on e.transfer_id = t.id
          left join ledger_accounts a on a.id = e.account_id
          group by p.id
          having coalesce(sum(e.amount) filter (where a.kind = 'payout_clearing'), 0)
                 <> case when p.status in ('pending', 'processing') then p.amount else 0 end
          limit 100`),
      );
    },

    /** Payouts whose hold, settle or return transfer is missing or of the wrong kind. */
    async transferMismatches(): Promise<{ id: string; status: string; problem: string }[]> {
      return rowsOf(
        await db.execute(sql`select p.id, p.status,
            case when h.id is null then 'no payout_request hold transfer'
                 when p.status = 'completed' and s.id is null then 'no payout_sent transfer'
                 when p.status in ('failed', 'cancelled') and r.id is null then 'no payout_returned transfer'
                 else 'a settle or return transfer while still open' end as problem
          from payouts p
          left join ledger_transfers h on h.id = p.hold_transfer_id and h.kind = 'payout_request' and h.reference_id = p.id
          left join ledger_transfers s on s.id = p.settle_transfer_id and s.kind = 'payout_sent' and s.reference_id = p.id
          left join ledger_transfers r on r.id = p.return_transfer_id and r.kind = 'payout_returned' and r.reference_id = p.id
          where h.id is null
             or (p.status = 'completed' and s.id is null)
             or (p.status in ('failed', 'cancelled') and r.id is null)
             or (p.status in ('pending', 'processing') and (p.settle_transfer_id is not null or p.return_transfer_id is not null))
          limit 100`),
      );
    },

    /** Per currency: the payout clearing account against the open payouts. */
    async clearingTotals(): Promise<{ currency: string; clearing: string; open: string }[]> {
      return rowsOf(
        await db.execute(sql`select c.currency, coalesce(a.balance, 0)::text as clearing, coalesce(o.open, 0)::text as open
          from (select currency from ledger_accounts where kind = 'payout_clearing' and wallet_id is null
                union select distinct currency from payouts) c
          left join ledger_accounts a on a.kind = 'payout_clearing' and a.wallet_id is null and a.currency = c.currency
          left join (select currency, sum(amount) as open from payouts where status in ('pending', 'processing') group by currency) o on o.currency = c.currency
          where coalesce(a.balance, 0) <> coalesce(o.open, 0)`),
      );
    },
  };
}
export type PayoutRepository = ReturnType<typeof createPayoutRepository>;
