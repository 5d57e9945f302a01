import { index, jsonb, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';

/** Append-only record of security events; rows are never updated. */
export const auditLogs = pgTable(
  'audit_logs',
  {
    id: id(),
    // No cascades: the rows are append-only and users and organizations are soft-deleted.
    userId: uuid().references(() => users.id),
    organizationId: uuid().references(() => organizations.id),
    action: varchar({ length: 100 }).notNull(),
    resourceType: varchar({ length: 50 }),
    resourceId: uuid(),
    ipAddress: varchar({ length: 45 }),
    userAgent: text(),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [
    index('idx_audit_user').on(t.userId),
    index('idx_audit_org').on(t.organizationId),
    index('idx_audit_action').on(t.action),
  ],
);
