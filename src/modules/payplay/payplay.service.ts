import { createHash, randomBytes } from 'node:crypto';
import type { Access } from '../../core/access.ts';
import type { Actor, PlatformActor, RequestMeta } from '../../core/actor.ts';
import type { Clock } from '../../core/clock.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import { formatMoney } from '../../core/money.ts';
import { publish, publishMany } from '../../core/outbox.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import { insufficientFunds, type LedgerService, type WalletAccounts } from '../ledger/index.ts';
import type { NotificationService } from '../notifications/index.ts';
import { meter, statusFor, utcDay, type MeterDecision } from './payplay.billing.ts';
import type { ChargeRow, Grant, MeterRow, PayplayRepository, Platform, PlatformKey, PlaybackSession, SessionUpdate } from './payplay.repository.ts';
import type { EndReason, GrantStatus, PlatformStatus, PlatformType } from './payplay.schema.ts';

export const PLATFORM_KEY_PREFIX = 'ffp_';
const TOUCH_EVERY_MS = 60_000;
const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export interface PayplaySettings {
  commissionBps: number;
  idleSeconds: number;
  consentTtlSeconds: number;
  tickIntervalMs: number;
  tickBatch: number;
}

/** The history line a finished session leaves in the user's wallet (the wallets module writes it). */
export type HistoryWriter = (
  line: {
    walletId: string;
    userId: string;
    amount: number;
    currency: string;
    sessionId: string;
    description: string;
    metadata: Record<string, unknown>;
    completedAt: Date;
  },
  tx: Executor,
) => Promise<void>;

/**
 * Makes a platform's webhook signing secret when it gets a webhook URL (the webhooks module does,
 * in the caller's transaction): the new secret, or null when the platform already has one.
 */
export type WebhookSecretIssuer = (platformId: string, tx: Executor) => Promise<string | null>;

/** A platform as its managers see it right after a change: with its new webhook secret, once. */
export type PlatformWithSecret = Platform & { webhookSecret?: string };

export interface TickResult {
  sessions: number;
  charges: number;
  ended: number;
  batches: number;
}

const endMessages: Record<EndReason, string> = {
  stopped: 'ended',
  idle: 'ended after the player stopped responding',
  insufficient_funds: 'stopped: your balance could not cover the next minute',
  spending_cap: 'stopped: it reached your daily spending cap for this platform',
  grant_revoked: 'stopped because you revoked the platform’s permission to charge you',
  platform_inactive: 'stopped because the platform was suspended or deactivated',
};

export function createPayplayService(deps: {
  db: Db;
  repo: PayplayRepository;
  ledger: LedgerService;
  access: Access;
  audit: AuditService;
  notifications: NotificationService;
  jobs: JobQueue;
  history: HistoryWriter;
  clock: Clock;
  settings: PayplaySettings;
  publicUrl: string;
  log: Logger;
  /** False for a second engine on the same queue (the metering bench's, on its own clock). */
  registerJobs?: boolean;
  webhookSecrets?: WebhookSecretIssuer;
}) {
  const { db, repo, ledger, access, audit, notifications, jobs, history, clock, settings, publicUrl, log } = deps;
  const idleMs = settings.idleSeconds * 1000;

  const requirePlatform = (actor: Actor): PlatformActor => {
    if (actor.kind === 'platform') return actor;
    if (actor.kind === 'anonymous') throw new AppError('unauthenticated', 'Send a platform API key (Authorization: Bearer ffp_…)');
    throw new AppError('forbidden', 'This is the partner API: it needs a platform API key');
  };

  const platformOf = async (actor: Actor, orgId: string, platformId: string, permission: 'platforms.manage' | 'platforms.read' | 'earnings.read') => {
    await access.requireOrg(actor, orgId, permission);
    const platform = await repo.platformOfOrg(orgId, platformId);
    if (!platform) throw notFound('Platform');
    return platform;
  };

  // ------------------------------------------------------------------------------------------
  // The metering engine: bills claimed sessions in one write statement per batch.

  /**
   * Bills `rows` (claimed under their row locks in `tx`) at `nowMs`: locks every ledger account
   * the batch touches in id order, reads their balances, decides each session's charge with the
   * balance its earlier sessions left (so sessions sharing a wallet never spend the same money),
   * then writes every transfer, entry and session update in one statement.
   */
  async function bill(claimed: MeterRow[], tx: Executor, nowMs: number, stop: EndReason | null, fromTick = false): Promise<MeterDecision[]> {
    if (!claimed.length) return [];
    const day = utcDay(nowMs);
    // Capped grants are locked before the accounts. The tick skips a grant someone else holds (a
    // revocation waiting for this very session's lock would otherwise deadlock with it); its
    // sessions stay due for the next batch.
    const capLeft = new Map<string, number>();
    const cappedIds = [...new Set(claimed.filter((r) => r.dailyCap !== null).map((r) => r.grantId))];
    if (cappedIds.length) {
      for (const [id, g] of await repo.lockCappedGrants(cappedIds, tx, fromTick)) capLeft.set(id, g.dailyCap - (g.spentDay === day ? g.spentToday : 0));
    }
    const rows = claimed.filter((r) => r.dailyCap === null || capLeft.has(r.grantId));
    if (!rows.length) return [];
    const accountIds = new Set<string>();
    for (const r of rows) accountIds.add(r.walletAccountId).add(r.partnerAccountId).add(r.revenueAccountId);
    const balances = await repo.lockAccounts([...accountIds], tx);
    const startBalance = new Map<string, number>();
    const charges: ChargeRow[] = [];
    const updates: SessionUpdate[] = [];
    const grantSpend = new Map<string, number>();
    const decisions: MeterDecision[] = [];
    const stoppedForFunds = new Set<string>();
    for (const r of rows) {
      const available = balances.get(r.walletAccountId) ?? 0;
      if (!startBalance.has(r.walletAccountId)) startBalance.set(r.walletAccountId, available);
      const cap = r.dailyCap === null ? null : (capLeft.get(r.grantId) ?? 0);
      const d = meter(
        { ...r, grantActive: r.grantStatus === 'active', platformActive: r.platformStatus === 'active' },
        nowMs,
        idleMs,
        available,
        cap,
        stop,
      );
      decisions.push(d);
      if (d.charge > 0) {
        balances.set(r.walletAccountId, available - d.charge);
        if (cap !== null) {
          capLeft.set(r.grantId, cap - d.charge);
          grantSpend.set(r.grantId, (grantSpend.get(r.grantId) ?? 0) + d.charge);
        }
        charges.push({
          transferId: newId(),
          key: `payplay:${r.id}:${d.units}`,
          sessionId: r.id,
          currency: r.currency,
          amount: d.charge,
          partner: d.partner,
          commission: d.commission,
          walletAccountId: r.walletAccountId,
          partnerAccountId: r.partnerAccountId,
          revenueAccountId: r.revenueAccountId,
          entryIds: [newId(), newId(), newId()],
        });
      }
      if (d.endReason === 'insufficient_funds') stoppedForFunds.add(r.walletAccountId);
      updates.push({
        id: r.id,
        units: d.units,
        totalCost: d.totalCost,
        commissionTotal: d.commissionTotal,
        paidUntilMs: d.paidUntilMs,
        dueMs: d.dueMs,
        charged: d.charge > 0 ? 1 : 0,
        status: d.endReason ? statusFor(d.endReason) : 'active',
        endReason: d.endReason,
        endedMs: d.endReason ? nowMs : null,
        durationSeconds: d.durationSeconds,
      });
    }
    await repo.writeBatch({ nowMs, day, charges, sessions: updates, grantSpend: [...grantSpend].map(([id, amount]) => ({ id, amount })) }, tx);
    // The partner is told of every end (its webhook listens), in this transaction: one statement
    // for the whole batch, and none when no session ended.
    await publishMany(
      tx,
      'payplay.session_ended',
      decisions.filter((d) => d.endReason).map((d) => ({ sessionId: d.id, endReason: d.endReason! })),
    );

    // Auto top-up and the low-balance alert listen to wallet.debited: only wallets that crossed a
    // threshold (or ran out) get an event, not every charge.
    const seen = new Set<string>();
    for (const r of rows) {
      if (seen.has(r.walletAccountId)) continue;
      seen.add(r.walletAccountId);
      const previous = startBalance.get(r.walletAccountId)!;
      const balance = balances.get(r.walletAccountId)!;
      if (balance === previous && !stoppedForFunds.has(r.walletAccountId)) continue;
      const crossed = (t: number | null) => t !== null && previous >= t && balance < t;
      if (crossed(r.lowBalanceThreshold) || crossed(r.autoTopUpThreshold) || stoppedForFunds.has(r.walletAccountId)) {
        await publish(tx, 'wallet.debited', { walletId: r.walletId, balance, previous });
      }
    }
    return decisions;
  }

  /** Writes what an ended session leaves behind: the history line, statistics, the notification. */
  async function finalize(sessionId: string): Promise<boolean> {
    return db.transaction(async (tx) => {
      const s = await repo.lockUnfinalized(sessionId, tx);
      if (!s) return false;
      const at = clock.now();
      if (s.totalCost > 0) {
        await history(
          {
            walletId: s.walletId,
            userId: s.userId,
            amount: s.totalCost,
            currency: s.currency,
            sessionId: s.id,
            description: `Pay as Play: ${s.contentTitle ?? s.contentId} on ${s.platformName}`,
            metadata: { sessionId: s.id, platformId: s.platformId, durationSeconds: s.durationSeconds, endReason: s.endReason, charges: s.charges },
            completedAt: s.endedAt ?? at,
          },
          tx,
        );
        await ledger.bumpWalletTotals(s.walletId, { totalSpentOnPlatform: s.totalCost }, tx);
      }
      await repo.refreshAverageMinuteCost(s.walletId, tx);
      const minutes = Math.floor((s.durationSeconds ?? 0) / 60);
      const secs = (s.durationSeconds ?? 0) % 60;
      await notifications.notify(
        {
          userId: s.userId,
          type: 'session_end',
          title: `${s.contentTitle ?? 'Your session'} on ${s.platformName} ${s.endReason === 'stopped' || s.endReason === 'idle' ? 'ended' : 'was stopped'}`,
          message: `Your session ${endMessages[s.endReason ?? 'stopped']}. You played ${minutes} min ${secs} s for ${formatMoney(s.totalCost, s.currency)}.`,
          actionUrl: `/v1/payplay/sessions/${s.id}`,
          relatedId: s.id,
          organizationId: s.organizationId,
          data: { sessionId: s.id, endReason: s.endReason, durationSeconds: s.durationSeconds, totalCost: s.totalCost, currency: s.currency },
        },
        tx,
      );
      await repo.markFinalized(s.id, at, tx);
      return true;
    });
  }

  async function finalizePending(limit = 500): Promise<number> {
    let done = 0;
    for (const id of await repo.unfinalized(limit)) {
      try {
        if (await finalize(id)) done++;
      } catch (err) {
        log.error({ err, sessionId: id }, 'finalizing a playback session failed');
      }
    }
    return done;
  }

  /** Stops the running sessions chosen by `by` at once (a stop, a revocation, a suspension). */
  async function stopWhere(by: { ids?: string[]; grantId?: string; platformId?: string }, reason: EndReason, tx: Executor): Promise<MeterDecision[]> {
    const rows = await repo.claimWhere(by, tx);
    return bill(rows, tx, clock.now().getTime(), reason);
  }

  let ticker: NodeJS.Timeout | undefined;
  let ticking: Promise<TickResult> | undefined;

  const engine = {
    /**
     * Bills every due session at the clock's time, `batch` sessions per database transaction, until
     * none is due; then writes what ended sessions leave behind. One tick at a time per process;
     * several processes share the work (claims skip each other's locked sessions).
     */
    async tick(opts: { batch?: number; finalize?: boolean; onBatch?: (b: { sessions: number; charges: number; ms: number; nowMs: number }) => void } = {}): Promise<TickResult> {
      const batch = opts.batch ?? settings.tickBatch;
      const result: TickResult = { sessions: 0, charges: 0, ended: 0, batches: 0 };
      for (;;) {
        const nowMs = clock.now().getTime();
        const t0 = performance.now();
        const decisions = await db.transaction(async (tx) => bill(await repo.claimDue(nowMs, batch, tx), tx, nowMs, null, true));
        if (!decisions.length) break;
        const charges = decisions.filter((d) => d.charge > 0).length;
        result.batches++;
        result.sessions += decisions.length;
        result.charges += charges;
        result.ended += decisions.filter((d) => d.endReason).length;
        opts.onBatch?.({ sessions: decisions.length, charges, ms: performance.now() - t0, nowMs });
        if (decisions.length < batch) break;
      }
      if (opts.finalize !== false) await finalizePending();
      return result;
    },
    /** The in-process ticker (the worker runs it; the bench drives `tick` itself). */
    startTicker(intervalMs = settings.tickIntervalMs): void {
      const run = () => {
        ticking ??= engine.tick().finally(() => {
          ticking = undefined;
        });
        ticking
          .catch((err: unknown) => log.error({ err }, 'payplay tick failed'))
          .finally(() => {
            if (ticker) ticker = setTimeout(run, intervalMs);
          });
      };
      ticker = setTimeout(run, 0);
    },
    async stopTicker(): Promise<void> {
      if (ticker) clearTimeout(ticker);
      ticker = undefined;
      await ticking?.catch(() => undefined);
    },
    finalizePending,
  };

  if (deps.registerJobs !== false) {
    jobs.register('payplay.tick', async () => {
      await engine.tick();
    });
    jobs.register('payplay.settlement', async ({ day }) => {
      await service.settle(day);
    });
  }

  // ------------------------------------------------------------------------------------------

  const service = {
    ...engine,

    // ---- partner organizations: platforms and keys

    async createPlatform(
      actor: Actor,
      orgId: string,
      input: { name: string; type: PlatformType; description?: string | null | undefined; websiteUrl?: string | null | undefined; webhookUrl?: string | null | undefined; currency: string; pricePerMinute: number; billingUnitSeconds?: number | undefined },
    ): Promise<PlatformWithSecret> {
      await access.requireOrg(actor, orgId, 'platforms.manage');
      const user = access.requireUser(actor);
      return db.transaction(async (tx) => {
        const platform = await repo.createPlatform(
          {
            organizationId: orgId,
            userId: user.userId,
            name: input.name,
            type: input.type,
            description: input.description ?? null,
            websiteUrl: input.websiteUrl ?? null,
            webhookUrl: input.webhookUrl ?? null,
            currency: input.currency,
            pricePerMinute: input.pricePerMinute,
            billingUnitSeconds: input.billingUnitSeconds ?? 60,
            commissionBps: settings.commissionBps,
          },
          tx,
        );
        await audit.record({ action: 'platform.created', userId: user.userId, organizationId: orgId, resourceType: 'platform', resourceId: platform.id, meta: user.meta, metadata: { name: input.name } }, tx);
        return withSecret(platform, tx);
      });
    },

    async listPlatforms(actor: Actor, orgId: string, q: PageQuery): Promise<Page<Platform>> {
      await access.requireOrg(actor, orgId, 'platforms.read');
      return toPage(await repo.listPlatforms(orgId, { before: decodeCursor(q.cursor), limit: q.limit }), q.limit);
    },

    getPlatform: (actor: Actor, orgId: string, platformId: string) => platformOf(actor, orgId, platformId, 'platforms.read'),

    /** A partner edits its platform; setting it inactive stops its running sessions at once. */
    async updatePlatform(
      actor: Actor,
      orgId: string,
      platformId: string,
      patch: { name?: string | undefined; description?: string | null | undefined; websiteUrl?: string | null | undefined; webhookUrl?: string | null | undefined; pricePerMinute?: number | undefined; billingUnitSeconds?: number | undefined; status?: 'active' | 'inactive' | undefined },
    ): Promise<PlatformWithSecret> {
      await platformOf(actor, orgId, platformId, 'platforms.manage');
      const ended = await db.transaction(async (tx) => {
        const current = (await repo.lockPlatform(platformId, tx))!;
        if (patch.status && current.status === 'suspended') throw new AppError('conflict', 'A suspended platform can be reactivated only by the operator', { code: 'platform_suspended' });
        const updated = await repo.updatePlatform(platformId, patch, tx);
        if (updated.status !== 'active') await stopWhere({ platformId }, 'platform_inactive', tx);
        return withSecret(updated, tx);
      });
      await finalizePending();
      return ended;
    },

    /** Operators suspend (or reactivate) a platform; suspension stops its running sessions at once. */
    async setPlatformStatus(actor: Actor, platformId: string, input: { status: PlatformStatus; reason?: string | undefined }): Promise<Platform> {
      const admin = access.requirePlatformAdmin(actor);
      const updated = await db.transaction(async (tx) => {
        const current = await repo.lockPlatform(platformId, tx);
        if (!current) throw notFound('Platform');
        const at = clock.now();
        const p = await repo.updatePlatform(
          platformId,
          input.status === 'suspended' ? { status: 'suspended', suspendedAt: at, suspendedReason: input.reason ?? null } : { status: input.status, suspendedAt: null, suspendedReason: null },
          tx,
        );
        if (p.status !== 'active') await stopWhere({ platformId }, 'platform_inactive', tx);
        await audit.record({ action: `platform.${input.status}`, userId: admin.userId, organizationId: p.organizationId, resourceType: 'platform', resourceId: p.id, meta: admin.meta, metadata: { reason: input.reason } }, tx);
        return p;
      });
      await finalizePending();
      return updated;
    },

    async setCommission(actor: Actor, platformId: string, commissionBps: number): Promise<Platform> {
      const admin = access.requirePlatformAdmin(actor);
      const p = await repo.platform(platformId);
      if (!p) throw notFound('Platform');
      const updated = await repo.updatePlatform(platformId, { commissionBps });
      await audit.record({ action: 'platform.commission_changed', userId: admin.userId, organizationId: p.organizationId, resourceType: 'platform', resourceId: p.id, meta: admin.meta, metadata: { from: p.commissionBps, to: commissionBps } });
      return updated;
    },

    /** A new key for the platform: the secret is in this answer only. */
    async createKey(actor: Actor, orgId: string, platformId: string, input: { name: string }, tx?: Executor, replaces?: string): Promise<{ key: PlatformKey; secret: string }> {
      if (!tx) await platformOf(actor, orgId, platformId, 'platforms.manage');
      const secret = `${PLATFORM_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      const run = async (t: Executor) => {
        const key = await repo.createKey({ platformId, name: input.name, start: secret.slice(0, 12), keyHash: hashKey(secret), createdBy: actor.kind === 'user' ? actor.userId : null }, t);
        await audit.record(
          { action: replaces ? 'platform_key.rotated' : 'platform_key.created', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'platform_api_key', resourceId: key.id, meta: actor.meta, metadata: { platformId, replaces } },
          t,
        );
        return key;
      };
      const key = tx ? await run(tx) : await db.transaction(run);
      return { key, secret };
    },

    async listKeys(actor: Actor, orgId: string, platformId: string, q: PageQuery): Promise<Page<PlatformKey>> {
      await platformOf(actor, orgId, platformId, 'platforms.manage');
      return toPage(await repo.listKeys(platformId, { before: decodeCursor(q.cursor), limit: q.limit }), q.limit);
    },

    /** Revocation is immediate: the next request with the key is refused. */
    async revokeKey(actor: Actor, orgId: string, platformId: string, keyId: string): Promise<PlatformKey> {
      await platformOf(actor, orgId, platformId, 'platforms.manage');
      return db.transaction(async (tx) => {
        const key = await repo.key(platformId, keyId, tx);
        if (!key) throw notFound('Platform API key');
        if (key.revokedAt) throw new AppError('conflict', 'The key is already revoked', { code: 'already_revoked' });
        const revoked = (await repo.revokeKey(keyId, clock.now(), null, tx))!;
        await audit.record({ action: 'platform_key.revoked', userId: actor.kind === 'user' ? actor.userId : null, organizationId: orgId, resourceType: 'platform_api_key', resourceId: keyId, meta: actor.meta }, tx);
        return revoked;
      });
    },

    /** Replaces a key by a new one in one transaction: the old key stops working at once. */
    async rotateKey(actor: Actor, orgId: string, platformId: string, keyId: string): Promise<{ key: PlatformKey; secret: string }> {
      await platformOf(actor, orgId, platformId, 'platforms.manage');
      return db.transaction(async (tx) => {
        const old = await repo.key(platformId, keyId, tx);
        if (!old) throw notFound('Platform API key');
        if (old.revokedAt) throw new AppError('conflict', 'A revoked key cannot be rotated', { code: 'already_revoked' });
        const created = await service.createKey(actor, orgId, platformId, { name: old.name }, tx, old.id);
        await repo.revokeKey(old.id, clock.now(), created.key.id, tx);
        return created;
      });
    },

    /** Resolves a presented platform key, or refuses with 401 (unknown, revoked, organization deleted). */
    async authenticate(key: string, meta: RequestMeta): Promise<PlatformActor> {
      if (!key.startsWith(PLATFORM_KEY_PREFIX) || key.length > 200) throw new AppError('unauthenticated', 'The platform API key is not valid', { code: 'invalid_api_key' });
      const row = await repo.keyByHash(hashKey(key));
      if (!row) throw new AppError('unauthenticated', 'The platform API key is not valid or was revoked', { code: 'invalid_api_key' });
      const now = clock.now();
      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > TOUCH_EVERY_MS) await repo.touchKey(row.id, now);
      return { kind: 'platform', platformKeyId: row.id, platformId: row.platformId, organizationId: row.organizationId, meta };
    },

    async partnerPlatform(actor: Actor): Promise<Platform> {
      const p = requirePlatform(actor);
      return (await repo.platform(p.platformId))!;
    },

    async platformSessions(actor: Actor, orgId: string, platformId: string, q: PageQuery & { status?: string | undefined }) {
      await platformOf(actor, orgId, platformId, 'platforms.read');
      return toPage(await repo.listSessions({ platformId }, { before: decodeCursor(q.cursor), limit: q.limit, status: q.status }), q.limit);
    },

    // ---- consent

    /** The partner asks a user's consent: answers the code and the URL to send the user to. */
    async requestConsent(actor: Actor, input: { pricePerMinute: number; dailyCap?: number | null | undefined; externalRef?: string | null | undefined }): Promise<Grant> {
      const p = requirePlatform(actor);
      const platform = (await repo.platform(p.platformId))!;
      if (platform.status !== 'active') throw new AppError('forbidden', `The platform is ${platform.status}`, { code: 'platform_inactive' });
      if (input.pricePerMinute > platform.pricePerMinute) {
        throw new AppError('bad_request', `pricePerMinute is above the platform's price of ${platform.pricePerMinute}`, { fields: [{ path: 'body.pricePerMinute', message: `at most ${platform.pricePerMinute}` }] });
      }
      const now = clock.now();
      return repo.createGrant({
        platformId: platform.id,
        code: randomBytes(16).toString('base64url'),
        currency: platform.currency,
        pricePerMinute: input.pricePerMinute,
        dailyCap: input.dailyCap ?? null,
        externalRef: input.externalRef ?? null,
        expiresAt: new Date(now.getTime() + settings.consentTtlSeconds * 1000),
      });
    },

    consentUrl: (code: string) => `${publicUrl}/consent/${code}`,

    async partnerGrant(actor: Actor, grantId: string): Promise<Grant> {
      const p = requirePlatform(actor);
      const g = await repo.grantOfPlatform(p.platformId, grantId);
      if (!g) throw notFound('Consent request');
      return expiredView(g);
    },

    /** What a consent code asks for, for the signed-in user about to answer it. */
    async consent(actor: Actor, code: string): Promise<{ grant: Grant; platform: Platform }> {
      const user = access.requireUser(actor);
      const g = await repo.grantByCode(code);
      // Someone else's answered request is nobody else's business.
      if (!g || (g.userId && g.userId !== user.userId)) throw notFound('Consent request');
      return { grant: expiredView(g), platform: (await repo.platform(g.platformId))! };
    },

    async approve(actor: Actor, code: string, input: { dailyCap?: number | null | undefined }): Promise<Grant> {
      const user = access.requireUser(actor);
      return db.transaction(async (tx) => {
        const g = await answerable(user.userId, code, tx);
        if (g.status === 'active') return g;
        const platform = (await repo.platform(g.platformId, tx))!;
        if (platform.status !== 'active') throw new AppError('conflict', `The platform is ${platform.status}`, { code: 'platform_inactive' });
        const updated = await repo.updateGrant(g.id, { status: 'active', userId: user.userId, approvedAt: clock.now(), dailyCap: input.dailyCap === undefined ? g.dailyCap : input.dailyCap }, tx);
        await audit.record({ action: 'payplay_grant.approved', userId: user.userId, organizationId: platform.organizationId, resourceType: 'payplay_grant', resourceId: g.id, meta: user.meta, metadata: { pricePerMinute: g.pricePerMinute, dailyCap: updated.dailyCap } }, tx);
        await publish(tx, 'payplay.grant_approved', { grantId: g.id, platformId: g.platformId });
        return updated;
      });
    },

    async deny(actor: Actor, code: string): Promise<Grant> {
      const user = access.requireUser(actor);
      return db.transaction(async (tx) => {
        const g = await answerable(user.userId, code, tx);
        if (g.status === 'active') throw new AppError('conflict', 'The request was approved; revoke the grant instead', { code: 'consent_answered' });
        const denied = await repo.updateGrant(g.id, { status: 'denied', userId: user.userId, deniedAt: clock.now() }, tx);
        await publish(tx, 'payplay.grant_denied', { grantId: g.id, platformId: g.platformId });
        return denied;
      });
    },

    async listGrants(actor: Actor, q: PageQuery & { status?: GrantStatus | undefined }) {
      const user = access.requireUser(actor);
      return toPage(await repo.listGrants(user.userId, { before: decodeCursor(q.cursor), limit: q.limit, status: q.status }), q.limit);
    },

    async getGrant(actor: Actor, id: string): Promise<Grant> {
      const user = access.requireUser(actor);
      const g = await repo.grantOfUser(user.userId, id);
      if (!g) throw notFound('Grant');
      return g;
    },

    async setDailyCap(actor: Actor, id: string, dailyCap: number | null): Promise<Grant> {
      const user = access.requireUser(actor);
      return db.transaction(async (tx) => {
        const g = await repo.grantOfUser(user.userId, id, tx, true);
        if (!g) throw notFound('Grant');
        if (g.status !== 'active') throw new AppError('conflict', `The grant is ${g.status}`, { code: 'grant_not_active' });
        return repo.updateGrant(g.id, { dailyCap }, tx);
      });
    },

    /** Revocation is immediate: the grant's running sessions stop now, charged up to their last heartbeat. */
    async revokeGrant(actor: Actor, id: string): Promise<Grant> {
      const user = access.requireUser(actor);
      const revoked = await db.transaction(async (tx) => {
        const g = await repo.grantOfUser(user.userId, id, tx, true);
        if (!g) throw notFound('Grant');
        if (g.status === 'revoked') return g;
        if (g.status !== 'active') throw new AppError('conflict', `The grant is ${g.status}`, { code: 'grant_not_active' });
        const updated = await repo.updateGrant(g.id, { status: 'revoked', revokedAt: clock.now() }, tx);
        await stopWhere({ grantId: g.id }, 'grant_revoked', tx);
        await audit.record({ action: 'payplay_grant.revoked', userId: user.userId, resourceType: 'payplay_grant', resourceId: g.id, meta: user.meta }, tx);
        await publish(tx, 'payplay.grant_revoked', { grantId: g.id, platformId: g.platformId });
        return updated;
      });
      await finalizePending();
      return revoked;
    },

    // ---- the partner API: sessions

    /**
     * Starts a session under a grant and charges its first billing unit in the same transaction:
     * refused (nothing written) when the wallet or the daily cap cannot cover it.
     */
    async startSession(actor: Actor, input: { grantId: string; contentId: string; contentTitle?: string | null | undefined; pricePerMinute: number }): Promise<PlaybackSession> {
      const p = requirePlatform(actor);
      return db.transaction(async (tx) => {
        const platform = (await repo.lockPlatform(p.platformId, tx, 'share'))!;
        if (platform.status !== 'active') throw new AppError('forbidden', `The platform is ${platform.status}: it cannot start sessions`, { code: 'platform_inactive' });
        const grant = await repo.grantOfPlatform(platform.id, input.grantId, tx, true);
        if (!grant) throw notFound('Grant');
        if (grant.status !== 'active' || !grant.userId) throw new AppError('forbidden', `The grant is ${expiredView(grant).status}`, { code: 'grant_not_active' });
        if (input.pricePerMinute > grant.pricePerMinute) {
          throw new AppError('bad_request', `pricePerMinute is above the ${grant.pricePerMinute} the user agreed to`, { fields: [{ path: 'body.pricePerMinute', message: `at most ${grant.pricePerMinute}` }] });
        }
        const userWallet = await ledger.wallet({ userId: grant.userId }, grant.currency, tx);
        const partner = await ledger.wallet({ organizationId: platform.organizationId }, grant.currency, tx);
        const revenue = await ledger.platformAccount('platform_revenue', grant.currency, tx);
        const now = clock.now();
        const session = await repo.insertSession(
          {
            userId: grant.userId,
            platformId: platform.id,
            grantId: grant.id,
            organizationId: platform.organizationId,
            walletId: userWallet.wallet.id,
            walletAccountId: userWallet.available,
            partnerAccountId: partner.available,
            revenueAccountId: revenue,
            contentId: input.contentId,
            contentTitle: input.contentTitle ?? null,
            currency: grant.currency,
            pricePerMinute: input.pricePerMinute,
            billingUnitSeconds: platform.billingUnitSeconds,
            commissionBps: platform.commissionBps,
            startedAt: now,
            lastHeartbeatAt: now,
            paidUntilAt: now,
            dueAt: now,
          },
          tx,
        );
        const [d] = await bill(await repo.claimWhere({ ids: [session.id] }, tx), tx, now.getTime(), null);
        if (d?.endReason === 'insufficient_funds') throw insufficientFunds();
        if (d?.endReason === 'spending_cap') throw new AppError('payment_required', 'The daily spending cap of this grant is reached', { code: 'spending_cap' });
        return (await repo.session(session.id, tx))!;
      });
    },

    /** Records that the content is still playing. Replays are harmless: charging follows play time, not calls. */
    async heartbeat(actor: Actor, sessionId: string): Promise<PlaybackSession> {
      const p = requirePlatform(actor);
      const row = await repo.heartbeat(p.platformId, sessionId, clock.now(), settings.idleSeconds);
      if (row) return row;
      const s = await repo.sessionOfPlatform(p.platformId, sessionId);
      if (!s) throw notFound('Session');
      throw new AppError('conflict', `The session has ended (${s.endReason ?? s.status})`, { code: 'session_ended' });
    },

    /** Stops and charges up to now; stopping an ended session answers it as it is (nothing charged). */
    async stopSession(actor: Actor, sessionId: string): Promise<PlaybackSession> {
      const p = requirePlatform(actor);
      const s = await repo.sessionOfPlatform(p.platformId, sessionId);
      if (!s) throw notFound('Session');
      if (s.status !== 'active') return s;
      await db.transaction((tx) => stopWhere({ ids: [sessionId] }, 'stopped', tx));
      await finalize(sessionId).catch((err: unknown) => log.error({ err, sessionId }, 'finalizing a stopped session failed'));
      return (await repo.session(sessionId))!;
    },

    async partnerSession(actor: Actor, sessionId: string): Promise<PlaybackSession> {
      const p = requirePlatform(actor);
      const s = await repo.sessionOfPlatform(p.platformId, sessionId);
      if (!s) throw notFound('Session');
      return s;
    },

    // ---- users: history and statistics

    async mySessions(actor: Actor, q: PageQuery & { status?: string | undefined }) {
      const user = access.requireUser(actor);
      return toPage(await repo.listSessions({ userId: user.userId }, { before: decodeCursor(q.cursor), limit: q.limit, status: q.status }), q.limit);
    },

    async mySession(actor: Actor, id: string): Promise<PlaybackSession> {
      const user = access.requireUser(actor);
      const s = await repo.sessionOfUser(user.userId, id);
      if (!s) throw notFound('Session');
      return s;
    },

    async myStats(actor: Actor) {
      const user = access.requireUser(actor);
      return repo.userStats(user.userId);
    },

    // ---- partners: earnings, settlement, the wallet payouts draw on

    /** The partner organization's wallet in a currency: Pay as Play credits its available account. */
    partnerWallet: (orgId: string, currency: string, tx?: Executor): Promise<WalletAccounts> => ledger.wallet({ organizationId: orgId }, currency, tx),

    async orgWallet(actor: Actor, orgId: string, currency: string): Promise<WalletAccounts> {
      await access.requireOrg(actor, orgId, 'earnings.read');
      return ledger.wallet({ organizationId: orgId }, currency);
    },

    async earnings(actor: Actor, orgId: string, q: { period: 'day' | 'week' | 'month'; from?: Date | undefined; to?: Date | undefined; platformId?: string | undefined }) {
      await access.requireOrg(actor, orgId, 'earnings.read');
      if (q.platformId && !(await repo.platformOfOrg(orgId, q.platformId))) throw notFound('Platform');
      const to = q.to ?? clock.now();
      const from = q.from ?? new Date(to.getTime() - 31 * 86_400_000);
      if (from >= to) throw new AppError('bad_request', 'from must be before to', { fields: [{ path: 'querystring.from', message: 'not before to' }] });
      const wallets = await ledger.walletsOf({ organizationId: orgId });
      const accounts = await Promise.all(wallets.map((w) => ledger.accountsOf(w)));
      if (!accounts.length) return [];
      return repo.earnings({ partnerAccountIds: accounts.map((a) => a.available), bucket: q.period, from, to, platformId: q.platformId });
    },

    /** The daily settlement: one notification per partner organization and currency for the day (UTC). */
    async settle(day?: string): Promise<number> {
      const d = day ?? utcDay(clock.now().getTime() - 86_400_000);
      let sent = 0;
      for (const t of await repo.dayTotals(d)) {
        await db.transaction(async (tx) => {
          const inserted = await repo.insertSettlement({ organizationId: t.organizationId, currency: t.currency, day: d, gross: t.gross, commission: t.gross - t.net, net: t.net, sessions: t.sessions }, tx);
          if (!inserted) return;
          for (const userId of await repo.orgRecipients(t.organizationId, tx)) {
            await notifications.notify(
              {
                userId,
                type: 'settlement',
                title: `Pay as Play earnings for ${d}`,
                message: `On ${d} your platforms earned ${formatMoney(t.net, t.currency)} from ${t.sessions} session(s): ${formatMoney(t.gross, t.currency)} paid by users, ${formatMoney(t.gross - t.net, t.currency)} commission.`,
                actionUrl: `/v1/orgs/${t.organizationId}/payplay/earnings?period=day`,
                organizationId: t.organizationId,
                data: { day: d, currency: t.currency, gross: t.gross, net: t.net, sessions: t.sessions },
              },
              tx,
            );
          }
          sent++;
        });
      }
      return sent;
    },
  };

  /** A platform with a webhook URL and no signing secret gets one now, shown in this answer. */
  async function withSecret(platform: Platform, tx: Executor): Promise<PlatformWithSecret> {
    if (!platform.webhookUrl || !deps.webhookSecrets) return platform;
    const secret = await deps.webhookSecrets(platform.id, tx);
    return secret ? { ...platform, webhookSecret: secret } : platform;
  }

  /** A pending request past its expiry reads as expired (without a write). */
  function expiredView(g: Grant): Grant {
    return g.status === 'pending' && g.expiresAt.getTime() <= clock.now().getTime() ? { ...g, status: 'expired' } : g;
  }

  async function answerable(userId: string, code: string, tx: Executor): Promise<Grant> {
    const g = await repo.grantByCode(code, tx, true);
    if (!g || (g.userId && g.userId !== userId)) throw notFound('Consent request');
    if (g.status === 'active') return g;
    if (g.status !== 'pending') throw new AppError('conflict', `The request was already answered (${g.status})`, { code: 'consent_answered' });
    if (g.expiresAt.getTime() <= clock.now().getTime()) throw new AppError('gone', 'The consent request has expired', { code: 'consent_expired' });
    return g;
  }

  return service;
}
export type PayplayService = ReturnType<typeof createPayplayService>;
