import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db, Executor } from '../../db/client.ts';
import { lmsConnections } from './lms.schema.ts';

export type LmsConnectionRow = typeof lmsConnections.$inferSelect;
export type NewLmsConnection = typeof lmsConnections.$inferInsert;
export type LmsConnectionPatch = Partial<
  Pick<
    NewLmsConnection,
    'url' | 'apiKey' | 'apiSecret' | 'status' | 'siteName' | 'lastTestedAt' | 'lastSyncAt' | 'lastError' | 'courseCount' | 'courses'
  >
>;

export function createLmsRepository(db: Db) {
  return {
    async insert(row: NewLmsConnection, tx: Executor = db): Promise<LmsConnectionRow> {
      const [created] = await tx.insert(lmsConnections).values(row).returning();
      return created!;
    },
    async get(id: string, tx: Executor = db): Promise<LmsConnectionRow | undefined> {
      const [row] = await tx.select().from(lmsConnections).where(eq(lmsConnections.id, id));
      return row;
    },
    /** A user's personal connections, or an organization's, newest first. */
    async list(owner: { userId: string } | { organizationId: string }, page: { before?: string | undefined; limit: number }): Promise<LmsConnectionRow[]> {
      return db
        .select()
        .from(lmsConnections)
        .where(
          and(
            'organizationId' in owner
              ? eq(lmsConnections.organizationId, owner.organizationId)
              : and(eq(lmsConnections.userId, owner.userId), isNull(lmsConnections.organizationId)),
            page.before ? lt(lmsConnections.id, page.before) : undefined,
          ),
        )
        .orderBy(desc(lmsConnections.id))
        .limit(page.limit + 1);
    },
    async update(id: string, patch: LmsConnectionPatch, tx: Executor = db): Promise<LmsConnectionRow | undefined> {
      const [row] = await tx.update(lmsConnections).set(patch).where(eq(lmsConnections.id, id)).returning();
      return row;
    },
    /**
     * Records the outcome of a test or sync, unless the key or address changed since they were
     * read (an answer about old credentials must not describe new ones). A connection its owner
     * switched off stays `inactive` whatever the outcome.
     */
    async recordOutcome(
      id: string,
      asRead: { url: string; apiKey: string | null },
      outcome: 'active' | 'error',
      patch: Omit<LmsConnectionPatch, 'status' | 'url' | 'apiKey' | 'apiSecret'>,
    ): Promise<LmsConnectionRow | undefined> {
      const [row] = await db
        .update(lmsConnections)
        .set({ ...patch, status: sql`case when ${lmsConnections.status} = 'inactive' then 'inactive' else ${outcome} end` })
        .where(
          and(
            eq(lmsConnections.id, id),
            eq(lmsConnections.url, asRead.url),
            asRead.apiKey === null ? isNull(lmsConnections.apiKey) : eq(lmsConnections.apiKey, asRead.apiKey),
          ),
        )
        .returning();
      return row;
    },
    async delete(id: string, tx: Executor = db): Promise<boolean> {
      const rows = await tx.delete(lmsConnections).where(eq(lmsConnections.id, id)).returning({ id: lmsConnections.id });
      return rows.length > 0;
    },
  };
}
export type LmsRepository = ReturnType<typeof createLmsRepository>;
