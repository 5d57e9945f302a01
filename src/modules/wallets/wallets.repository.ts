import { and, desc, eq, gte, lt, lte } from 'drizzle-orm';
import type { Db, Executor } from '../../db/client.ts';
import { autoTopUpSettings, transactions, type TransactionStatus, type TransactionType } from './wallets.schema.ts';

export type Transaction = typeof transactions.$inferSelect;
export type NewTransaction = typeof transactions.$inferInsert;
export type AutoTopUp = typeof autoTopUpSettings.$inferSelect;

export interface HistoryFilter {
  before?: string | undefined;
  limit: number;
  type?: TransactionType | undefined;
  status?: TransactionStatus | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

export function createWalletRepository(db: Db) {
  return {
    async insertTransaction(t: NewTransaction, tx: Executor = db): Promise<Transaction> {
      const [row] = await tx.insert(transactions).values(t).returning();
      return row!;
    },
    async updateTransaction(id: string, patch: Partial<NewTransaction>, tx: Executor = db): Promise<void> {
      await tx.update(transactions).set(patch).where(eq(transactions.id, id));
    },
    /** The lines of one wallet about one record of another module (a payout, a sale). */
    async updateRelated(walletId: string, relatedId: string, type: TransactionType, patch: Partial<NewTransaction>, tx: Executor = db): Promise<void> {
      await tx
        .update(transactions)
        .set(patch)
        .where(and(eq(transactions.walletId, walletId), eq(transactions.relatedId, relatedId), eq(transactions.type, type)));
    },
    async history(walletId: string, f: HistoryFilter): Promise<Transaction[]> {
      return db
        .select()
        .from(transactions)
        .where(
          and(
            eq(transactions.walletId, walletId),
            f.type ? eq(transactions.type, f.type) : undefined,
            f.status ? eq(transactions.status, f.status) : undefined,
            f.from ? gte(transactions.createdAt, f.from) : undefined,
            f.to ? lte(transactions.createdAt, f.to) : undefined,
            f.before ? lt(transactions.id, f.before) : undefined,
          ),
        )
        .orderBy(desc(transactions.id))
        .limit(f.limit + 1);
    },
    async autoTopUp(walletId: string, tx: Executor = db): Promise<AutoTopUp | undefined> {
      const [row] = await tx.select().from(autoTopUpSettings).where(eq(autoTopUpSettings.walletId, walletId));
      return row;
    },
    async upsertAutoTopUp(row: typeof autoTopUpSettings.$inferInsert): Promise<AutoTopUp> {
      const { walletId, userId, ...patch } = row;
      const [out] = await db
        .insert(autoTopUpSettings)
        .values({ walletId, userId, ...patch })
        .onConflictDoUpdate({ target: autoTopUpSettings.walletId, set: patch })
        .returning();
      return out!;
    },
    async markAutoTopUpTriggered(walletId: string): Promise<void> {
      await db.update(autoTopUpSettings).set({ lastTriggeredAt: new Date() }).where(eq(autoTopUpSettings.walletId, walletId));
    },
  };
}
export type WalletRepository = ReturnType<typeof createWalletRepository>;
