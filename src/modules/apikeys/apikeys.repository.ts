import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db, Executor } from '../../db/client.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { apiKeys } from './apikeys.schema.ts';

export type ApiKey = typeof apiKeys.$inferSelect;

export function createApiKeyRepository(db: Db) {
  // Runs on every partner request: prepared, one round trip, and only live keys of live orgs.
  const byHash = db
    .select({
      id: apiKeys.id,
      organizationId: apiKeys.organizationId,
      scopes: apiKeys.scopes,
      lastUsedAt: apiKeys.lastUsedAt,
    })
    .from(apiKeys)
    .innerJoin(organizations, eq(organizations.id, apiKeys.organizationId))
    .where(
      and(
        eq(apiKeys.keyHash, sql.placeholder('hash')),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), sql`${apiKeys.expiresAt} > now()`),
        isNull(organizations.deletedAt),
      ),
    )
    .prepare('api_key_by_hash');

  return {
    async findLiveByHash(hash: string) {
      const [row] = await byHash.execute({ hash });
      return row;
    },
    async create(row: typeof apiKeys.$inferInsert, tx: Executor = db): Promise<ApiKey> {
      const [created] = await tx.insert(apiKeys).values(row).returning();
      return created!;
    },
    async get(orgId: string, id: string, tx: Executor = db): Promise<ApiKey | undefined> {
      const [row] = await tx.select().from(apiKeys).where(and(eq(apiKeys.organizationId, orgId), eq(apiKeys.id, id)));
      return row;
    },
    async list(orgId: string, filter: { before?: string | undefined; limit: number }): Promise<ApiKey[]> {
      return db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.organizationId, orgId), filter.before ? lt(apiKeys.id, filter.before) : undefined))
        .orderBy(desc(apiKeys.id))
        .limit(filter.limit + 1);
    },
    async revoke(id: string, by: string | null, tx: Executor = db): Promise<ApiKey | undefined> {
      const [row] = await tx
        .update(apiKeys)
        .set({ revokedAt: sql`now()`, revokedBy: by })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning();
      return row;
    },
    async touch(id: string): Promise<void> {
      await db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, id));
    },
  };
}
export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;
