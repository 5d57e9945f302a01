import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { mediaItems } from '../media/media.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { payments } from '../payments/payments.schema.ts';

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const contentTypes = ['video', 'audio', 'written'] as const;
export type ContentType = (typeof contentTypes)[number];
export const visibilities = ['public', 'private', 'members_only', 'purchased_only'] as const;
export type Visibility = (typeof visibilities)[number];
export const contentStatuses = ['draft', 'published', 'archived'] as const;
export type ContentStatus = (typeof contentStatuses)[number];

/**
 * Groups content into an ordered series (a course); it can be sold as a bundle, and buying it
 * opens every item in it. `content_order` is the order; each item's `content.series_id` points back.
 */
export const contentSeries = pgTable(
  'content_series',
  {
    id: id(),
    creatorId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'restrict' }),
    title: varchar({ length: 500 }).notNull(),
    slug: varchar({ length: 500 }).notNull(),
    description: text(),
    thumbnailUrl: text(),
    /** The bundle price in minor units; null means the series is not sold as a bundle. */
    priceCents: integer(),
    currency: varchar({ length: 3 }).notNull().default('USD'),
    contentOrder: jsonb().$type<string[]>().notNull().default([]),
    status: varchar({ length: 20 }).notNull().default('draft').$type<ContentStatus>(),
    publishedAt: tz(),
    ...timestamps(),
    deletedAt: tz(),
  },
  (t) => [
    index('idx_series_creator_id').on(t.creatorId),
    uniqueIndex('content_series_org_slug_unique')
      .on(t.organizationId, t.slug)
      .where(sql`${t.organizationId} is not null and ${t.deletedAt} is null`),
    uniqueIndex('content_series_personal_slug_unique')
      .on(t.creatorId, t.slug)
      .where(sql`${t.organizationId} is null and ${t.deletedAt} is null`),
    check('content_series_status_check', oneOf(t.status, contentStatuses)),
    check('content_series_price_positive', sql`${t.priceCents} is null or ${t.priceCents} > 0`),
    check('content_series_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
);

/**
 * A content post: video or audio referencing a creator's media item (one item serves many
 * posts), or written content with a body and no media. Personal when `organization_id` is null.
 */
export const content = pgTable(
  'content',
  {
    id: id(),
    creatorId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'restrict' }),
    mediaItemId: uuid().references(() => mediaItems.id, { onDelete: 'restrict' }),
    title: varchar({ length: 500 }).notNull(),
    slug: varchar({ length: 500 }).notNull(),
    description: text(),
    contentType: varchar({ length: 20 }).notNull().$type<ContentType>(),
    thumbnailUrl: text(),
    contentBody: text(),
    category: varchar({ length: 100 }),
    tags: jsonb().$type<string[]>().notNull().default([]),
    seriesId: uuid().references(() => contentSeries.id, { onDelete: 'set null' }),
    visibility: varchar({ length: 20 }).notNull().default('purchased_only').$type<Visibility>(),
    /** Minor units of `currency`; null = free. */
    priceCents: integer(),
    currency: varchar({ length: 3 }).notNull().default('USD'),
    status: varchar({ length: 20 }).notNull().default('draft').$type<ContentStatus>(),
    publishedAt: tz(),
    viewCount: integer().notNull().default(0),
    purchaseCount: integer().notNull().default(0),
    prerequisiteContentIds: jsonb().$type<string[]>().notNull().default([]),
    /** Title (weight A) and description (B) for the catalog's full-text search. */
    search: tsvector().generatedAlwaysAs(
      sql`setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')`,
    ),
    ...timestamps(),
    deletedAt: tz(),
  },
  (t) => [
    index('idx_content_creator_id').on(t.creatorId),
    index('idx_content_organization_id')
      .on(t.organizationId)
      .where(sql`${t.organizationId} is not null`),
    index('idx_content_media_item_id').on(t.mediaItemId),
    index('idx_content_status').on(t.status),
    index('idx_content_published_at').on(t.publishedAt),
    index('idx_content_category').on(t.category),
    index('idx_content_series_id').on(t.seriesId),
    index('idx_content_catalog')
      .on(t.id)
      .where(sql`${t.status} = 'published' and ${t.visibility} <> 'private' and ${t.deletedAt} is null`),
    index('idx_content_search').using('gin', t.search),
    index('idx_content_tags').using('gin', t.tags),
    // The seed's UNIQUE (slug, organization_id) lets personal slugs collide (NULLs are distinct):
    // personal content is unique per creator instead.
    uniqueIndex('content_org_slug_unique')
      .on(t.organizationId, t.slug)
      .where(sql`${t.organizationId} is not null and ${t.deletedAt} is null`),
    uniqueIndex('content_personal_slug_unique')
      .on(t.creatorId, t.slug)
      .where(sql`${t.organizationId} is null and ${t.deletedAt} is null`),
    check('content_type_check', oneOf(t.contentType, contentTypes)),
    check('content_visibility_check', oneOf(t.visibility, visibilities)),
    check('content_status_check', oneOf(t.status, contentStatuses)),
    check('content_price_positive', sql`${t.priceCents} is null or ${t.priceCents} > 0`),
    check('content_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('content_media_matches_type', sql`(${t.contentType} = 'written') = (${t.mediaItemId} is null)`),
    check('content_counts_non_negative', sql`${t.viewCount} >= 0 and ${t.purchaseCount} >= 0`),
    check('content_published_has_date', sql`${t.status} <> 'published' or ${t.publishedAt} is not null`),
  ],
);

/** One view per viewer per content per day: what keeps `content.view_count` from counting reloads. */
export const contentViews = pgTable(
  'content_views',
  {
    contentId: uuid()
      .notNull()
      .references(() => content.id, { onDelete: 'cascade' }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    day: date({ mode: 'string' }).notNull(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.contentId, t.userId, t.day] })],
);

export const purchaseStatuses = ['pending', 'completed', 'refunded', 'failed', 'expired'] as const;
export type PurchaseStatus = (typeof purchaseStatuses)[number];

/**
 * One-time purchases of a content or a series (the seed's purchases, integer cents, scoped by
 * organization as in PR 44). The fee split is a snapshot: the rate, its source and both parts.
 */
export const purchases = pgTable(
  'purchases',
  {
    id: id(),
    customerId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    contentId: uuid().references(() => content.id, { onDelete: 'restrict' }),
    seriesId: uuid().references(() => contentSeries.id, { onDelete: 'restrict' }),
    /** The seller: the content's creator, paid into the organization's wallet when there is one. */
    creatorId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'restrict' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'restrict' }),
    paymentId: uuid().references(() => payments.id, { onDelete: 'restrict' }),
    amountPaidCents: integer().notNull(),
    currency: varchar({ length: 3 }).notNull(),
    /** The provider's intent id (Stripe's pi_…, or the sandbox's); set once the intent exists. */
    stripePaymentIntentId: varchar({ length: 255 }).unique(),
    platformFeeCents: integer().notNull().default(0),
    creatorPayoutCents: integer().notNull(),
    platformFeeBps: integer().notNull(),
    platformFeeSource: varchar({ length: 20 }).notNull(),
    status: varchar({ length: 20 }).notNull().default('pending').$type<PurchaseStatus>(),
    purchasedAt: tz(),
    refundedAt: tz(),
    refundReason: text(),
    /** An unpaid checkout expires at this time (24 h), freeing the customer to start another. */
    expiresAt: tz().notNull(),
    ...timestamps(),
  },
  (t) => [
    index('idx_purchases_customer_id').on(t.customerId, t.id),
    index('idx_purchases_content_id').on(t.contentId),
    index('idx_purchases_series_id').on(t.seriesId),
    index('idx_purchases_creator_id').on(t.creatorId, t.id),
    index('idx_purchases_organization_id').on(t.organizationId, t.id),
    index('idx_purchases_status').on(t.status),
    index('idx_purchases_created_at').on(t.createdAt),
    index('idx_purchases_pending_expiry')
      .on(t.expiresAt)
      .where(sql`${t.status} = 'pending'`),
    index('idx_purchases_payment').on(t.paymentId),
    // The seed's UNIQUE (customer_id, content_id, status), as meant: one live purchase per customer
    // and item, so ten parallel checkouts make one purchase and one charge.
    uniqueIndex('purchases_one_live_per_content')
      .on(t.customerId, t.contentId)
      .where(sql`${t.contentId} is not null and ${t.status} in ('pending', 'completed')`),
    uniqueIndex('purchases_one_live_per_series')
      .on(t.customerId, t.seriesId)
      .where(sql`${t.seriesId} is not null and ${t.status} in ('pending', 'completed')`),
    check('check_purchase_status', oneOf(t.status, purchaseStatuses)),
    check('check_amount_positive', sql`${t.amountPaidCents} >= 0`),
    check('purchases_one_item', sql`(${t.contentId} is null) <> (${t.seriesId} is null)`),
    check(
      'purchases_split_sums',
      sql`${t.platformFeeCents} >= 0 and ${t.creatorPayoutCents} >= 0 and ${t.platformFeeCents} + ${t.creatorPayoutCents} = ${t.amountPaidCents}`,
    ),
    check('purchases_fee_source_check', oneOf(t.platformFeeSource, ['creator', 'organization', 'platform'])),
    check('purchases_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
);

export const accessTypes = ['purchased', 'subscription', 'complimentary', 'preview'] as const;
export type AccessType = (typeof accessTypes)[number];

/** Grants of access to a content (the seed's content_access): purchases, gifts, previews, later subscriptions. */
export const contentAccess = pgTable(
  'content_access',
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    contentId: uuid()
      .notNull()
      .references(() => content.id, { onDelete: 'cascade' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'cascade' }),
    accessType: varchar({ length: 20 }).notNull().$type<AccessType>(),
    purchaseId: uuid().references(() => purchases.id, { onDelete: 'set null' }),
    grantedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    grantedAt: tz().notNull().defaultNow(),
    /** null = permanent. */
    expiresAt: tz(),
    /** Set when a refund or the creator takes the access back; the row stays for history. */
    revokedAt: tz(),
    lastAccessedAt: tz(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('content_access_user_content_unique').on(t.userId, t.contentId),
    index('idx_content_access_content_id').on(t.contentId),
    index('idx_content_access_organization_id').on(t.organizationId),
    index('idx_content_access_expires_at').on(t.expiresAt),
    check('check_access_type', oneOf(t.accessType, accessTypes)),
  ],
);

/** Where each viewer stopped (the seed's video_playback; audio too). */
export const videoPlayback = pgTable(
  'video_playback',
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    contentId: uuid()
      .notNull()
      .references(() => content.id, { onDelete: 'cascade' }),
    positionSeconds: integer().notNull().default(0),
    durationSeconds: integer().notNull(),
    completed: boolean().notNull().default(false),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('video_playback_user_content_unique').on(t.userId, t.contentId),
    index('idx_video_playback_user_recent').on(t.userId, t.updatedAt),
    index('idx_video_playback_content_id').on(t.contentId),
    check(
      'video_playback_position_valid',
      sql`${t.positionSeconds} >= 0 and ${t.durationSeconds} > 0 and ${t.positionSeconds} <= ${t.durationSeconds}`,
    ),
  ],
);

/**
 * Branding and homepage settings (the seed's single-row platform_settings): one row for the
 * platform (organization_id null, set by the operator) and one per organization (its admins).
 */
export const platformSettings = pgTable(
  'platform_settings',
  {
    id: id(),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'cascade' }),
    platformName: varchar({ length: 255 }).notNull().default('My Platform'),
    logoUrl: text(),
    primaryColor: varchar({ length: 7 }).notNull().default('#3b82f6'),
    heroTitle: varchar({ length: 500 }),
    heroSubtitle: text(),
    heroBackgroundUrl: text(),
    heroCtaText: varchar({ length: 100 }),
    heroCtaLink: varchar({ length: 500 }),
    featuredContentIds: jsonb().$type<string[]>().notNull().default([]),
    contactEmail: varchar({ length: 255 }),
    socialLinks: jsonb().$type<Record<string, string>>().notNull().default({}),
    aboutContent: text(),
    stripeAccountId: varchar({ length: 255 }),
    emailFromName: varchar({ length: 255 }),
    timezone: varchar({ length: 50 }).notNull().default('UTC'),
    /** The platform fee on this organization's sales (operator only); null = the platform default. */
    platformFeeBps: integer(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('platform_settings_org_unique').on(t.organizationId),
    // Only one platform-wide row.
    uniqueIndex('platform_settings_platform_singleton')
      .on(sql`(true)`)
      .where(sql`${t.organizationId} is null`),
    check('platform_settings_color_format', sql`${t.primaryColor} ~ '^#[0-9A-Fa-f]{6}$'`),
    check(
      'platform_settings_fee_bps_range',
      sql`${t.platformFeeBps} is null or (${t.platformFeeBps} >= 0 and ${t.platformFeeBps} <= 10000)`,
    ),
  ],
);

/** A creator's own platform fee, set by the operator; it wins over the organization's and the default. */
export const creatorFeeRates = pgTable(
  'creator_fee_rates',
  {
    userId: uuid()
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    platformFeeBps: integer().notNull(),
    setBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    ...timestamps(),
  },
  (t) => [check('creator_fee_rates_range', sql`${t.platformFeeBps} >= 0 and ${t.platformFeeBps} <= 10000`)],
);

/**
 * The analytics event log (the creator platform's events): what people did, for reports. Content
 * writes `content_view` (the first view of a day), `purchase_start`, `purchase_completed` and
 * `purchase_refunded`; other modules may add their own types.
 */
export const events = pgTable(
  'events',
  {
    id: id(),
    userId: uuid().references(() => users.id, { onDelete: 'set null' }),
    /** The sign-in session the event happened in, when there was one. */
    sessionId: varchar({ length: 255 }),
    eventType: varchar({ length: 100 }).notNull(),
    eventData: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    ipAddress: varchar({ length: 45 }),
    userAgent: text(),
    referrer: text(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [index('idx_events_user_id').on(t.userId), index('idx_events_type').on(t.eventType, t.createdAt), index('idx_events_created_at').on(t.createdAt)],
);
