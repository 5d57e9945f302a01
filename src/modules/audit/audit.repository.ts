import { and, desc, eq, lt } from 'drizzle-orm';
import type { Executor } from '../../db/client.ts';
import { auditLogs } from './audit.schema.ts';

export type AuditLog = typeof auditLogs.$inferSelect;

export function createAuditRepository(db: Executor) {
  return {
    async insert(row: typeof auditLogs.$inferInsert, tx: Executor = db): Promise<void> {
      await tx.insert(auditLogs).values(row);
    },
    async list(filter: {
      organizationId?: string | undefined;
      userId?: string | undefined;
      action?: string | undefined;
      before?: string | undefined;
      limit: number;
    }): Promise<AuditLog[]> {
      return db
        .select()
        .from(auditLogs)
        .where(
          and(
            filter.organizationId ? eq(auditLogs.organizationId, filter.organizationId) : undefined,
            filter.userId ? eq(auditLogs.userId, filter.userId) : undefined,
            filter.action ? eq(auditLogs.action, filter.action) : undefined,
            filter.before ? lt(auditLogs.id, filter.before) : undefined,
          ),
        )
        .orderBy(desc(auditLogs.id))
        .limit(filter.limit + 1);
    },
  };
}
export type AuditRepository = ReturnType<typeof createAuditRepository>;
