import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.ts';
import { emailLogs, mailboxMessages } from './mail.schema.ts';

export type EmailLog = typeof emailLogs.$inferSelect;
export type MailboxMessage = typeof mailboxMessages.$inferSelect;

export function createMailRepository(db: Executor) {
  return {
    async createLog(row: typeof emailLogs.$inferInsert, tx: Executor = db): Promise<EmailLog> {
      const [created] = await tx.insert(emailLogs).values(row).returning();
      return created!;
    },
    async getLog(id: string): Promise<EmailLog | undefined> {
      const [row] = await db.select().from(emailLogs).where(eq(emailLogs.id, id));
      return row;
    },
    async markSent(id: string, provider: string, providerMessageId: string): Promise<void> {
      await db
        .update(emailLogs)
        .set({ status: 'sent', provider, providerMessageId, sentAt: sql`now()`, errorMessage: null })
        .where(eq(emailLogs.id, id));
    },
    async markFailed(id: string, provider: string, error: string): Promise<void> {
      await db.update(emailLogs).set({ status: 'failed', provider, errorMessage: error.slice(0, 2000) }).where(eq(emailLogs.id, id));
    },
    async insertMailbox(row: typeof mailboxMessages.$inferInsert, tx: Executor = db): Promise<MailboxMessage> {
      const [created] = await tx.insert(mailboxMessages).values(row).returning();
      return created!;
    },
    async hasMailbox(emailLogId: string): Promise<boolean> {
      const rows = await db.select({ id: mailboxMessages.id }).from(mailboxMessages).where(eq(mailboxMessages.emailLogId, emailLogId));
      return rows.length > 0;
    },
    async listMailbox(filter: { to?: string | undefined; before?: string | undefined; limit: number }): Promise<MailboxMessage[]> {
      return db
        .select()
        .from(mailboxMessages)
        .where(
          and(
            filter.to ? eq(mailboxMessages.toAddress, filter.to.toLowerCase()) : undefined,
            filter.before ? lt(mailboxMessages.id, filter.before) : undefined,
          ),
        )
        .orderBy(desc(mailboxMessages.id))
        .limit(filter.limit + 1);
    },
    async listLogs(filter: { userId?: string | undefined; before?: string | undefined; limit: number }): Promise<EmailLog[]> {
      return db
        .select()
        .from(emailLogs)
        .where(
          and(
            filter.userId ? eq(emailLogs.userId, filter.userId) : undefined,
            filter.before ? lt(emailLogs.id, filter.before) : undefined,
          ),
        )
        .orderBy(desc(emailLogs.id))
        .limit(filter.limit + 1);
    },
  };
}
export type MailRepository = ReturnType<typeof createMailRepository>;
