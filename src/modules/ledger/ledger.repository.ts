import { and, asc, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import { rowsOf, type Db, type Executor } from '../../db/client.ts';
import { ledgerAccounts, ledgerEntries, ledgerHolds, ledgerTransfers, wallets, type AccountKind, type TransferKind } from './ledger.schema.ts';

export type LedgerAccount = typeof ledgerAccounts.$inferSelect;
export type LedgerTransfer = typeof ledgerTransfers.$inferSelect;
export type LedgerEntry = typeof ledgerEntries.$inferSelect;
export type LedgerHold = typeof ledgerHolds.$inferSelect;
export type Wallet = typeof wallets.$inferSelect;
/** The payout settings of a wallet; the payouts service is their one writer. */
export type WalletSettingsPatch = Partial<
  Pick<Wallet, 'paypalEmail' | 'paypalVerified' | 'payoutsEnabled' | 'stripeAccountId' | 'stripeAccountStatus' | 'payoutsDisabledAt' | 'payoutsDisabledReason' | 'payoutsDisabledBy'>
>;

export interface NewTransfer {
  id: string;
  idempotencyKey: string;
  kind: TransferKind;
  currency: string;
  referenceType?: string | null | undefined;
  referenceId?: string | null | undefined;
  reversesTransferId?: string | null | undefined;
  description?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
  entries: { id: string; accountId: string; amount: number }[];
}


// Postgres array literals: the ids are UUIDs and the amounts integers, so nothing needs quoting.
const array = (values: readonly (string | number)[]) => `{${values.join(',')}}`;

/** ledger_post_transfer() as a prepared statement on `ex` (see drizzle/0011_*). */
const postTransfer = (ex: Executor) =>
  ex
    .select({
      transferId: sql<string | null>`ledger_post_transfer(${sql.placeholder('id')}, ${sql.placeholder('key')}, ${sql.placeholder('kind')},
        ${sql.placeholder('currency')}, ${sql.placeholder('referenceType')}, ${sql.placeholder('referenceId')}, ${sql.placeholder('reverses')},
        ${sql.placeholder('description')}, ${sql.placeholder('metadata')}::jsonb, ${sql.placeholder('entryIds')}::uuid[],
        ${sql.placeholder('accounts')}::uuid[], ${sql.placeholder('amounts')}::bigint[])`,
    })
    .from(sql`(values (1)) as one (x)`)
    .prepare('ledger_post_transfer');

export function createLedgerRepository(db: Db) {
  const postOnDb = postTransfer(db);
  return {
    /**
     * Writes a transfer and its entries in ONE statement (ledger_post_transfer, whose plans are
     * cached per connection): the entry trigger checks the balance of the legs, locks and updates
     * the accounts, and refuses an overdraft, all before the statement returns. Answers null when
     * the idempotency key was used already (nothing written).
     */
    async insertTransfer(t: NewTransfer, tx: Executor = db): Promise<string | null> {
      const params = {
        id: t.id,
        key: t.idempotencyKey,
        kind: t.kind,
        currency: t.currency,
        referenceType: t.referenceType ?? null,
        referenceId: t.referenceId ?? null,
        reverses: t.reversesTransferId ?? null,
        description: t.description ?? null,
        metadata: JSON.stringify(t.metadata ?? {}),
        entryIds: array(t.entries.map((e) => e.id)),
        accounts: array(t.entries.map((e) => e.accountId)),
        amounts: array(t.entries.map((e) => e.amount)),
      };
      // The hot path: a named prepared statement, parsed once per connection (built once for the
      // database; inside a transaction the same name is reused on that transaction's connection).
      const [row] = await (tx === db ? postOnDb : postTransfer(tx)).execute(params);
      return row?.transferId ?? null;
    },

    async transferByKey(key: string, tx: Executor = db): Promise<LedgerTransfer | undefined> {
      const [row] = await tx.select().from(ledgerTransfers).where(eq(ledgerTransfers.idempotencyKey, key));
      return row;
    },

    async transfer(id: string, tx: Executor = db): Promise<LedgerTransfer | undefined> {
      const [row] = await tx.select().from(ledgerTransfers).where(eq(ledgerTransfers.id, id));
      return row;
    },

    async entriesOf(transferId: string, tx: Executor = db): Promise<(LedgerEntry & { kind: AccountKind; walletId: string | null })[]> {
      return tx
        .select({
          id: ledgerEntries.id,
          transferId: ledgerEntries.transferId,
          accountId: ledgerEntries.accountId,
          amount: ledgerEntries.amount,
          createdAt: ledgerEntries.createdAt,
          kind: ledgerAccounts.kind,
          walletId: ledgerAccounts.walletId,
        })
        .from(ledgerEntries)
        .innerJoin(ledgerAccounts, eq(ledgerAccounts.id, ledgerEntries.accountId))
        .where(eq(ledgerEntries.transferId, transferId))
        .orderBy(asc(ledgerEntries.id));
    },

    /** How much earlier reversals of a transfer gave back: the sum of their credit legs. */
    async reversedAmount(transferId: string, tx: Executor = db): Promise<number> {
      const result = await tx.execute(sql`
        select coalesce(sum(e.amount), 0)::bigint as total
          from ledger_transfers t join ledger_entries e on e.transfer_id = t.id
         where t.reverses_transfer_id = ${transferId} and e.amount > 0`);
      return Number(rowsOf<{ total: string }>(result)[0]?.total ?? 0);
    },

    /** The platform's account of a kind and currency, created on first use. */
    async platformAccount(kind: AccountKind, currency: string, allowNegative: boolean, tx: Executor = db): Promise<LedgerAccount> {
      await tx.insert(ledgerAccounts).values({ ownerType: 'platform', kind, currency, allowNegative }).onConflictDoNothing();
      const [row] = await tx
        .select()
        .from(ledgerAccounts)
        .where(and(isNull(ledgerAccounts.walletId), eq(ledgerAccounts.kind, kind), eq(ledgerAccounts.currency, currency)));
      return row!;
    },

    async account(id: string, tx: Executor = db): Promise<LedgerAccount | undefined> {
      const [row] = await tx.select().from(ledgerAccounts).where(eq(ledgerAccounts.id, id));
      return row;
    },

    async walletAccounts(walletId: string, tx: Executor = db): Promise<LedgerAccount[]> {
      return tx.select().from(ledgerAccounts).where(eq(ledgerAccounts.walletId, walletId));
    },

    /** The wallet of an owner and currency with its two accounts, created on first use. */
    async ensureWallet(owner: { userId?: string | null; organizationId?: string | null }, currency: string, tx: Executor = db): Promise<Wallet> {
      const ownerCond = owner.userId ? eq(wallets.userId, owner.userId) : eq(wallets.organizationId, owner.organizationId!);
      let [wallet] = await tx.select().from(wallets).where(and(ownerCond, eq(wallets.currency, currency)));
      if (!wallet) {
        await tx
          .insert(wallets)
          .values({ userId: owner.userId ?? null, organizationId: owner.userId ? null : (owner.organizationId ?? null), currency })
          .onConflictDoNothing();
        [wallet] = await tx.select().from(wallets).where(and(ownerCond, eq(wallets.currency, currency)));
      }
      await tx
        .insert(ledgerAccounts)
        .values([
          { ownerType: 'wallet', walletId: wallet!.id, kind: 'wallet_available', currency },
          { ownerType: 'wallet', walletId: wallet!.id, kind: 'wallet_pending', currency },
        ])
        .onConflictDoNothing();
      return wallet!;
    },

    async wallet(id: string, tx: Executor = db): Promise<Wallet | undefined> {
      const [row] = await tx.select().from(wallets).where(eq(wallets.id, id));
      return row;
    },

    async walletsOf(owner: { userId?: string; organizationId?: string }, tx: Executor = db): Promise<Wallet[]> {
      return tx
        .select()
        .from(wallets)
        .where(owner.userId ? eq(wallets.userId, owner.userId) : eq(wallets.organizationId, owner.organizationId!))
        .orderBy(asc(wallets.currency));
    },

    async bumpWalletTotals(
      walletId: string,
      d: Partial<Record<'totalEarned' | 'totalEarnedStripe' | 'totalEarnedPaypal' | 'totalWithdrawn' | 'totalWithdrawnStripe' | 'totalWithdrawnPaypal' | 'totalSpentOnPlatform' | 'totalToppedUp', number>>,
      tx: Executor = db,
    ): Promise<void> {
      const set: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(d)) {
        if (v) set[k] = sql`${wallets[k as keyof typeof d]} + ${v}`;
      }
      if (Object.keys(set).length) await tx.update(wallets).set(set).where(eq(wallets.id, walletId));
    },

    /** The wallet row under lock: payout settings change under it, so two changes never interleave. */
    async lockWallet(id: string, tx: Executor): Promise<Wallet | undefined> {
      const [row] = await tx.select().from(wallets).where(eq(wallets.id, id)).for('update');
      return row;
    },

    async updateWalletSettings(walletId: string, patch: WalletSettingsPatch, tx: Executor = db): Promise<Wallet | undefined> {
      const [row] = await tx.update(wallets).set(patch).where(eq(wallets.id, walletId)).returning();
      return row;
    },

    // --- holds ---------------------------------------------------------------------------------

    async createHold(h: { walletId: string; transferId: string; amount: number; currency: string; releaseAt: Date }, tx: Executor = db): Promise<LedgerHold> {
      const [row] = await tx.insert(ledgerHolds).values(h).returning();
      return row!;
    },

    async holdOfTransfer(transferId: string, tx: Executor = db): Promise<LedgerHold | undefined> {
      const [row] = await tx.select().from(ledgerHolds).where(eq(ledgerHolds.transferId, transferId)).for('update');
      return row;
    },

    async lockHold(id: string, tx: Executor): Promise<LedgerHold | undefined> {
      const [row] = await tx.select().from(ledgerHolds).where(eq(ledgerHolds.id, id)).for('update');
      return row;
    },

    async dueHoldIds(now: Date, limit: number, tx: Executor = db): Promise<string[]> {
      const rows = await tx
        .select({ id: ledgerHolds.id })
        .from(ledgerHolds)
        .where(and(eq(ledgerHolds.status, 'held'), lte(ledgerHolds.releaseAt, now)))
        .orderBy(asc(ledgerHolds.releaseAt))
        .limit(limit);
      return rows.map((r) => r.id);
    },

    async setHold(id: string, patch: Partial<Pick<LedgerHold, 'amount' | 'status' | 'releasedAt' | 'releaseTransferId'>>, tx: Executor = db): Promise<void> {
      await tx.update(ledgerHolds).set(patch).where(eq(ledgerHolds.id, id));
    },

    async holdsOfWallet(walletId: string, tx: Executor = db): Promise<LedgerHold[]> {
      return tx.select().from(ledgerHolds).where(and(eq(ledgerHolds.walletId, walletId), inArray(ledgerHolds.status, ['held'])));
    },

    // --- reconciliation ------------------------------------------------------------------------

    async unbalancedTransfers(): Promise<{ id: string; sum: string }[]> {
      return rowsOf(
        await db.execute(sql`select t.id, coalesce(sum(e.amount), 0)::text as sum from ledger_transfers t
          left join ledger_entries e on e.transfer_id = t.id group by t.id having coalesce(sum(e.amount), 0) <> 0 or count(e.id) < 2 limit 100`),
      );
    },
    async driftedAccounts(): Promise<{ id: string; kind: string; balance: string; entries: string }[]> {
      return rowsOf(
        await db.execute(sql`select a.id, a.kind, a.balance::text, coalesce(s.total, 0)::text as entries from ledger_accounts a
          left join (select account_id, sum(amount) as total from ledger_entries group by account_id) s on s.account_id = a.id
          where a.balance <> coalesce(s.total, 0) limit 100`),
      );
    },
    async negativeAccounts(): Promise<{ id: string; kind: string; balance: string }[]> {
      return rowsOf(await db.execute(sql`select id, kind, balance::text from ledger_accounts where not allow_negative and balance < 0 limit 100`));
    },
    async driftedWallets(): Promise<{ id: string; balance: string; available: string; pending: string }[]> {
      return rowsOf(
        await db.execute(sql`select w.id, w.balance::text, coalesce(av.balance, 0)::text as available, coalesce(pe.balance, 0)::text as pending
          from wallets w
          left join ledger_accounts av on av.wallet_id = w.id and av.kind = 'wallet_available'
          left join ledger_accounts pe on pe.wallet_id = w.id and pe.kind = 'wallet_pending'
          where w.balance <> coalesce(av.balance, 0) or w.balance_available <> coalesce(av.balance, 0) or w.balance_pending <> coalesce(pe.balance, 0)
          limit 100`),
      );
    },
    async overdueHolds(graceSeconds: number): Promise<{ id: string; release_at: Date }[]> {
      return rowsOf(
        await db.execute(sql`select id, release_at from ledger_holds where status = 'held' and release_at < now() - make_interval(secs => ${graceSeconds}) limit 100`),
      );
    },
    async pendingBalanceWithoutHolds(): Promise<{ wallet_id: string; pending: string; held: string }[]> {
      return rowsOf(
        await db.execute(sql`select a.wallet_id, a.balance::text as pending, coalesce(h.held, 0)::text as held from ledger_accounts a
          left join (select wallet_id, sum(amount) as held from ledger_holds where status = 'held' group by wallet_id) h on h.wallet_id = a.wallet_id
          where a.kind = 'wallet_pending' and a.balance <> coalesce(h.held, 0) limit 100`),
      );
    },
  };
}
export type LedgerRepository = ReturnType<typeof createLedgerRepository>;
