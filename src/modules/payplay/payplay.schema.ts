import { sql } from 'drizzle-orm';
import { bigint, check, date, index, integer, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { ledgerAccounts, wallets } from '../ledger/ledger.schema.ts';

const money = () => bigint({ mode: 'number' });

export const platformTypes = ['video', 'lms', 'course'] as const;
export type PlatformType = (typeof platformTypes)[number];
export const platformStatuses = ['active', 'inactive', 'suspended'] as const;
export type PlatformStatus = (typeof platformStatuses)[number];

/**
 * A partner platform (seed `platforms`). It belongs to the partner organization; `user_id` is the
 * member who registered it. Its keys live in `platform_api_keys` (the seed's api_key/api_key_id).
 * `price_per_minute` is the most a session may cost per minute; `billing_unit_seconds` the minimum
 * billing unit; `commission_bps` the platform's cut (snapshotted on each session).
 */
export const platforms = pgTable(
  'platforms',
  {
    id: id(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'restrict' }),
    userId: uuid().references(() => users.id, { onDelete: 'set null' }),
    name: varchar({ length: 255 }).notNull(),
    type: varchar({ length: 10 }).notNull().$type<PlatformType>(),
    description: text(),
    websiteUrl: varchar({ length: 500 }),
    webhookUrl: varchar({ length: 500 }),
    status: varchar({ length: 20 }).notNull().default('active').$type<PlatformStatus>(),
    currency: varchar({ length: 3 }).notNull(),
    pricePerMinute: money().notNull(),
    billingUnitSeconds: integer().notNull().default(60),
    commissionBps: integer().notNull(),
    suspendedAt: tz(),
    suspendedReason: text(),
    ...timestamps(),
  },
  (t) => [
    index('idx_platforms_org').on(t.organizationId, t.id),
    index('idx_platforms_user_id').on(t.userId),
    index('idx_platforms_type').on(t.type),
    index('idx_platforms_status').on(t.status),
    check('platforms_type_check', oneOf(t.type, platformTypes)),
    check('platforms_status_check', oneOf(t.status, platformStatuses)),
    check('platforms_price_check', sql`${t.pricePerMinute} > 0`),
    check('platforms_unit_check', sql`${t.billingUnitSeconds} between 1 and 3600`),
    check('platforms_commission_check', sql`${t.commissionBps} between 0 and 10000`),
  ],
);

/** A platform's API keys: only a sha256 of the key is kept; `start` tells keys apart. */
export const platformApiKeys = pgTable(
  'platform_api_keys',
  {
    id: id(),
    platformId: uuid()
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    name: varchar({ length: 100 }).notNull(),
    start: varchar({ length: 16 }).notNull(),
    keyHash: varchar({ length: 64 }).notNull(),
    createdBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    lastUsedAt: tz(),
    revokedAt: tz(),
    /** The key that replaced this one when it was rotated. */
    replacedBy: uuid(),
    ...timestamps(),
  },
  (t) => [uniqueIndex('platform_api_keys_hash_unique').on(t.keyHash), index('idx_platform_api_keys_platform').on(t.platformId, t.id)],
);

export const grantStatuses = ['pending', 'active', 'denied', 'revoked', 'expired'] as const;
export type GrantStatus = (typeof grantStatuses)[number];

/**
 * A consent request and, once the user approves it, the grant a partner charges under. The code
 * is what the consent URL carries; the grant id is what the partner starts sessions with.
 * `spent_day`/`spent_today` count the grant's charges of the current UTC day against `daily_cap`.
 */
export const payplayGrants = pgTable(
  'payplay_grants',
  {
    id: id(),
    platformId: uuid()
      .notNull()
      .references(() => platforms.id, { onDelete: 'cascade' }),
    userId: uuid().references(() => users.id, { onDelete: 'cascade' }),
    code: varchar({ length: 32 }).notNull(),
    status: varchar({ length: 20 }).notNull().default('pending').$type<GrantStatus>(),
    currency: varchar({ length: 3 }).notNull(),
    pricePerMinute: money().notNull(),
    dailyCap: money(),
    spentDay: date({ mode: 'string' }),
    spentToday: money().notNull().default(0),
    externalRef: varchar({ length: 255 }),
    expiresAt: tz().notNull(),
    approvedAt: tz(),
    deniedAt: tz(),
    revokedAt: tz(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('payplay_grants_code_unique').on(t.code),
    index('idx_payplay_grants_user').on(t.userId, t.id),
    index('idx_payplay_grants_platform').on(t.platformId, t.id),
    check('payplay_grants_status_check', oneOf(t.status, grantStatuses)),
    check('payplay_grants_price_check', sql`${t.pricePerMinute} > 0`),
    check('payplay_grants_cap_check', sql`${t.dailyCap} is null or ${t.dailyCap} > 0`),
    check('payplay_grants_user_when_approved', sql`${t.status} in ('pending', 'expired', 'denied') or ${t.userId} is not null`),
  ],
);

export const sessionStatuses = ['active', 'completed', 'cancelled'] as const;
export type SessionStatus = (typeof sessionStatuses)[number];
export const endReasons = ['stopped', 'idle', 'insufficient_funds', 'spending_cap', 'grant_revoked', 'platform_inactive'] as const;
export type EndReason = (typeof endReasons)[number];

/**
 * Pay as Play's playback sessions (seed `sessions`; `sessions` are sign-in sessions here).
 * Billing state: `billed_units` units of `billing_unit_seconds` are paid, i.e. play is covered up
 * to `paid_until_at`; `total_cost` is what the ledger moved for it. `due_at` is when the metering
 * engine must look at the session next (an unpaid unit was reached, or it goes idle).
 * The ledger accounts are snapshotted at start, so a tick needs no lookups.
 */
export const playbackSessions = pgTable(
  'playback_sessions',
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    platformId: uuid()
      .notNull()
      .references(() => platforms.id, { onDelete: 'restrict' }),
    grantId: uuid()
      .notNull()
      .references(() => payplayGrants.id, { onDelete: 'restrict' }),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'restrict' }),
    walletId: uuid()
      .notNull()
      .references(() => wallets.id, { onDelete: 'restrict' }),
    walletAccountId: uuid()
      .notNull()
      .references(() => ledgerAccounts.id, { onDelete: 'restrict' }),
    partnerAccountId: uuid()
      .notNull()
      .references(() => ledgerAccounts.id, { onDelete: 'restrict' }),
    revenueAccountId: uuid()
      .notNull()
      .references(() => ledgerAccounts.id, { onDelete: 'restrict' }),
    contentId: varchar({ length: 255 }).notNull(),
    contentTitle: varchar({ length: 255 }),
    currency: varchar({ length: 3 }).notNull(),
    pricePerMinute: money().notNull(),
    billingUnitSeconds: integer().notNull(),
    commissionBps: integer().notNull(),
    status: varchar({ length: 20 }).notNull().default('active').$type<SessionStatus>(),
    endReason: varchar({ length: 30 }).$type<EndReason>(),
    startedAt: tz().notNull(),
    lastHeartbeatAt: tz().notNull(),
    heartbeats: integer().notNull().default(0),
    billedUnits: integer().notNull().default(0),
    paidUntilAt: tz().notNull(),
    dueAt: tz().notNull(),
    totalCost: money().notNull().default(0),
    commissionTotal: money().notNull().default(0),
    charges: integer().notNull().default(0),
    endedAt: tz(),
    durationSeconds: integer(),
    /** Set once the history line, statistics and session_end notification of an ended session are written. */
    finalizedAt: tz(),
    // No updated_at: every tick rewrites the row, and a per-row trigger would cost the engine.
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [
    index('idx_playback_sessions_user').on(t.userId, t.id),
    index('idx_playback_sessions_platform').on(t.platformId, t.id),
    index('idx_playback_sessions_grant').on(t.grantId).where(sql`${t.status} = 'active'`),
    // Every heartbeat and charge moves due_at, so no update is HOT and each index costs an insert
    // per heartbeat and per charge: only the indexes a query uses (not the seed's content_id,
    // started_at and status ones; the partial indexes serve the status queries).
    index('idx_playback_sessions_due').on(t.dueAt).where(sql`${t.status} = 'active'`),
    index('idx_playback_sessions_unfinalized').on(t.id).where(sql`${t.status} <> 'active' and ${t.finalizedAt} is null`),
    check('playback_sessions_status_check', oneOf(t.status, sessionStatuses)),
    check('playback_sessions_end_reason_check', sql`${t.endReason} is null or ${oneOf(t.endReason, endReasons)}`),
    check('playback_sessions_ended_consistent', sql`(${t.status} = 'active') = (${t.endedAt} is null)`),
    check('playback_sessions_duration_check', sql`${t.durationSeconds} is null or ${t.durationSeconds} >= 0`),
    check('playback_sessions_cost_check', sql`${t.totalCost} >= 0 and ${t.commissionTotal} >= 0 and ${t.commissionTotal} <= ${t.totalCost}`),
    check('playback_sessions_price_check', sql`${t.pricePerMinute} > 0`),
  ],
);

/** One row per partner organization, currency and UTC day once its settlement was notified. */
export const payplaySettlements = pgTable(
  'payplay_settlements',
  {
    id: id(),
    organizationId: uuid()
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    currency: varchar({ length: 3 }).notNull(),
    day: date({ mode: 'string' }).notNull(),
    gross: money().notNull(),
    commission: money().notNull(),
    net: money().notNull(),
    sessions: integer().notNull(),
    ...timestamps(),
  },
  (t) => [uniqueIndex('payplay_settlements_org_day').on(t.organizationId, t.currency, t.day)],
);
