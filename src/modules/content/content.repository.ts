import { and, desc, eq, inArray, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { Database, Db, Executor } from '../../db/client.ts';
import { rowsOf } from '../../db/client.ts';
import { newId } from '../../core/ids.ts';
import { mediaItems } from '../media/media.schema.ts';
import {
  content,
  contentAccess,
  contentSeries,
  creatorFeeRates,
  events,
  platformSettings,
  purchases,
  videoPlayback,
  type AccessType,
  type ContentStatus,
  type ContentType,
  type PurchaseStatus,
} from './content.schema.ts';

export type Content = typeof content.$inferSelect;
export type NewContent = typeof content.$inferInsert;
export type Series = typeof contentSeries.$inferSelect;
export type NewSeries = typeof contentSeries.$inferInsert;
export type Purchase = typeof purchases.$inferSelect;
export type NewPurchase = typeof purchases.$inferInsert;
export type ContentAccessRow = typeof contentAccess.$inferSelect;
export type Settings = typeof platformSettings.$inferSelect;
export type NewSettings = typeof platformSettings.$inferInsert;
export type MediaItem = typeof mediaItems.$inferSelect;

// ---------------------------------------------------------------------------------------------
// The access decision's grant sources. Each is one branch of a UNION ALL evaluated against the
// content row `c` for the user in `$user`; the first (lowest rank) that answers is the reason.
// Subscriptions, tiers and credits plug in by adding a branch here: the decision stays one
// statement, one round trip.

export type GrantReason = 'creator' | 'member' | 'free' | AccessType | 'series_purchase';

interface GrantSource {
  reason: GrantReason | 'access_type';
  /** A SELECT of (reason, expires_at, rank) over `c`, with `$user` for the user's id. */
  sql: string;
}

/** Content others may use: published (archived keeps what people bought) and not private. */
const OPEN = `c.status in ('published', 'archived') and c.visibility <> 'private'`;

export const grantSources: GrantSource[] = [
  {
    reason: 'creator',
    sql: `select 'creator'::text as reason, null::timestamptz as expires_at, 0 as rank where c.creator_id = $user`,
  },
  {
    reason: 'member',
    sql: `select 'member', null::timestamptz, 1 from team_members tm where c.organization_id is not null and tm.organization_id = c.organization_id
          and tm.user_id = $user and tm.status = 'active' and tm.role in ('owner', 'admin', 'manager', 'creator')`,
  },
  {
    reason: 'free',
    sql: `select 'free', null::timestamptz, 2 where c.status = 'published' and c.visibility in ('public', 'purchased_only') and c.price_cents is null`,
  },
  {
    reason: 'access_type',
    sql: `select ca.access_type::text, ca.expires_at, 3 from content_access ca where ca.content_id = c.id and ca.user_id = $user
          and ca.revoked_at is null and (ca.expires_at is null or ca.expires_at > now()) and ${OPEN}`,
  },
  {
    reason: 'series_purchase',
    sql: `select 'series_purchase', null::timestamptz, 4 from purchases sp where c.series_id is not null and sp.series_id = c.series_id
          and sp.customer_id = $user and sp.status = 'completed' and ${OPEN}`,
  },
];

/** The lateral subquery answering (reason, expires_at) for content `c` and the user in `userParam`. */
export const grantsLateral = (userParam: string): string =>
  `(select g.reason, g.expires_at from (${grantSources.map((s) => s.sql.replaceAll('$user', `${userParam}::uuid`)).join('\n union all ')}) g order by g.rank limit 1)`;

export const ACCESS_SQL = `select c.id, c.creator_id, c.organization_id, c.content_type, c.status, c.visibility, c.price_cents, c.media_item_id, c.series_id,
  m.status as media_status, m.hls_master_playlist_key, m.duration_seconds, g.reason, g.expires_at,
  (jsonb_array_length(c.prerequisite_content_ids) = 0 or not exists (
    select 1 from jsonb_array_elements_text(c.prerequisite_content_ids) as p(id)
    join content pc on pc.id = p.id::uuid and pc.deleted_at is null and pc.content_type <> 'written'
    where not exists (select 1 from video_playback vp where vp.user_id = $2::uuid and vp.content_id = pc.id and vp.completed))) as prerequisites_met
from content c
left join media_items m on m.id = c.media_item_id and m.deleted_at is null
left join lateral ${grantsLateral('$2')} g on true
where c.id = $1 and c.deleted_at is null`;

/** Who viewed, for the analytics event of a first view of the day. */
export interface ViewMeta {
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  referrer: string | null;
}

export interface AccessRow {
  id: string;
  creator_id: string;
  organization_id: string | null;
  content_type: ContentType;
  status: ContentStatus;
  visibility: string;
  price_cents: number | null;
  media_item_id: string | null;
  series_id: string | null;
  media_status: string | null;
  hls_master_playlist_key: string | null;
  duration_seconds: number | null;
  reason: GrantReason | null;
  expires_at: Date | null;
  /** Every playable prerequisite is completed (video_playback.completed); written ones do not gate. */
  prerequisites_met: boolean;
}

/**
 * The duration is the media's when the media module probed one (the player's is only a report):
 * a client cannot mark content completed, and so pass a prerequisite, by sending a short duration.
 */
export const PROGRESS_SQL = `with a as (
  select c.id, c.content_type, g.reason, coalesce(nullif(m.duration_seconds, 0), $5::int) as duration from content c
  left join media_items m on m.id = c.media_item_id and m.deleted_at is null
  left join lateral ${grantsLateral('$2')} g on true where c.id = $1 and c.deleted_at is null
), up as (
  insert into video_playback (id, user_id, content_id, position_seconds, duration_seconds, completed)
  select $3::uuid, $2::uuid, a.id, least($4::int, a.duration), a.duration, least($4::int, a.duration) * 100 >= a.duration * 95 from a where a.reason is not null and a.content_type <> 'written'
  on conflict (user_id, content_id) do update set position_seconds = excluded.position_seconds, duration_seconds = excluded.duration_seconds,
    completed = excluded.completed, updated_at = now()
  returning position_seconds, duration_seconds, completed, updated_at
)
select a.reason, a.content_type, up.position_seconds, up.duration_seconds, up.completed, up.updated_at from a left join up on true`;

export interface ProgressRow {
  reason: GrantReason | null;
  content_type: ContentType;
  position_seconds: number | null;
  duration_seconds: number | null;
  completed: boolean | null;
  updated_at: Date | null;
}

/**
 * Playback authorize in one round trip: the access decision, and when it grants access the day's
 * view (one per viewer per content per day) counted on the content and stamped on the grant. The
 * creator's and the organization's own plays (checking a transcode, previewing) are not views.
 */
export const AUTHORIZE_SQL = `with d as (${ACCESS_SQL}),
v as (insert into content_views (content_id, user_id, day) select d.id, $2::uuid, current_date from d where d.reason is not null and d.reason not in ('creator', 'member')
      on conflict do nothing returning content_id),
n as (update content set view_count = view_count + 1 where id in (select content_id from v) returning id),
l as (update content_access set last_accessed_at = now() where content_id in (select content_id from v) and user_id = $2::uuid returning id),
e as (insert into events (id, user_id, session_id, event_type, event_data, ip_address, user_agent, referrer)
      select $3::uuid, $2::uuid, $4, 'content_view', jsonb_build_object('contentId', v.content_id), $5, $6, $7 from v returning id)
select d.* from d`;

// The media join only answers the generated thumbnail: a live, ready item's.
const CONTINUE_SQL = `select vp.content_id, vp.position_seconds, vp.duration_seconds, vp.updated_at, c.title, c.slug, c.content_type, c.thumbnail_url, c.media_item_id, m.thumbnail_key, g.reason
from video_playback vp
join content c on c.id = vp.content_id and c.deleted_at is null
left join media_items m on m.id = c.media_item_id and m.deleted_at is null and m.status = 'ready'
cross join lateral ${grantsLateral('$1')} g
where vp.user_id = $1 and not vp.completed and ($3::timestamptz is null or vp.updated_at < $3::timestamptz)
order by vp.updated_at desc limit $2`;

export interface ContinueRow {
  content_id: string;
  position_seconds: number;
  duration_seconds: number;
  updated_at: Date;
  title: string;
  slug: string;
  content_type: ContentType;
  thumbnail_url: string | null;
  media_item_id: string | null;
  thumbnail_key: string | null;
  reason: GrantReason;
}

/**
 * Who may fetch a content's thumbnail, and where it is, in one statement: `listed` (published and
 * not private) is a catalog preview anyone may see; otherwise a grant (creator, organization
 * member, a buyer of archived content) must answer.
 */
export const THUMBNAIL_SQL = `select c.id, c.thumbnail_url, c.media_item_id, m.status as media_status, m.thumbnail_key, m.transcoded_at,
  (c.status = 'published' and c.visibility <> 'private') as listed, g.reason
from content c
left join media_items m on m.id = c.media_item_id and m.deleted_at is null
left join lateral ${grantsLateral('$2')} g on true
where c.id = $1 and c.deleted_at is null`;

export interface ThumbnailRow {
  id: string;
  thumbnail_url: string | null;
  media_item_id: string | null;
  media_status: string | null;
  thumbnail_key: string | null;
  transcoded_at: Date | null;
  listed: boolean;
  reason: GrantReason | null;
}

export interface CatalogFilter {
  q?: string | undefined;
  category?: string | undefined;
  tag?: string | undefined;
  type?: ContentType | undefined;
  seriesId?: string | undefined;
  organizationId?: string | undefined;
  creatorId?: string | undefined;
  before?: string | undefined;
  limit: number;
}

export interface SalesFilter {
  creatorId?: string | undefined;
  organizationId?: string | undefined;
  before?: string | undefined;
  limit: number;
  status?: PurchaseStatus | undefined;
}

export function createContentRepository(database: Database) {
  const db: Db = database.db;
  /** Hot paths: named prepared statements on the server (see Database.named). */
  const named = database.named;

  const scopeSlug = (
    t: typeof content | typeof contentSeries,
    organizationId: string | null,
    creatorId: string,
  ): SQL =>
    organizationId
      ? and(eq(t.organizationId, organizationId), isNull(t.deletedAt))!
      : and(isNull(t.organizationId), eq(t.creatorId, creatorId), isNull(t.deletedAt))!;

  return {
    // --- hot paths -------------------------------------------------------------------------
    async access(contentId: string, userId: string | null): Promise<AccessRow | undefined> {
      return (await named<AccessRow>('content_access_decision', ACCESS_SQL, [contentId, userId]))[0];
    },
    async saveProgress(input: {
      id: string;
      contentId: string;
      userId: string;
      position: number;
      duration: number;
    }): Promise<ProgressRow | undefined> {
      return (
        await named<ProgressRow>('content_save_progress', PROGRESS_SQL, [
          input.contentId,
          input.userId,
          input.id,
          input.position,
          input.duration,
        ])
      )[0];
    },
    async authorize(contentId: string, userId: string, view: ViewMeta): Promise<AccessRow | undefined> {
      return (await named<AccessRow>('content_authorize', AUTHORIZE_SQL, [contentId, userId, newId(), view.sessionId, view.ip, view.userAgent, view.referrer]))[0];
    },
    async recordEvent(e: typeof events.$inferInsert, tx: Executor = db): Promise<void> {
      await tx.insert(events).values(e);
    },
    async continueWatching(userId: string, limit: number, before?: Date): Promise<ContinueRow[]> {
      return named<ContinueRow>('content_continue_watching', CONTINUE_SQL, [userId, limit, before ?? null]);
    },
    async thumbnail(contentId: string, userId: string | null): Promise<ThumbnailRow | undefined> {
      return (await named<ThumbnailRow>('content_thumbnail', THUMBNAIL_SQL, [contentId, userId]))[0];
    },
    /** Of these media items, the ids of the live, ready ones with a generated thumbnail. */
    async mediaWithThumbnails(mediaIds: string[]): Promise<Set<string>> {
      if (!mediaIds.length) return new Set();
      const rows = await db
        .select({ id: mediaItems.id })
        .from(mediaItems)
        .where(
          and(
            inArray(mediaItems.id, mediaIds),
            isNull(mediaItems.deletedAt),
            eq(mediaItems.status, 'ready'),
            isNotNull(mediaItems.thumbnailKey),
          ),
        );
      return new Set(rows.map((r) => r.id));
    },
    async progress(userId: string, contentId: string) {
      const [row] = await db
        .select()
        .from(videoPlayback)
        .where(and(eq(videoPlayback.userId, userId), eq(videoPlayback.contentId, contentId)));
      return row;
    },

    async userIdByEmail(email: string): Promise<string | undefined> {
      const r = rowsOf<{ id: string }>(
        await db.execute(
          sql`select id from users where email = ${email.toLowerCase()} and deleted_at is null`,
        ),
      );
      return r[0]?.id;
    },

    // --- media -------------------------------------------------------------------------------
    async media(id: string, tx: Executor = db): Promise<MediaItem | undefined> {
      const [m] = await tx
        .select()
        .from(mediaItems)
        .where(and(eq(mediaItems.id, id), isNull(mediaItems.deletedAt)));
      return m;
    },

    /** Live contents (any status) that play a media item. */
    async contentsUsingMedia(mediaItemId: string): Promise<number> {
      const [r] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(content)
        .where(and(eq(content.mediaItemId, mediaItemId), isNull(content.deletedAt)));
      return r?.n ?? 0;
    },

    // --- content -----------------------------------------------------------------------------
    async insertContent(row: NewContent, tx: Executor = db): Promise<Content> {
      const [c] = await tx.insert(content).values(row).returning();
      return c!;
    },
    async getContent(id: string, tx: Executor = db): Promise<Content | undefined> {
      const [c] = await tx
        .select()
        .from(content)
        .where(and(eq(content.id, id), isNull(content.deletedAt)));
      return c;
    },
    async lockContent(id: string, tx: Executor): Promise<Content | undefined> {
      const [c] = await tx
        .select()
        .from(content)
        .where(and(eq(content.id, id), isNull(content.deletedAt)))
        .for('update');
      return c;
    },
    async updateContent(
      id: string,
      patch: Partial<NewContent>,
      tx: Executor = db,
    ): Promise<Content | undefined> {
      const [c] = await tx.update(content).set(patch).where(eq(content.id, id)).returning();
      return c;
    },
    async slugsLike(
      kind: 'content' | 'series',
      base: string,
      organizationId: string | null,
      creatorId: string,
      tx: Executor = db,
    ): Promise<string[]> {
      const t = kind === 'content' ? content : contentSeries;
      const rows = await tx
        .select({ slug: t.slug })
        .from(t)
        .where(
          and(
            scopeSlug(t, organizationId, creatorId),
            sql`(${t.slug} = ${base} or ${t.slug} like ${`${base}-%`})`,
          ),
        );
      return rows.map((r) => r.slug);
    },
    async listManaged(
      scope: { organizationId: string } | { creatorId: string },
      f: { before?: string | undefined; limit: number; status?: ContentStatus | undefined },
    ): Promise<Content[]> {
      const where = [isNull(content.deletedAt)];
      if ('organizationId' in scope) where.push(eq(content.organizationId, scope.organizationId));
      else where.push(eq(content.creatorId, scope.creatorId), isNull(content.organizationId));
      if (f.status) where.push(eq(content.status, f.status));
      if (f.before) where.push(lt(content.id, f.before));
      return db
        .select()
        .from(content)
        .where(and(...where))
        .orderBy(desc(content.id))
        .limit(f.limit + 1);
    },
    async catalog(f: CatalogFilter): Promise<Content[]> {
      const where: SQL[] = [
        eq(content.status, 'published'),
        sql`${content.visibility} <> 'private'`,
        isNull(content.deletedAt),
      ];
      if (f.q) where.push(sql`${content.search} @@ websearch_to_tsquery('english', ${f.q})`);
      if (f.category) where.push(eq(content.category, f.category));
      if (f.tag) where.push(sql`${content.tags} @> ${JSON.stringify([f.tag])}::jsonb`);
      if (f.type) where.push(eq(content.contentType, f.type));
      if (f.seriesId) where.push(eq(content.seriesId, f.seriesId));
      if (f.organizationId) where.push(eq(content.organizationId, f.organizationId));
      if (f.creatorId) where.push(eq(content.creatorId, f.creatorId));
      if (f.before) where.push(lt(content.id, f.before));
      return db
        .select()
        .from(content)
        .where(and(...where))
        .orderBy(desc(content.id))
        .limit(f.limit + 1);
    },
    async contentsIn(ids: string[], tx: Executor = db): Promise<Content[]> {
      if (!ids.length) return [];
      return tx
        .select()
        .from(content)
        .where(and(inArray(content.id, ids), isNull(content.deletedAt)));
    },
    async setSeriesOf(seriesId: string, ids: string[], tx: Executor): Promise<void> {
      await tx.update(content).set({ seriesId: null }).where(eq(content.seriesId, seriesId));
      if (ids.length) await tx.update(content).set({ seriesId }).where(inArray(content.id, ids));
    },
    async bumpPurchaseCount(contentId: string, by: number, tx: Executor): Promise<void> {
      await tx
        .update(content)
        .set({ purchaseCount: sql`greatest(${content.purchaseCount} + ${by}, 0)` })
        .where(eq(content.id, contentId));
    },

    // --- series ------------------------------------------------------------------------------
    async insertSeries(row: NewSeries, tx: Executor = db): Promise<Series> {
      const [s] = await tx.insert(contentSeries).values(row).returning();
      return s!;
    },
    async getSeries(id: string, tx: Executor = db): Promise<Series | undefined> {
      const [s] = await tx
        .select()
        .from(contentSeries)
        .where(and(eq(contentSeries.id, id), isNull(contentSeries.deletedAt)));
      return s;
    },
    async updateSeries(
      id: string,
      patch: Partial<NewSeries>,
      tx: Executor = db,
    ): Promise<Series | undefined> {
      const [s] = await tx.update(contentSeries).set(patch).where(eq(contentSeries.id, id)).returning();
      return s;
    },

    // --- grants ------------------------------------------------------------------------------
    async grant(
      row: {
        userId: string;
        contentId: string;
        organizationId: string | null;
        accessType: AccessType;
        purchaseId?: string | null;
        grantedBy?: string | null;
        expiresAt?: Date | null;
      },
      tx: Executor = db,
    ): Promise<ContentAccessRow> {
      const values = { purchaseId: null, grantedBy: null, expiresAt: null, ...row };
      const [g] = await tx
        .insert(contentAccess)
        .values(values)
        .onConflictDoUpdate({
          target: [contentAccess.userId, contentAccess.contentId],
          set: {
            accessType: values.accessType,
            purchaseId: values.purchaseId,
            grantedBy: values.grantedBy,
            expiresAt: values.expiresAt,
            grantedAt: sql`now()`,
            revokedAt: null,
          },
        })
        .returning();
      return g!;
    },
    async revokeGrant(contentId: string, userId: string, tx: Executor = db): Promise<boolean> {
      const rows = await tx
        .update(contentAccess)
        .set({ revokedAt: sql`now()` })
        .where(
          and(
            eq(contentAccess.contentId, contentId),
            eq(contentAccess.userId, userId),
            isNull(contentAccess.revokedAt),
          ),
        )
        .returning({ id: contentAccess.id });
      return rows.length > 0;
    },
    async revokeGrantsOfPurchase(purchaseId: string, tx: Executor): Promise<void> {
      await tx
        .update(contentAccess)
        .set({ revokedAt: sql`now()` })
        .where(and(eq(contentAccess.purchaseId, purchaseId), isNull(contentAccess.revokedAt)));
    },
    async grantsOf(contentId: string): Promise<ContentAccessRow[]> {
      return db
        .select()
        .from(contentAccess)
        .where(eq(contentAccess.contentId, contentId))
        .orderBy(desc(contentAccess.id));
    },

    // --- purchases ---------------------------------------------------------------------------
    async insertPurchase(row: NewPurchase, tx: Executor = db): Promise<Purchase> {
      const [p] = await tx.insert(purchases).values(row).returning();
      return p!;
    },
    async getPurchase(id: string, tx: Executor = db): Promise<Purchase | undefined> {
      const [p] = await tx.select().from(purchases).where(eq(purchases.id, id));
      return p;
    },
    async lockPurchase(id: string, tx: Executor): Promise<Purchase | undefined> {
      const [p] = await tx.select().from(purchases).where(eq(purchases.id, id)).for('update');
      return p;
    },
    async livePurchase(
      customerId: string,
      item: { contentId: string } | { seriesId: string },
    ): Promise<Purchase | undefined> {
      const [p] = await db
        .select()
        .from(purchases)
        .where(
          and(
            eq(purchases.customerId, customerId),
            'contentId' in item
              ? eq(purchases.contentId, item.contentId)
              : eq(purchases.seriesId, item.seriesId),
            inArray(purchases.status, ['pending', 'completed']),
          ),
        );
      return p;
    },
    async updatePurchase(
      id: string,
      patch: Partial<NewPurchase>,
      tx: Executor = db,
      onlyFrom?: PurchaseStatus[],
    ): Promise<Purchase | undefined> {
      const [p] = await tx
        .update(purchases)
        .set(patch)
        .where(and(eq(purchases.id, id), onlyFrom ? inArray(purchases.status, onlyFrom) : undefined))
        .returning();
      return p;
    },
    async expirePending(now: Date): Promise<Purchase[]> {
      return db
        .update(purchases)
        .set({ status: 'expired' })
        .where(and(eq(purchases.status, 'pending'), lt(purchases.expiresAt, now)))
        .returning();
    },
    async listPurchasesOfCustomer(
      customerId: string,
      f: { before?: string | undefined; limit: number },
    ): Promise<Purchase[]> {
      return db
        .select()
        .from(purchases)
        .where(and(eq(purchases.customerId, customerId), f.before ? lt(purchases.id, f.before) : undefined))
        .orderBy(desc(purchases.id))
        .limit(f.limit + 1);
    },
    salesWhere(f: Omit<SalesFilter, 'limit' | 'before'>): SQL {
      return and(
        f.organizationId
          ? eq(purchases.organizationId, f.organizationId)
          : and(eq(purchases.creatorId, f.creatorId!), isNull(purchases.organizationId)),
        f.status ? eq(purchases.status, f.status) : inArray(purchases.status, ['completed', 'refunded']),
      )!;
    },
    async sales(f: SalesFilter): Promise<Purchase[]> {
      return db
        .select()
        .from(purchases)
        .where(and(this.salesWhere(f), f.before ? lt(purchases.id, f.before) : undefined))
        .orderBy(desc(purchases.id))
        .limit(f.limit + 1);
    },
    async salesTotals(f: Omit<SalesFilter, 'limit' | 'before'>) {
      return db
        .select({
          currency: purchases.currency,
          count: sql<number>`count(*) filter (where ${purchases.status} = 'completed')::int`,
          refunds: sql<number>`count(*) filter (where ${purchases.status} = 'refunded')::int`,
          grossCents: sql<number>`coalesce(sum(${purchases.amountPaidCents}) filter (where ${purchases.status} = 'completed'), 0)::bigint`.mapWith(Number),
          platformFeeCents: sql<number>`coalesce(sum(${purchases.platformFeeCents}) filter (where ${purchases.status} = 'completed'), 0)::bigint`.mapWith(Number),
          payoutCents: sql<number>`coalesce(sum(${purchases.creatorPayoutCents}) filter (where ${purchases.status} = 'completed'), 0)::bigint`.mapWith(Number),
          refundedCents: sql<number>`coalesce(sum(${purchases.amountPaidCents}) filter (where ${purchases.status} = 'refunded'), 0)::bigint`.mapWith(Number),
        })
        .from(purchases)
        .where(this.salesWhere(f))
        .groupBy(purchases.currency);
    },

    /** The three fee rates of a sale in one query: the creator's, the organization's, the platform's. */
    async feeRates(
      creatorId: string,
      organizationId: string | null,
    ): Promise<{ creator: number | null; organization: number | null; platform: number | null }> {
      const r = rowsOf<{ creator: number | null; organization: number | null; platform: number | null }>(
        await db.execute(sql`select
          (select ${creatorFeeRates.platformFeeBps} from ${creatorFeeRates} where ${creatorFeeRates.userId} = ${creatorId}) as creator,
          (select ${platformSettings.platformFeeBps} from ${platformSettings} where ${platformSettings.organizationId} = ${organizationId}) as organization,
          (select ${platformSettings.platformFeeBps} from ${platformSettings} where ${platformSettings.organizationId} is null) as platform`),
      );
      return r[0]!;
    },
    async setCreatorFee(userId: string, bps: number | null, setBy: string): Promise<void> {
      if (bps === null) {
        await db.delete(creatorFeeRates).where(eq(creatorFeeRates.userId, userId));
        return;
      }
      await db
        .insert(creatorFeeRates)
        .values({ userId, platformFeeBps: bps, setBy })
        .onConflictDoUpdate({ target: creatorFeeRates.userId, set: { platformFeeBps: bps, setBy } });
    },

    // --- settings ----------------------------------------------------------------------------
    async settings(organizationId: string | null): Promise<Settings | undefined> {
      const [s] = await db
        .select()
        .from(platformSettings)
        .where(
          organizationId
            ? eq(platformSettings.organizationId, organizationId)
            : isNull(platformSettings.organizationId),
        );
      return s;
    },
    async saveSettings(organizationId: string | null, patch: Partial<NewSettings>): Promise<Settings> {
      return db.transaction(async (tx) => {
        const where = organizationId
          ? eq(platformSettings.organizationId, organizationId)
          : isNull(platformSettings.organizationId);
        const [existing] = await tx
          .select({ id: platformSettings.id })
          .from(platformSettings)
          .where(where)
          .for('update');
        if (existing) {
          const [s] = await tx
            .update(platformSettings)
            .set(patch)
            .where(eq(platformSettings.id, existing.id))
            .returning();
          return s!;
        }
        const [s] = await tx
          .insert(platformSettings)
          .values({ ...patch, organizationId })
          .onConflictDoNothing()
          .returning();
        if (s) return s;
        const [again] = await tx.update(platformSettings).set(patch).where(where).returning();
        return again!;
      });
    },
  };
}
export type ContentRepository = ReturnType<typeof createContentRepository>;
