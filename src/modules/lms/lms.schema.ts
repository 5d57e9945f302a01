import { check, index, integer, jsonb, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';

export const lmsPlatforms = ['moodle', 'canvas'] as const;
export type LmsPlatform = (typeof lmsPlatforms)[number];
/** The seed's statuses: `inactive` is switched off by its owner, `error` is the last test or sync failing. */
export const lmsStatuses = ['active', 'inactive', 'error'] as const;
export type LmsStatus = (typeof lmsStatuses)[number];

/** One course as the last sync saw it (the summary kept on the connection). */
export interface LmsCourse {
  id: string;
  name: string;
  code: string | null;
}

/**
 * Pay as Play's LMS connections: a Moodle or Canvas site a user (or a partner organization)
 * connects. `api_key` and `api_secret` hold AES-256-GCM ciphertext (see core/secret-box.ts), never the
 * plain values, so they are text rather than the seed's VARCHAR(255).
 *
 * Beyond the seed: `organization_id` (a partner organization's connection, managed by members
 * holding lms.manage; null for a personal one), what the last test saw (`site_name`,
 * `last_tested_at`), the last failure (`last_error`) and the last sync's course summary
 * (`course_count`, `courses`, at most 100 courses).
 */
export const lmsConnections = pgTable(
  'lms_connections',
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'cascade' }),
    platform: varchar({ length: 20 }).notNull().$type<LmsPlatform>(),
    url: varchar({ length: 500 }).notNull(),
    apiKey: text(),
    apiSecret: text(),
    status: varchar({ length: 20 }).notNull().default('active').$type<LmsStatus>(),
    siteName: varchar({ length: 255 }),
    lastTestedAt: tz(),
    lastSyncAt: tz(),
    lastError: text(),
    courseCount: integer(),
    courses: jsonb().$type<LmsCourse[]>(),
    ...timestamps(),
  },
  (t) => [
    index('idx_lms_connections_user_id').on(t.userId),
    index('idx_lms_connections_platform').on(t.platform),
    index('idx_lms_connections_organization_id').on(t.organizationId).where(sql`${t.organizationId} is not null`),
    check('lms_connections_platform_check', oneOf(t.platform, lmsPlatforms)),
    check('lms_connections_status_check', oneOf(t.status, lmsStatuses)),
    check('lms_connections_url_check', sql`${t.url} ~* '^https?://'`),
    check('lms_connections_course_count_check', sql`${t.courseCount} is null or ${t.courseCount} >= 0`),
  ],
);
