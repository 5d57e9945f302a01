import { and, desc, eq, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Db, type Executor } from '../../db/client.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { payplayGrants, payplaySettlements, platformApiKeys, platforms, playbackSessions, type EndReason, type GrantStatus } from './payplay.schema.ts';

export type Platform = typeof platforms.$inferSelect;
export type PlatformKey = typeof platformApiKeys.$inferSelect;
export type Grant = typeof payplayGrants.$inferSelect;
export type PlaybackSession = typeof playbackSessions.$inferSelect;

const iso = (ms: number) => new Date(ms).toISOString();
const arr = (v: unknown[]) => sql.param(v);

/** A session as the metering engine reads it (claimed under a row lock). */
export interface MeterRow {
  id: string;
  userId: string;
  walletId: string;
  walletAccountId: string;
  partnerAccountId: string;
  revenueAccountId: string;
  currency: string;
  pricePerMinute: number;
  billingUnitSeconds: number;
  commissionBps: number;
  billedUnits: number;
  totalCost: number;
  commissionTotal: number;
  startedMs: number;
  lastHeartbeatMs: number;
  grantId: string;
  grantStatus: GrantStatus;
  dailyCap: number | null;
  platformStatus: string;
  lowBalanceThreshold: number;
  autoTopUpThreshold: number | null;
}

/** One charge of the engine: a transfer of three legs (zero legs are left out). */
export interface ChargeRow {
  transferId: string;
  key: string;
  sessionId: string;
  currency: string;
  amount: number;
  partner: number;
  commission: number;
  walletAccountId: string;
  partnerAccountId: string;
  revenueAccountId: string;
  entryIds: [string, string, string];
}

/** The new billing state of one session. */
export interface SessionUpdate {
  id: string;
  units: number;
  totalCost: number;
  commissionTotal: number;
  paidUntilMs: number;
  dueMs: number;
  charged: 0 | 1;
  status: 'active' | 'completed' | 'cancelled';
  endReason: EndReason | null;
  endedMs: number | null;
  durationSeconds: number | null;
}

const meterColumns = sql`
  s.id, s.user_id, s.wallet_id, s.wallet_account_id, s.partner_account_id, s.revenue_account_id, s.currency,
  s.price_per_minute, s.billing_unit_seconds, s.commission_bps, s.billed_units, s.total_cost, s.commission_total,
  (extract(epoch from s.started_at) * 1000)::float8 as started_ms, (extract(epoch from s.last_heartbeat_at) * 1000)::float8 as hb_ms,
  s.grant_id, g.status as grant_status, g.daily_cap, p.status as platform_status,
  coalesce(ns.low_balance_threshold, 1000) as low_threshold, a.threshold as auto_threshold`;
const meterJoins = sql`
  join payplay_grants g on g.id = s.grant_id
  join platforms p on p.id = s.platform_id
  left join notification_settings ns on ns.user_id = s.user_id
  left join auto_top_up_settings a on a.wallet_id = s.wallet_id and a.enabled`;

type RawMeterRow = Record<string, string | number | null>;
const toMeterRow = (r: RawMeterRow): MeterRow => ({
  id: r.id as string,
  userId: r.user_id as string,
  walletId: r.wallet_id as string,
  walletAccountId: r.wallet_account_id as string,
  partnerAccountId: r.partner_account_id as string,
  revenueAccountId: r.revenue_account_id as string,
  currency: r.currency as string,
  pricePerMinute: Number(r.price_per_minute),
  billingUnitSeconds: Number(r.billing_unit_seconds),
  commissionBps: Number(r.commission_bps),
  billedUnits: Number(r.billed_units),
  totalCost: Number(r.total_cost),
  commissionTotal: Number(r.commission_total),
  startedMs: Number(r.started_ms),
  lastHeartbeatMs: Number(r.hb_ms),
  grantId: r.grant_id as string,
  grantStatus: r.grant_status as GrantStatus,
  dailyCap: r.daily_cap === null ? null : Number(r.daily_cap),
  platformStatus: r.platform_status as string,
  lowBalanceThreshold: Number(r.low_threshold),
  autoTopUpThreshold: r.auto_threshold === null ? null : Number(r.auto_threshold),
});

export function createPayplayRepository(db: Db) {
  // The partner API's hot paths: prepared, one round trip each.
  const keyByHash = db
    .select({
      id: platformApiKeys.id,
      platformId: platformApiKeys.platformId,
      organizationId: platforms.organizationId,
      lastUsedAt: platformApiKeys.lastUsedAt,
    })
    .from(platformApiKeys)
    .innerJoin(platforms, eq(platforms.id, platformApiKeys.platformId))
    .innerJoin(organizations, eq(organizations.id, platforms.organizationId))
    .where(and(eq(platformApiKeys.keyHash, sql.placeholder('hash')), isNull(platformApiKeys.revokedAt), isNull(organizations.deletedAt)))
    .prepare('payplay_key_by_hash');

  const heartbeat = db
    .update(playbackSessions)
    .set({
      lastHeartbeatAt: sql`greatest(${playbackSessions.lastHeartbeatAt}, ${sql.placeholder('now')}::timestamptz)`,
      heartbeats: sql`${playbackSessions.heartbeats} + 1`,
      // An unpaid unit reached: due now; otherwise due when it would go idle.
      dueAt: sql`case when greatest(${playbackSessions.lastHeartbeatAt}, ${sql.placeholder('now')}::timestamptz) >= ${playbackSessions.paidUntilAt} + interval '1 second'
        then least(${playbackSessions.dueAt}, greatest(${playbackSessions.lastHeartbeatAt}, ${sql.placeholder('now')}::timestamptz))
        else greatest(${playbackSessions.lastHeartbeatAt}, ${sql.placeholder('now')}::timestamptz) + make_interval(secs => ${sql.placeholder('idle')}::int) end`,
    })
    .where(and(eq(playbackSessions.id, sql.placeholder('id')), eq(playbackSessions.platformId, sql.placeholder('platformId')), eq(playbackSessions.status, 'active')))
    .returning()
    .prepare('payplay_heartbeat');

  const claimColumnsFor = (where: SQL, opts: { limit?: number; skipLocked?: boolean }) => sql`
    select ${meterColumns} from playback_sessions s ${meterJoins}
     where s.status = 'active' and ${where}
     order by s.due_at
     ${opts.limit ? sql`limit ${opts.limit}` : sql``}
     for no key update of s ${opts.skipLocked ? sql`skip locked` : sql``}`;

  return {
    // ---- platforms and keys
    async createPlatform(row: typeof platforms.$inferInsert, tx: Executor = db): Promise<Platform> {
      const [created] = await tx.insert(platforms).values(row).returning();
      return created!;
    },
    async platform(id: string, tx: Executor = db): Promise<Platform | undefined> {
      const [row] = await tx.select().from(platforms).where(eq(platforms.id, id));
      return row;
    },
    async platformOfOrg(orgId: string, id: string, tx: Executor = db): Promise<Platform | undefined> {
      const [row] = await tx.select().from(platforms).where(and(eq(platforms.organizationId, orgId), eq(platforms.id, id)));
      return row;
    },
    /** `share` for starting sessions (many at once), `update` for a status change (which stops them). */
    async lockPlatform(id: string, tx: Executor, mode: 'update' | 'share' = 'update'): Promise<Platform | undefined> {
      const [row] = await tx.select().from(platforms).where(eq(platforms.id, id)).for(mode);
      return row;
    },
    async listPlatforms(orgId: string, f: { before?: string | undefined; limit: number }): Promise<Platform[]> {
      return db
        .select()
        .from(platforms)
        .where(and(eq(platforms.organizationId, orgId), f.before ? lt(platforms.id, f.before) : undefined))
        .orderBy(desc(platforms.id))
        .limit(f.limit + 1);
    },
    async updatePlatform(id: string, patch: Partial<typeof platforms.$inferInsert>, tx: Executor = db): Promise<Platform> {
      const [row] = await tx.update(platforms).set(patch).where(eq(platforms.id, id)).returning();
      return row!;
    },
    async createKey(row: typeof platformApiKeys.$inferInsert, tx: Executor = db): Promise<PlatformKey> {
      const [created] = await tx.insert(platformApiKeys).values(row).returning();
      return created!;
    },
    async key(platformId: string, id: string, tx: Executor = db): Promise<PlatformKey | undefined> {
      const [row] = await tx.select().from(platformApiKeys).where(and(eq(platformApiKeys.platformId, platformId), eq(platformApiKeys.id, id))).for('update');
      return row;
    },
    async listKeys(platformId: string, f: { before?: string | undefined; limit: number }): Promise<PlatformKey[]> {
      return db
        .select()
        .from(platformApiKeys)
        .where(and(eq(platformApiKeys.platformId, platformId), f.before ? lt(platformApiKeys.id, f.before) : undefined))
        .orderBy(desc(platformApiKeys.id))
        .limit(f.limit + 1);
    },
    async revokeKey(id: string, at: Date, replacedBy: string | null, tx: Executor): Promise<PlatformKey | undefined> {
      const [row] = await tx
        .update(platformApiKeys)
        .set({ revokedAt: at, replacedBy })
        .where(and(eq(platformApiKeys.id, id), isNull(platformApiKeys.revokedAt)))
        .returning();
      return row;
    },
    async keyByHash(hash: string) {
      const [row] = await keyByHash.execute({ hash });
      return row;
    },
    async touchKey(id: string, at: Date): Promise<void> {
      await db.update(platformApiKeys).set({ lastUsedAt: at }).where(eq(platformApiKeys.id, id));
    },

    // ---- consents and grants
    async createGrant(row: typeof payplayGrants.$inferInsert, tx: Executor = db): Promise<Grant> {
      const [created] = await tx.insert(payplayGrants).values(row).returning();
      return created!;
    },
    async grantByCode(code: string, tx: Executor = db, lock = false): Promise<Grant | undefined> {
      const q = tx.select().from(payplayGrants).where(eq(payplayGrants.code, code));
      const [row] = lock ? await q.for('no key update') : await q;
      return row;
    },
    async grantOfPlatform(platformId: string, id: string, tx: Executor = db, lock = false): Promise<Grant | undefined> {
      const q = tx.select().from(payplayGrants).where(and(eq(payplayGrants.platformId, platformId), eq(payplayGrants.id, id)));
      const [row] = lock ? await q.for('no key update') : await q;
      return row;
    },
    async grantOfUser(userId: string, id: string, tx: Executor = db, lock = false): Promise<Grant | undefined> {
      const q = tx.select().from(payplayGrants).where(and(eq(payplayGrants.userId, userId), eq(payplayGrants.id, id)));
      const [row] = lock ? await q.for('no key update') : await q;
      return row;
    },
    async listGrants(userId: string, f: { before?: string | undefined; limit: number; status?: GrantStatus | undefined }): Promise<(Grant & { platformName: string })[]> {
      const rows = await db
        .select({ g: payplayGrants, platformName: platforms.name })
        .from(payplayGrants)
        .innerJoin(platforms, eq(platforms.id, payplayGrants.platformId))
        .where(and(eq(payplayGrants.userId, userId), f.status ? eq(payplayGrants.status, f.status) : undefined, f.before ? lt(payplayGrants.id, f.before) : undefined))
        .orderBy(desc(payplayGrants.id))
        .limit(f.limit + 1);
      return rows.map((r) => ({ ...r.g, platformName: r.platformName }));
    },
    async updateGrant(id: string, patch: Partial<typeof payplayGrants.$inferInsert>, tx: Executor = db): Promise<Grant> {
      const [row] = await tx.update(payplayGrants).set(patch).where(eq(payplayGrants.id, id)).returning();
      return row!;
    },

    // ---- sessions
    async insertSession(row: typeof playbackSessions.$inferInsert, tx: Executor): Promise<PlaybackSession> {
      const [created] = await tx.insert(playbackSessions).values(row).returning();
      return created!;
    },
    async session(id: string, tx: Executor = db): Promise<PlaybackSession | undefined> {
      const [row] = await tx.select().from(playbackSessions).where(eq(playbackSessions.id, id));
      return row;
    },
    async sessionOfPlatform(platformId: string, id: string, tx: Executor = db): Promise<PlaybackSession | undefined> {
      const [row] = await tx.select().from(playbackSessions).where(and(eq(playbackSessions.platformId, platformId), eq(playbackSessions.id, id)));
      return row;
    },
    async sessionOfUser(userId: string, id: string): Promise<PlaybackSession | undefined> {
      const [row] = await db.select().from(playbackSessions).where(and(eq(playbackSessions.userId, userId), eq(playbackSessions.id, id)));
      return row;
    },
    async listSessions(where: { userId?: string; platformId?: string }, f: { before?: string | undefined; limit: number; status?: string | undefined }): Promise<(PlaybackSession & { platformName: string })[]> {
      const rows = await db
        .select({ s: playbackSessions, platformName: platforms.name })
        .from(playbackSessions)
        .innerJoin(platforms, eq(platforms.id, playbackSessions.platformId))
        .where(
          and(
            where.userId ? eq(playbackSessions.userId, where.userId) : undefined,
            where.platformId ? eq(playbackSessions.platformId, where.platformId) : undefined,
            f.status ? eq(playbackSessions.status, f.status as PlaybackSession['status']) : undefined,
            f.before ? lt(playbackSessions.id, f.before) : undefined,
          ),
        )
        .orderBy(desc(playbackSessions.id))
        .limit(f.limit + 1);
      return rows.map((r) => ({ ...r.s, platformName: r.platformName }));
    },
    async heartbeat(platformId: string, id: string, now: Date, idleSeconds: number): Promise<PlaybackSession | undefined> {
      const [row] = await heartbeat.execute({ id, platformId, now: now.toISOString(), idle: idleSeconds });
      return row;
    },

    // ---- the metering engine's statements
    /** Due sessions, oldest due first, skipping those another biller holds. */
    async claimDue(now: number, limit: number, tx: Executor): Promise<MeterRow[]> {
      const res = await tx.execute(claimColumnsFor(sql`s.due_at <= ${iso(now)}::timestamptz`, { limit, skipLocked: true }));
      return rowsOf<RawMeterRow>(res).map(toMeterRow);
    },
    /** Running sessions chosen by id, grant or platform, waiting for their locks. */
    async claimWhere(by: { ids?: string[]; grantId?: string; platformId?: string }, tx: Executor): Promise<MeterRow[]> {
      const where = by.ids ? sql`s.id = any(${arr(by.ids)}::uuid[])` : by.grantId ? sql`s.grant_id = ${by.grantId}` : sql`s.platform_id = ${by.platformId!}`;
      const res = await tx.execute(claimColumnsFor(where, {}));
      return rowsOf<RawMeterRow>(res).map(toMeterRow);
    },
    /**
     * Locks the batch's ledger accounts in id order (the order the entry trigger locks them in, so
     * no two writers deadlock) and answers their balances, which nobody else can change until commit.
     */
    async lockAccounts(ids: string[], tx: Executor): Promise<Map<string, number>> {
      const res = await tx.execute(sql`select id, balance from ledger_accounts where id = any(${arr(ids)}::uuid[]) order by id for no key update`);
      return new Map(rowsOf<{ id: string; balance: string | number }>(res).map((r) => [r.id, Number(r.balance)]));
    },
    /** The capped grants of a batch, locked, with what they spent on their day. */
    async lockCappedGrants(ids: string[], tx: Executor, skipLocked: boolean): Promise<Map<string, { dailyCap: number; spentDay: string | null; spentToday: number }>> {
      const res = await tx.execute(
        sql`select id, daily_cap, spent_day::text as spent_day, spent_today from payplay_grants where id = any(${arr(ids)}::uuid[]) and daily_cap is not null
             order by id for no key update ${skipLocked ? sql`skip locked` : sql``}`,
      );
      return new Map(
        rowsOf<{ id: string; daily_cap: string; spent_day: string | null; spent_today: string }>(res).map((r) => [
          r.id,
          { dailyCap: Number(r.daily_cap), spentDay: r.spent_day, spentToday: Number(r.spent_today) },
        ]),
      );
    },
    /**
     * Writes a whole batch in ONE statement: every charge's transfer and its entries (the entry
     * trigger checks each transfer balances, locks the accounts and updates the balances and wallet
     * mirrors once for the statement), every session's new billing state, and what capped grants
     * spent today.
     */
    async writeBatch(
      input: { nowMs: number; day: string; charges: ChargeRow[]; sessions: SessionUpdate[]; grantSpend: { id: string; amount: number }[] },
      tx: Executor,
    ): Promise<void> {
      const { charges: c, sessions: u, grantSpend: g } = input;
      const now = iso(input.nowMs);
      await tx.execute(sql`
        with c as (
          select * from unnest(${arr(c.map((x) => x.transferId))}::uuid[], ${arr(c.map((x) => x.key))}::text[], ${arr(c.map((x) => x.sessionId))}::uuid[],
                               ${arr(c.map((x) => x.currency))}::text[], ${arr(c.map((x) => x.amount))}::bigint[], ${arr(c.map((x) => x.partner))}::bigint[],
                               ${arr(c.map((x) => x.commission))}::bigint[], ${arr(c.map((x) => x.walletAccountId))}::uuid[], ${arr(c.map((x) => x.partnerAccountId))}::uuid[],
                               ${arr(c.map((x) => x.revenueAccountId))}::uuid[], ${arr(c.map((x) => x.entryIds[0]))}::uuid[], ${arr(c.map((x) => x.entryIds[1]))}::uuid[],
                               ${arr(c.map((x) => x.entryIds[2]))}::uuid[])
            as c(transfer_id, key, session_id, currency, amount, partner, commission, wallet_account, partner_account, revenue_account, e1, e2, e3)
        ), t as (
          insert into ledger_transfers (id, idempotency_key, kind, currency, reference_type, reference_id, description, created_at)
          select transfer_id, key, 'usage', currency, 'playback_session', session_id, 'Pay as Play', ${now}::timestamptz from c
          returning id
        ), e as (
          insert into ledger_entries (id, transfer_id, account_id, amount, created_at)
          select v.id, t.id, v.account_id, v.amount, ${now}::timestamptz
            from c join t on t.id = c.transfer_id
            cross join lateral (values (c.e1, c.wallet_account, -c.amount), (c.e2, c.partner_account, c.partner), (c.e3, c.revenue_account, c.commission)) as v(id, account_id, amount)
           where v.amount <> 0
        ), u as (
          update playback_sessions s
             set billed_units = u.units, total_cost = u.total_cost, commission_total = u.commission_total,
                 paid_until_at = to_timestamp(u.paid_until_ms / 1000.0), due_at = to_timestamp(u.due_ms / 1000.0),
                 charges = s.charges + u.charged, status = u.status, end_reason = u.end_reason,
                 ended_at = to_timestamp(u.ended_ms / 1000.0), duration_seconds = u.duration
            from unnest(${arr(u.map((x) => x.id))}::uuid[], ${arr(u.map((x) => x.units))}::int[], ${arr(u.map((x) => x.totalCost))}::bigint[],
                        ${arr(u.map((x) => x.commissionTotal))}::bigint[], ${arr(u.map((x) => x.paidUntilMs))}::float8[], ${arr(u.map((x) => x.dueMs))}::float8[],
                        ${arr(u.map((x) => x.charged))}::int[], ${arr(u.map((x) => x.status))}::text[], ${arr(u.map((x) => x.endReason))}::text[],
                        ${arr(u.map((x) => x.endedMs))}::float8[], ${arr(u.map((x) => x.durationSeconds))}::int[])
              as u(id, units, total_cost, commission_total, paid_until_ms, due_ms, charged, status, end_reason, ended_ms, duration)
           -- The any() lets the planner probe the primary key instead of hashing the whole table.
           where s.id = u.id and s.id = any(${arr(u.map((x) => x.id))}::uuid[])
          returning 1
        ), g as (
          update payplay_grants g
             set spent_today = case when g.spent_day = ${input.day}::date then g.spent_today else 0 end + x.amount, spent_day = ${input.day}::date
            from unnest(${arr(g.map((x) => x.id))}::uuid[], ${arr(g.map((x) => x.amount))}::bigint[]) as x(id, amount)
           where g.id = x.id
          returning 1
        )
        select (select count(*) from u) as sessions, (select count(*) from g) as grants`);
    },

    /** Ended sessions whose history line and notification are still to be written. */
    async unfinalized(limit: number): Promise<string[]> {
      const rows = await db
        .select({ id: playbackSessions.id })
        .from(playbackSessions)
        .where(and(sql`${playbackSessions.status} <> 'active'`, isNull(playbackSessions.finalizedAt)))
        .orderBy(playbackSessions.id)
        .limit(limit);
      return rows.map((r) => r.id);
    },
    async lockUnfinalized(id: string, tx: Executor): Promise<(PlaybackSession & { platformName: string }) | undefined> {
      const [row] = await tx
        .select({ s: playbackSessions, platformName: platforms.name })
        .from(playbackSessions)
        .innerJoin(platforms, eq(platforms.id, playbackSessions.platformId))
        .where(and(eq(playbackSessions.id, id), sql`${playbackSessions.status} <> 'active'`, isNull(playbackSessions.finalizedAt)))
        .for('update', { of: playbackSessions, skipLocked: true });
      return row ? { ...row.s, platformName: row.platformName } : undefined;
    },
    async markFinalized(id: string, at: Date, tx: Executor): Promise<void> {
      await tx.update(playbackSessions).set({ finalizedAt: at }).where(eq(playbackSessions.id, id));
    },
    /** A wallet's average cost of a minute of play over its ended sessions (minor units, rounded). */
    async refreshAverageMinuteCost(walletId: string, tx: Executor): Promise<void> {
      await tx.execute(sql`
        update wallets set average_minute_cost = (
          select round(sum(total_cost) * 60.0 / nullif(sum(duration_seconds), 0))::bigint
            from playback_sessions where user_id = (select user_id from wallets where id = ${walletId}) and wallet_id = ${walletId} and status <> 'active')
         where id = ${walletId}`);
    },
    async userStats(userId: string): Promise<{ currency: string; sessions: number; seconds: number; cost: number; averageMinuteCost: number | null }[]> {
      const res = await db.execute(sql`
        select s.currency, count(*)::int as sessions, coalesce(sum(coalesce(s.duration_seconds, 0)), 0)::bigint as seconds,
               coalesce(sum(s.total_cost), 0)::bigint as cost, w.average_minute_cost
          from playback_sessions s join wallets w on w.id = s.wallet_id
         where s.user_id = ${userId}
         group by s.currency, w.average_minute_cost order by s.currency`);
      return rowsOf<Record<string, string | number | null>>(res).map((r) => ({
        currency: r.currency as string,
        sessions: Number(r.sessions),
        seconds: Number(r.seconds),
        cost: Number(r.cost),
        averageMinuteCost: r.average_minute_cost === null ? null : Number(r.average_minute_cost),
      }));
    },

    // ---- earnings and settlement
    /**
     * The partner account's Pay as Play entries bucketed by UTC day, week or month and platform:
     * gross (what users paid), commission and net (what the partner earned).
     */
    async earnings(q: { partnerAccountIds: string[]; bucket: 'day' | 'week' | 'month'; from: Date; to: Date; platformId?: string | undefined }) {
      const res = await db.execute(sql`
        select date_trunc(${q.bucket}, e.created_at at time zone 'UTC') as bucket, s.platform_id, s.currency,
               sum(e.amount)::bigint as net, sum(s_gross.gross)::bigint as gross, count(distinct s.id)::int as sessions
          from ledger_entries e
          join ledger_transfers t on t.id = e.transfer_id and t.reference_type = 'playback_session'
          join playback_sessions s on s.id = t.reference_id
          cross join lateral (select -sum(w.amount) as gross from ledger_entries w where w.transfer_id = t.id and w.account_id = s.wallet_account_id) s_gross
         where e.account_id = any(${arr(q.partnerAccountIds)}::uuid[])
           and e.created_at >= ${q.from.toISOString()}::timestamptz and e.created_at < ${q.to.toISOString()}::timestamptz
           ${q.platformId ? sql`and s.platform_id = ${q.platformId}` : sql``}
         group by 1, 2, 3 order by 1, 2`);
      return rowsOf<Record<string, string | number | Date>>(res).map((r) => {
        const net = Number(r.net);
        const gross = Number(r.gross);
        const b = r.bucket instanceof Date ? r.bucket : new Date(`${String(r.bucket).replace(' ', 'T')}Z`);
        return { bucket: b, platformId: r.platform_id as string, currency: r.currency as string, gross, commission: gross - net, net, sessions: Number(r.sessions) };
      });
    },
    /** Partner organizations with Pay as Play earnings on a UTC day, per currency. */
    async dayTotals(day: string): Promise<{ organizationId: string; currency: string; gross: number; net: number; sessions: number }[]> {
      const res = await db.execute(sql`
        select s.organization_id, s.currency, sum(case when e.account_id = s.partner_account_id then e.amount else 0 end)::bigint as net,
               -sum(case when e.account_id = s.wallet_account_id then e.amount else 0 end)::bigint as gross, count(distinct s.id)::int as sessions
          from ledger_transfers t
          join playback_sessions s on s.id = t.reference_id
          join ledger_entries e on e.transfer_id = t.id
         where t.reference_type = 'playback_session' and t.kind = 'usage'
           and t.created_at >= ${day}::date and t.created_at < ${day}::date + 1
         group by 1, 2`);
      return rowsOf<Record<string, string | number>>(res).map((r) => ({
        organizationId: r.organization_id as string,
        currency: r.currency as string,
        gross: Number(r.gross),
        net: Number(r.net),
        sessions: Number(r.sessions),
      }));
    },
    async insertSettlement(row: typeof payplaySettlements.$inferInsert, tx: Executor): Promise<boolean> {
      const rows = await tx.insert(payplaySettlements).values(row).onConflictDoNothing().returning({ id: payplaySettlements.id });
      return rows.length > 0;
    },
    async orgRecipients(orgId: string, tx: Executor = db): Promise<string[]> {
      const res = await tx.execute(sql`select user_id from team_members where organization_id = ${orgId} and role in ('owner', 'admin') and status = 'active'`);
      return rowsOf<{ user_id: string }>(res).map((r) => r.user_id);
    },
  };
}
export type PayplayRepository = ReturnType<typeof createPayplayRepository>;
