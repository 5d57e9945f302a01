import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { ManualClock } from '../../core/clock.ts';
import { newId } from '../../core/ids.ts';
import { reconcile } from '../ledger/index.ts';
import { meter, unitCost, unitsWithin } from './payplay.billing.ts';

const clock = new ManualClock(Date.UTC(2026, 2, 2, 10, 0, 0));
let ctx: TestContext;
let admin: TestUser;
beforeAll(async () => {
  ctx = await createTestContext({ PAYPLAY_IDLE_SECONDS: '120', PAYPLAY_COMMISSION_BPS: '2000' }, { clock });
  admin = await ctx.newUser({ role: 'admin' });
  // Auto top-ups are paid through the sandbox, whose webhooks travel over real HTTP.
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  ctx.services.sandbox!.webhookUrl = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/v1/webhooks/sandbox`;
});
afterAll(async () => ctx?.close());

interface Partner {
  owner: TestUser;
  orgId: string;
  platformId: string;
  key: string;
  keyId: string;
}
interface SessionDto {
  id: string;
  status: string;
  endReason: string | null;
  totalCost: number;
  durationSeconds: number | null;
  billedUnits: number;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function newPartner(body: Record<string, unknown> = {}): Promise<Partner> {
  const owner = await ctx.newUser({ role: 'partner' });
  const org = await ctx.newOrg(owner);
  const p = await ctx.req({ method: 'POST', url: `/v1/orgs/${org.id}/platforms`, token: owner.token, payload: { name: 'StreamCo', type: 'video', currency: 'USD', pricePerMinute: 50, ...body } });
  expect(p.statusCode, p.body).toBe(201);
  const platformId = p.json<{ id: string }>().id;
  const k = await ctx.req({ method: 'POST', url: `/v1/orgs/${org.id}/platforms/${platformId}/keys`, token: owner.token, payload: { name: 'prod' } });
  expect(k.statusCode, k.body).toBe(201);
  return { owner, orgId: org.id, platformId, key: k.json<{ secret: string }>().secret, keyId: k.json<{ id: string }>().id };
}

async function fund(userId: string, amount: number): Promise<void> {
  const { ledger } = ctx.services;
  const w = await ledger.wallet({ userId }, 'USD');
  const adjustments = await ledger.platformAccount('adjustments', 'USD');
  await ledger.transfer({ key: `test:fund:${newId()}`, kind: 'adjustment', currency: 'USD', legs: [{ accountId: adjustments, amount: -amount }, { accountId: w.available, amount }] });
}

async function balance(userId: string): Promise<number> {
  const w = await ctx.services.ledger.wallet({ userId }, 'USD');
  return ctx.services.ledger.balance(w.available);
}

async function grant(p: Partner, user: TestUser, opts: { price?: number; dailyCap?: number } = {}): Promise<string> {
  const c = await ctx.req({ method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: opts.price ?? 10 } });
  expect(c.statusCode, c.body).toBe(201);
  const { code, id } = c.json<{ code: string; id: string }>();
  const a = await ctx.req({ method: 'POST', url: `/v1/payplay/grants/${code}/approve`, token: user.token, payload: opts.dailyCap ? { dailyCap: opts.dailyCap } : {} });
  expect(a.statusCode, a.body).toBe(200);
  return id;
}

const start = (p: Partner, grantId: string, price = 10, headers: Record<string, string> = {}) =>
  ctx.req({ method: 'POST', url: '/v1/payplay/partner/sessions', headers: { ...bearer(p.key), ...headers }, payload: { grantId, contentId: 'movie-1', contentTitle: 'A Movie', pricePerMinute: price } });
const startOk = async (p: Partner, grantId: string, price = 10): Promise<SessionDto> => {
  const r = await start(p, grantId, price);
  expect(r.statusCode, r.body).toBe(201);
  return r.json();
};
const heartbeat = (p: Partner, id: string, headers: Record<string, string> = {}) => ctx.req({ method: 'POST', url: `/v1/payplay/partner/sessions/${id}/heartbeat`, headers: { ...bearer(p.key), ...headers } });
const stop = (p: Partner, id: string) => ctx.req({ method: 'POST', url: `/v1/payplay/partner/sessions/${id}/stop`, headers: bearer(p.key) });
const session = async (p: Partner, id: string): Promise<SessionDto> => (await ctx.req({ method: 'GET', url: `/v1/payplay/partner/sessions/${id}`, headers: bearer(p.key) })).json();
const tick = () => ctx.services.payplay.tick();

/** What the ledger moved for a session: the wallet debits, and the partner and commission credits. */
async function ledgerOf(sessionId: string) {
  const { rows } = await ctx.database.raw.query<{ wallet: string; partner: string; revenue: string; transfers: string }>(
    `select -coalesce(sum(e.amount) filter (where e.account_id = s.wallet_account_id), 0) as wallet,
            coalesce(sum(e.amount) filter (where e.account_id = s.partner_account_id), 0) as partner,
            coalesce(sum(e.amount) filter (where e.account_id = s.revenue_account_id), 0) as revenue,
            count(distinct t.id) as transfers
       from playback_sessions s
       join ledger_transfers t on t.reference_type = 'playback_session' and t.reference_id = s.id
       join ledger_entries e on e.transfer_id = t.id
      where s.id = $1`,
    [sessionId],
  );
  const r = rows[0]!;
  return { wallet: Number(r.wallet), partner: Number(r.partner), revenue: Number(r.revenue), transfers: Number(r.transfers) };
}

const reconciled = async () => {
  const r = await reconcile(ctx.services.ledgerRepo, ctx.services.payments.invariants());
  expect(r.checks.filter((c) => !c.ok)).toEqual([]);
};

describe('the charging rule', () => {
  it('costs round(units × unit × price / 60) half up, and unitsWithin inverts it exactly', () => {
    expect(unitCost(1, 60, 10)).toBe(10);
    expect(unitCost(187, 1, 7)).toBe(22); // 21.81…
    expect(unitCost(3, 1, 10)).toBe(1); // 0.5 → 1
    for (const [U, P] of [[60, 10], [1, 7], [30, 33], [15, 1]] as const) {
      for (let amount = 0; amount < 300; amount++) {
        const u = unitsWithin(amount, U, P);
        expect(unitCost(u, U, P)).toBeLessThanOrEqual(amount);
        expect(unitCost(u + 1, U, P)).toBeGreaterThan(amount);
      }
    }
  });

  it('per-second accrual over uneven ticks loses no fraction: the total is round(seconds × price / 60)', () => {
    const base = { id: 'x', pricePerMinute: 7, billingUnitSeconds: 1, commissionBps: 2000, billedUnits: 0, totalCost: 0, commissionTotal: 0, startedMs: 0, lastHeartbeatMs: 0, grantActive: true, platformActive: true };
    let s = { ...base };
    let charged = 0;
    let commission = 0;
    for (const hb of [13, 29, 36, 71, 99, 150, 187]) {
      const d = meter({ ...s, lastHeartbeatMs: hb * 1000 }, hb * 1000, 120_000, 1_000_000, null);
      charged += d.charge;
      commission += d.commission;
      s = { ...s, billedUnits: d.units, totalCost: d.totalCost, commissionTotal: d.commissionTotal, lastHeartbeatMs: hb * 1000 };
    }
    expect(charged).toBe(Math.round((187 * 7) / 60));
    expect(commission).toBe(Math.round(charged * 0.2));
  });
});

describe('pay as play', () => {
  it('a user with 1.00 at 0.10 a minute is stopped after exactly 10 minutes with exactly 1.00 charged', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 100);
    const settings = await ctx.req({ method: 'PATCH', url: '/v1/notifications/settings', token: user.token, payload: { lowBalanceThreshold: 50 } });
    expect(settings.statusCode, settings.body).toBe(200);
    const g = await grant(p, user);
    const s = await startOk(p, g);
    expect(s.totalCost).toBe(10); // the first minute is charged at start
    let last: SessionDto = s;
    for (let t = 30; t <= 900; t += 30) {
      clock.advance(30_000);
      const hb = await heartbeat(p, s.id);
      if (hb.statusCode === 409) break;
      expect(hb.statusCode, hb.body).toBe(200);
      await tick();
      last = await session(p, s.id);
      if (last.status !== 'active') break;
    }
    expect(last).toMatchObject({ status: 'completed', endReason: 'insufficient_funds', durationSeconds: 600, totalCost: 100, billedUnits: 10 });
    expect(await balance(user.id)).toBe(0);
    const l = await ledgerOf(s.id);
    expect(l).toMatchObject({ wallet: 100, partner: 80, revenue: 20, transfers: 10 });
    // The user's side: history with costs, the session_end notification, the wallet line, the average.
    await ctx.drain();
    const mine = (await ctx.req({ method: 'GET', url: '/v1/payplay/sessions', token: user.token })).json<{ items: SessionDto[] }>();
    expect(mine.items).toMatchObject([{ id: s.id, totalCost: 100, durationSeconds: 600 }]);
    const notes = (await ctx.req({ method: 'GET', url: '/v1/notifications?type=session_end', token: user.token })).json<{ items: { relatedId: string; message: string }[] }>();
    expect(notes.items[0]).toMatchObject({ relatedId: s.id });
    expect(notes.items[0]!.message).toContain('10 min 0 s');
    const history = (await ctx.req({ method: 'GET', url: '/v1/wallets/USD/transactions?type=usage', token: user.token })).json<{ items: { amount: number; relatedId: string }[] }>();
    expect(history.items).toMatchObject([{ amount: 100, relatedId: s.id }]);
    const stats = (await ctx.req({ method: 'GET', url: '/v1/payplay/stats', token: user.token })).json<{ items: { averageMinuteCost: number; seconds: number; cost: number }[] }>();
    expect(stats.items).toMatchObject([{ averageMinuteCost: 10, seconds: 600, cost: 100 }]);
    // The low-balance alert came through the outbox once, when the balance crossed the user's 0.50.
    const low = (await ctx.req({ method: 'GET', url: '/v1/notifications?type=low_balance', token: user.token })).json<{ items: unknown[] }>();
    expect(low.items.length).toBe(1);
    await reconciled();
  });

  it('per-second billing: duration and total agree with the ledger, idle sessions are charged up to the last heartbeat', async () => {
    const p = await newPartner({ billingUnitSeconds: 1 });
    const user = await ctx.newUser();
    await fund(user.id, 10_000);
    const g = await grant(p, user, { price: 7 });
    const s = await startOk(p, g, 7);
    for (const step of [13, 16, 7, 35, 28, 51, 37]) {
      clock.advance(step * 1000);
      expect((await heartbeat(p, s.id)).statusCode).toBe(200);
      await tick();
    }
    const stopped = (await stop(p, s.id)).json<SessionDto>();
    expect(stopped).toMatchObject({ status: 'completed', endReason: 'stopped', durationSeconds: 187, totalCost: Math.round((187 * 7) / 60) });
    expect((await ledgerOf(s.id)).wallet).toBe(stopped.totalCost);

    // Idle: a heartbeat at 45 s, then silence past PAYPLAY_IDLE_SECONDS.
    const p60 = await newPartner();
    const g2 = await grant(p60, user, { price: 10 });
    const s2 = await startOk(p60, g2);
    clock.advance(45_000);
    await heartbeat(p60, s2.id);
    clock.advance(119_000);
    await tick();
    expect((await session(p60, s2.id)).status).toBe('active');
    clock.advance(1_000);
    await tick();
    expect(await session(p60, s2.id)).toMatchObject({ status: 'completed', endReason: 'idle', durationSeconds: 45, totalCost: 10 });
    expect((await heartbeat(p60, s2.id)).statusCode).toBe(409);
    await reconciled();
  });

  it('an auto top-up started when the balance crosses its threshold keeps the session playing', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 100);
    const set = await ctx.req({ method: 'PUT', url: '/v1/wallets/USD/auto-top-up', token: user.token, payload: { enabled: true, threshold: 50, amount: 1000, paymentMethodId: 'pm_card_visa' } });
    expect(set.statusCode, set.body).toBe(200);
    const s = await startOk(p, await grant(p, user));
    for (let t = 30; t <= 900; t += 30) {
      clock.advance(30_000);
      expect((await heartbeat(p, s.id)).statusCode).toBe(200);
      await tick();
      await ctx.drain(); // the outbox event, the auto top-up job, the sandbox's webhook
    }
    expect(await session(p, s.id)).toMatchObject({ status: 'active', totalCost: 150 });
    expect(await balance(user.id)).toBe(100 + 1000 - 150);
    const { rows } = await ctx.database.raw.query<{ n: string }>("select count(*)::text as n from payments where user_id = $1 and purpose = 'auto_topup'", [user.id]);
    expect(rows[0]!.n).toBe('1');
    await stop(p, s.id);
    await reconciled();
  });

  it('sessions sharing one wallet never overspend it, in one tick or in concurrent starts, ticks and stops', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 55);
    const g = await grant(p, user);
    const ids = [(await startOk(p, g)).id, (await startOk(p, g)).id, (await startOk(p, g)).id];
    expect(await balance(user.id)).toBe(25);
    clock.advance(61_000);
    for (const id of ids) await heartbeat(p, id);
    await tick();
    const after = await Promise.all(ids.map((id) => session(p, id)));
    expect(after.map((s) => s.status).sort()).toEqual(['active', 'active', 'completed']);
    expect(after.find((s) => s.status === 'completed')).toMatchObject({ endReason: 'insufficient_funds', totalCost: 10, durationSeconds: 60 });
    expect(await balance(user.id)).toBe(5);
    clock.advance(60_000);
    for (const id of ids) await heartbeat(p, id);
    await tick();
    expect((await Promise.all(ids.map((id) => session(p, id)))).every((s) => s.status === 'completed')).toBe(true);
    expect(await balance(user.id)).toBe(5);
    const charged = (await Promise.all(ids.map(ledgerOf))).reduce((a, l) => a + l.wallet, 0);
    expect(charged).toBe(50);

    // Concurrent: 6 starts on a wallet that covers 4 first minutes, then ticks racing stops.
    const u2 = await ctx.newUser();
    await fund(u2.id, 45);
    const g2 = await grant(p, u2);
    const starts = await Promise.all(Array.from({ length: 6 }, () => start(p, g2)));
    expect(starts.map((r) => r.statusCode).sort()).toEqual([201, 201, 201, 201, 402, 402]);
    expect(starts.find((r) => r.statusCode === 402)!.json<{ code: string }>().code).toBe('insufficient_funds');
    const running = starts.filter((r) => r.statusCode === 201).map((r) => r.json<SessionDto>().id);
    clock.advance(90_000);
    for (const id of running) await heartbeat(p, id);
    await Promise.all([tick(), stop(p, running[0]!), tick(), stop(p, running[1]!), tick()]);
    await tick();
    expect(await balance(u2.id)).toBeGreaterThanOrEqual(0);
    const total = (await Promise.all(running.map(ledgerOf))).reduce((a, l) => a + l.wallet, 0);
    expect(total + (await balance(u2.id))).toBe(45);
    await reconciled();
  });

  it('a replayed heartbeat and a double stop charge once', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user);
    const key = `start-${newId()}`;
    const first = await start(p, g, 10, { 'idempotency-key': key });
    const again = await start(p, g, 10, { 'idempotency-key': key });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<SessionDto>().id).toBe(first.json<SessionDto>().id);
    const s = first.json<SessionDto>();
    clock.advance(70_000);
    const hbKey = `hb-${newId()}`;
    expect((await heartbeat(p, s.id, { 'idempotency-key': hbKey })).statusCode).toBe(200);
    expect((await heartbeat(p, s.id, { 'idempotency-key': hbKey })).headers['idempotent-replayed']).toBe('true');
    await heartbeat(p, s.id);
    await tick();
    await tick();
    expect((await session(p, s.id)).totalCost).toBe(20);
    const [a, b] = await Promise.all([stop(p, s.id), stop(p, s.id)]);
    const c = await stop(p, s.id);
    for (const r of [a, b, c]) expect(r.json<SessionDto>()).toMatchObject({ status: 'completed', totalCost: 20, durationSeconds: 70 });
    expect(await ledgerOf(s.id)).toMatchObject({ wallet: 20, transfers: 2 });
    expect(await balance(user.id)).toBe(980);
    await reconciled();
  });

  it('a revoked or rotated key is refused at once; a revoked grant stops its sessions at once', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user);
    const s = await startOk(p, g);
    const rotated = await ctx.req({ method: 'POST', url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/keys/${p.keyId}/rotate`, token: p.owner.token });
    expect(rotated.statusCode, rotated.body).toBe(201);
    expect((await heartbeat(p, s.id)).statusCode).toBe(401);
    const p2 = { ...p, key: rotated.json<{ secret: string }>().secret, keyId: rotated.json<{ id: string }>().id };
    expect((await heartbeat(p2, s.id)).statusCode).toBe(200);
    const revoked = await ctx.req({ method: 'DELETE', url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/keys/${p2.keyId}`, token: p.owner.token });
    expect(revoked.statusCode).toBe(200);
    expect((await heartbeat(p2, s.id)).statusCode).toBe(401);
    const keys = (await ctx.req({ method: 'GET', url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/keys`, token: p.owner.token })).json<{ items: { revokedAt: string | null; lastUsedAt: string | null }[] }>();
    expect(keys.items.every((k) => k.revokedAt && k.lastUsedAt)).toBe(true);

    const k3 = (await ctx.req({ method: 'POST', url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}/keys`, token: p.owner.token, payload: { name: 'new' } })).json<{ secret: string }>();
    const p3 = { ...p, key: k3.secret };
    clock.advance(30_000);
    await heartbeat(p3, s.id);
    clock.advance(20_000);
    const r = await ctx.req({ method: 'POST', url: `/v1/payplay/grants/${g}/revoke`, token: user.token });
    expect(r.json<{ status: string }>().status).toBe('revoked');
    expect(await session(p3, s.id)).toMatchObject({ status: 'cancelled', endReason: 'grant_revoked', durationSeconds: 30, totalCost: 10 });
    expect((await heartbeat(p3, s.id)).json<{ code: string }>().code).toBe('session_ended');
    const refused = await start(p3, g);
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ code: string }>().code).toBe('grant_not_active');
    const grants = (await ctx.req({ method: 'GET', url: '/v1/payplay/grants', token: user.token })).json<{ items: { id: string; status: string; platformName: string }[] }>();
    expect(grants.items).toMatchObject([{ id: g, status: 'revoked', platformName: 'StreamCo' }]);
    await reconciled();
  });

  it('a suspended platform cannot start sessions, and its running sessions stop; the partner cannot lift it', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user);
    const s = await startOk(p, g);
    const forbidden = await ctx.req({ method: 'POST', url: `/v1/admin/payplay/platforms/${p.platformId}/status`, token: p.owner.token, payload: { status: 'suspended' } });
    expect(forbidden.statusCode).toBe(403);
    const susp = await ctx.req({ method: 'POST', url: `/v1/admin/payplay/platforms/${p.platformId}/status`, token: admin.token, payload: { status: 'suspended', reason: 'fraud' } });
    expect(susp.json<{ status: string }>().status).toBe('suspended');
    expect(await session(p, s.id)).toMatchObject({ status: 'cancelled', endReason: 'platform_inactive' });
    const refused = await start(p, g);
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ code: string }>().code).toBe('platform_inactive');
    expect((await ctx.req({ method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: 10 } })).statusCode).toBe(403);
    const lift = await ctx.req({ method: 'PATCH', url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}`, token: p.owner.token, payload: { status: 'active' } });
    expect(lift.statusCode).toBe(409);
    await ctx.req({ method: 'POST', url: `/v1/admin/payplay/platforms/${p.platformId}/status`, token: admin.token, payload: { status: 'active' } });
    const s2 = await startOk(p, g);
    // The partner deactivating its platform stops it too.
    await ctx.req({ method: 'PATCH', url: `/v1/orgs/${p.orgId}/platforms/${p.platformId}`, token: p.owner.token, payload: { status: 'inactive' } });
    expect(await session(p, s2.id)).toMatchObject({ status: 'cancelled', endReason: 'platform_inactive' });
    await reconciled();
  });

  it('honours the daily spending cap the same way (reason spending_cap), and resets it the next UTC day', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user, { dailyCap: 25 });
    const s = await startOk(p, g);
    for (let i = 0; i < 4; i++) {
      clock.advance(60_000);
      await heartbeat(p, s.id);
      await tick();
    }
    expect(await session(p, s.id)).toMatchObject({ status: 'completed', endReason: 'spending_cap', totalCost: 20, durationSeconds: 120 });
    const s2 = await start(p, g);
    expect(s2.statusCode).toBe(402);
    expect(s2.json<{ code: string }>().code).toBe('spending_cap');
    clock.advance(86_400_000);
    await startOk(p, g);
    await reconciled();
  });

  it('the session_end notification follows the user’s preferences', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const put = await ctx.req({ method: 'PATCH', url: '/v1/notifications/settings', token: user.token, payload: { typePreferences: { session_end: { inApp: false } } } });
    expect(put.statusCode, put.body).toBe(200);
    const s = await startOk(p, await grant(p, user));
    await stop(p, s.id);
    const notes = (await ctx.req({ method: 'GET', url: '/v1/notifications?type=session_end', token: user.token })).json<{ items: unknown[] }>();
    expect(notes.items).toEqual([]);
  });

  it('partners see earnings per platform and period, get a daily settlement notification once, and their wallet', async () => {
    clock.set(Date.UTC(2026, 4, 10, 9, 0, 0));
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user);
    const s = await startOk(p, g);
    clock.advance(150_000);
    await heartbeat(p, s.id);
    await stop(p, s.id); // 3 minutes: 30, of which 6 commission
    const e = await ctx.req({ method: 'GET', url: `/v1/orgs/${p.orgId}/payplay/earnings?period=month&from=2026-05-01T00:00:00Z&to=2026-06-01T00:00:00Z`, token: p.owner.token });
    expect(e.statusCode, e.body).toBe(200);
    expect(e.json<{ items: unknown[] }>().items).toMatchObject([{ bucket: '2026-05-01T00:00:00.000Z', platformId: p.platformId, gross: 30, commission: 6, net: 24, sessions: 1 }]);
    const w = (await ctx.req({ method: 'GET', url: `/v1/orgs/${p.orgId}/payplay/wallet/usd`, token: p.owner.token })).json<{ balance: number }>();
    expect(w.balance).toBe(24);
    clock.set(Date.UTC(2026, 4, 11, 0, 5, 0));
    expect(await ctx.services.payplay.settle()).toBeGreaterThanOrEqual(1);
    expect(await ctx.services.payplay.settle()).toBe(0);
    const notes = (await ctx.req({ method: 'GET', url: '/v1/notifications?type=settlement', token: p.owner.token })).json<{ items: { message: string }[] }>();
    expect(notes.items).toHaveLength(1);
    expect(notes.items[0]!.message).toContain('$0.24');
  });

  it('a partner withdraws its earnings from the organization wallet through payouts', async () => {
    const p = await newPartner({ pricePerMinute: 10000 });
    const admin = await ctx.newUser({ role: 'admin' });
    const user = await ctx.newUser();
    await fund(user.id, 100_000);
    const g = await grant(p, user, { price: 10000 });
    const s = await startOk(p, g, 10000);
    clock.advance(60_000 * 9);
    await heartbeat(p, s.id);
    await stop(p, s.id); // 9 minutes at 100.00: 900.00, of which 20 % commission
    const w = (await ctx.req({ method: 'GET', url: `/v1/orgs/${p.orgId}/payplay/wallet/usd`, token: p.owner.token })).json<{ balance: number }>();
    expect(w.balance).toBe(72_000);
    const bank = { method: 'bank', bank: { accountHolderName: 'StreamCo GmbH', iban: 'DE89 3704 0044 0532 0130 00' } };
    // Payouts need a verified destination first: the owner's own verified address as the wallet's PayPal.
    const settings = await ctx.req({ method: 'PUT', url: `/v1/orgs/${p.orgId}/wallets/USD/payout-settings`, token: p.owner.token, payload: { paypalEmail: p.owner.email } });
    expect(settings.json<{ payoutsEnabled: boolean }>().payoutsEnabled, settings.body).toBe(true);
    const req = await ctx.req({
      method: 'POST',
      url: `/v1/orgs/${p.orgId}/payouts`,
      token: p.owner.token,
      headers: { 'idempotency-key': `partner-${newId()}` },
      payload: { amount: 70_000, currency: 'USD', ...bank },
    });
    expect(req.statusCode, req.body).toBe(201);
    const payout = req.json<{ id: string; status: string }>();
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${p.orgId}/payplay/wallet/usd`, token: p.owner.token })).json<{ balance: number }>().balance).toBe(2_000);
    const ok = await ctx.req({ method: 'POST', url: `/v1/admin/payouts/${payout.id}/approve`, token: admin.token });
    expect(ok.statusCode, ok.body).toBe(200);
    await ctx.drain();
    const done = await ctx.req({ method: 'GET', url: `/v1/orgs/${p.orgId}/payouts`, token: p.owner.token });
    expect(done.json<{ items: { id: string; status: string }[] }>().items.find((x) => x.id === payout.id)?.status).toBe('completed');
    await reconciled();
  });

  it('the consent page: a signed-in user approves or denies in the browser', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    const c = (await ctx.req({ method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: 25, externalRef: 'u-42' } })).json<{ code: string; id: string; consentUrl: string }>();
    expect(c.consentUrl).toBe(`http://fanfare.test/consent/${c.code}`);
    expect((await ctx.req({ method: 'GET', url: `/consent/${c.code}` })).statusCode).toBe(401);
    const html = await ctx.req({ method: 'GET', url: `/consent/${c.code}`, token: user.token });
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('$0.25 per minute');
    const ok = await ctx.req({ method: 'POST', url: `/consent/${c.code}/approve`, token: user.token, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'dailyCap=500' });
    expect(ok.statusCode, ok.body).toBe(200);
    const seen = (await ctx.req({ method: 'GET', url: `/v1/payplay/partner/grants/${c.id}`, headers: bearer(p.key) })).json<{ status: string; dailyCap: number }>();
    expect(seen).toMatchObject({ status: 'active', dailyCap: 500 });
    const c2 = (await ctx.req({ method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: 25 } })).json<{ code: string; id: string }>();
    expect((await ctx.req({ method: 'POST', url: `/consent/${c2.code}/deny`, token: user.token, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })).statusCode).toBe(200);
    expect((await ctx.req({ method: 'POST', url: `/v1/payplay/grants/${c2.code}/approve`, token: user.token, payload: {} })).statusCode).toBe(409);
    // Expired codes cannot be approved.
    const c3 = (await ctx.req({ method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: 25 } })).json<{ code: string }>();
    clock.advance(3601_000);
    expect((await ctx.req({ method: 'POST', url: `/v1/payplay/grants/${c3.code}/approve`, token: user.token, payload: {} })).statusCode).toBe(410);
  });

  it('one partner cannot touch another’s platforms, sessions or grants (404), nor another user’s', async () => {
    const a = await newPartner();
    const b = await newPartner();
    const user = await ctx.newUser();
    const other = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(a, user);
    const s = await startOk(a, g);
    for (const r of [
      await ctx.req({ method: 'GET', url: `/v1/payplay/partner/sessions/${s.id}`, headers: bearer(b.key) }),
      await heartbeat(b, s.id),
      await stop(b, s.id),
      await ctx.req({ method: 'GET', url: `/v1/payplay/partner/grants/${g}`, headers: bearer(b.key) }),
      await start(b, g),
      await ctx.req({ method: 'GET', url: `/v1/orgs/${a.orgId}/platforms/${a.platformId}`, token: b.owner.token }),
      await ctx.req({ method: 'GET', url: `/v1/orgs/${b.orgId}/platforms/${a.platformId}`, token: b.owner.token }),
      await ctx.req({ method: 'PATCH', url: `/v1/orgs/${b.orgId}/platforms/${a.platformId}`, token: b.owner.token, payload: { name: 'mine' } }),
      await ctx.req({ method: 'POST', url: `/v1/orgs/${b.orgId}/platforms/${a.platformId}/keys`, token: b.owner.token, payload: { name: 'x' } }),
      await ctx.req({ method: 'DELETE', url: `/v1/orgs/${b.orgId}/platforms/${a.platformId}/keys/${a.keyId}`, token: b.owner.token }),
      await ctx.req({ method: 'GET', url: `/v1/orgs/${a.orgId}/payplay/earnings`, token: b.owner.token }),
      await ctx.req({ method: 'GET', url: `/v1/payplay/sessions/${s.id}`, token: other.token }),
      await ctx.req({ method: 'POST', url: `/v1/payplay/grants/${g}/revoke`, token: other.token }),
      await ctx.req({ method: 'GET', url: `/v1/payplay/grants/${g}`, token: other.token }),
    ]) {
      expect(r.statusCode, r.body).toBe(404);
    }
    expect(await session(a, s.id)).toMatchObject({ status: 'active', totalCost: 10 });
    // A platform key is not a user and not an organization key.
    expect((await ctx.req({ method: 'GET', url: '/v1/payplay/sessions', headers: bearer(a.key) })).statusCode).toBe(403);
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${a.orgId}/platforms`, headers: bearer(a.key) })).statusCode).toBe(403);
    // A user is not a platform.
    expect((await ctx.req({ method: 'POST', url: '/v1/payplay/partner/consents', token: user.token, payload: { pricePerMinute: 10 } })).statusCode).toBe(403);
  });

  it('refuses bad input on every route with a 4xx naming the field, and changes nothing', async () => {
    const p = await newPartner();
    const user = await ctx.newUser();
    await fund(user.id, 1000);
    const g = await grant(p, user);
    const s = await startOk(p, g);
    const count = async () => (await ctx.database.raw.query<{ n: string }>(`select (select count(*) from playback_sessions) + (select count(*) from platforms) + (select count(*) from payplay_grants) + (select count(*) from platform_api_keys) + (select count(*) from ledger_transfers) as n`)).rows[0]!.n;
    const before = await count();
    const o = `/v1/orgs/${p.orgId}/platforms`;
    const cases: [string, Parameters<TestContext['req']>[0], string][] = [
      ['create platform type', { method: 'POST', url: o, token: p.owner.token, payload: { name: 'x', type: 'tv', currency: 'USD', pricePerMinute: 10 } }, 'body.type'],
      ['create platform price', { method: 'POST', url: o, token: p.owner.token, payload: { name: 'x', type: 'video', currency: 'USD', pricePerMinute: 1.5 } }, 'body.pricePerMinute'],
      ['create platform currency', { method: 'POST', url: o, token: p.owner.token, payload: { name: 'x', type: 'video', currency: 'XXX', pricePerMinute: 10 } }, 'body.currency'],
      ['create platform unit', { method: 'POST', url: o, token: p.owner.token, payload: { name: 'x', type: 'video', currency: 'USD', pricePerMinute: 10, billingUnitSeconds: 0 } }, 'body.billingUnitSeconds'],
      ['create platform url', { method: 'POST', url: o, token: p.owner.token, payload: { name: 'x', type: 'video', currency: 'USD', pricePerMinute: 10, webhookUrl: 'nope' } }, 'body.webhookUrl'],
      ['org id', { method: 'GET', url: '/v1/orgs/nope/platforms', token: p.owner.token }, 'params.orgId'],
      ['list limit', { method: 'GET', url: `${o}?limit=0`, token: p.owner.token }, 'querystring.limit'],
      ['patch status', { method: 'PATCH', url: `${o}/${p.platformId}`, token: p.owner.token, payload: { status: 'suspended' } }, 'body.status'],
      ['patch unknown', { method: 'PATCH', url: `${o}/${p.platformId}`, token: p.owner.token, payload: { commissionBps: 0 } }, 'body'],
      ['key name', { method: 'POST', url: `${o}/${p.platformId}/keys`, token: p.owner.token, payload: { name: '' } }, 'body.name'],
      ['key id', { method: 'DELETE', url: `${o}/${p.platformId}/keys/nope`, token: p.owner.token }, 'params.keyId'],
      ['rotate key id', { method: 'POST', url: `${o}/${p.platformId}/keys/nope/rotate`, token: p.owner.token }, 'params.keyId'],
      ['sessions status', { method: 'GET', url: `${o}/${p.platformId}/sessions?status=x`, token: p.owner.token }, 'querystring.status'],
      ['earnings period', { method: 'GET', url: `/v1/orgs/${p.orgId}/payplay/earnings?period=year`, token: p.owner.token }, 'querystring.period'],
      ['earnings range', { method: 'GET', url: `/v1/orgs/${p.orgId}/payplay/earnings?from=2026-02-01&to=2026-01-01`, token: p.owner.token }, 'querystring.from'],
      ['wallet currency', { method: 'GET', url: `/v1/orgs/${p.orgId}/payplay/wallet/XYZ`, token: p.owner.token }, 'params.currency'],
      ['admin status', { method: 'POST', url: `/v1/admin/payplay/platforms/${p.platformId}/status`, token: admin.token, payload: { status: 'gone' } }, 'body.status'],
      ['admin commission', { method: 'POST', url: `/v1/admin/payplay/platforms/${p.platformId}/commission`, token: admin.token, payload: { commissionBps: 10001 } }, 'body.commissionBps'],
      ['consent price', { method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: -1 } }, 'body.pricePerMinute'],
      ['consent above platform price', { method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: 51 } }, 'body.pricePerMinute'],
      ['consent cap', { method: 'POST', url: '/v1/payplay/partner/consents', headers: bearer(p.key), payload: { pricePerMinute: 10, dailyCap: 0 } }, 'body.dailyCap'],
      ['partner grant id', { method: 'GET', url: '/v1/payplay/partner/grants/nope', headers: bearer(p.key) }, 'params.grantId'],
      ['start grant', { method: 'POST', url: '/v1/payplay/partner/sessions', headers: bearer(p.key), payload: { grantId: 'x', contentId: 'c', pricePerMinute: 10 } }, 'body.grantId'],
      ['start content', { method: 'POST', url: '/v1/payplay/partner/sessions', headers: bearer(p.key), payload: { grantId: g, contentId: '', pricePerMinute: 10 } }, 'body.contentId'],
      ['start price missing', { method: 'POST', url: '/v1/payplay/partner/sessions', headers: bearer(p.key), payload: { grantId: g, contentId: 'c' } }, 'body.pricePerMinute'],
      ['start above consent', { method: 'POST', url: '/v1/payplay/partner/sessions', headers: bearer(p.key), payload: { grantId: g, contentId: 'c', pricePerMinute: 11 } }, 'body.pricePerMinute'],
      ['heartbeat id', { method: 'POST', url: '/v1/payplay/partner/sessions/nope/heartbeat', headers: bearer(p.key) }, 'params.sessionId'],
      ['stop id', { method: 'POST', url: '/v1/payplay/partner/sessions/nope/stop', headers: bearer(p.key) }, 'params.sessionId'],
      ['partner session id', { method: 'GET', url: '/v1/payplay/partner/sessions/nope', headers: bearer(p.key) }, 'params.sessionId'],
      ['consent code', { method: 'GET', url: '/v1/payplay/consents/%20bad%20', token: user.token }, 'params.code'],
      ['approve cap', { method: 'POST', url: '/v1/payplay/grants/abcdefghijk/approve', token: user.token, payload: { dailyCap: 'lots' } }, 'body.dailyCap'],
      ['deny code', { method: 'POST', url: '/v1/payplay/grants/x/deny', token: user.token }, 'params.code'],
      ['grants status', { method: 'GET', url: '/v1/payplay/grants?status=x', token: user.token }, 'querystring.status'],
      ['grant id', { method: 'GET', url: '/v1/payplay/grants/nope', token: user.token }, 'params.grantId'],
      ['grant cap', { method: 'PATCH', url: `/v1/payplay/grants/${g}`, token: user.token, payload: { dailyCap: -5 } }, 'body.dailyCap'],
      ['revoke id', { method: 'POST', url: '/v1/payplay/grants/nope/revoke', token: user.token }, 'params.grantId'],
      ['sessions cursor', { method: 'GET', url: '/v1/payplay/sessions?cursor=zzz', token: user.token }, 'querystring.cursor'],
      ['session id', { method: 'GET', url: '/v1/payplay/sessions/nope', token: user.token }, 'params.sessionId'],
    ];
    for (const [name, req, field] of cases) {
      const r = await ctx.req(req);
      expect(r.statusCode, `${name}: ${r.body}`).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, `${name}: ${r.body}`).toBeLessThan(500);
      const errors = r.json<{ errors?: { path: string }[] }>().errors ?? [];
      expect(errors.map((e) => e.path).some((path) => path.startsWith(field)), `${name}: ${r.body}`).toBe(true);
    }
    expect(await count()).toBe(before);
    expect(await session(p, s.id)).toMatchObject({ status: 'active', totalCost: 10 });
  });

  it('answers 401 without credentials on every route', async () => {
    const id = newId();
    for (const [method, url] of [
      ['POST', `/v1/orgs/${id}/platforms`],
      ['GET', `/v1/orgs/${id}/platforms`],
      ['GET', `/v1/orgs/${id}/platforms/${id}`],
      ['PATCH', `/v1/orgs/${id}/platforms/${id}`],
      ['GET', `/v1/orgs/${id}/platforms/${id}/sessions`],
      ['POST', `/v1/orgs/${id}/platforms/${id}/keys`],
      ['GET', `/v1/orgs/${id}/platforms/${id}/keys`],
      ['DELETE', `/v1/orgs/${id}/platforms/${id}/keys/${id}`],
      ['POST', `/v1/orgs/${id}/platforms/${id}/keys/${id}/rotate`],
      ['GET', `/v1/orgs/${id}/payplay/earnings`],
      ['GET', `/v1/orgs/${id}/payplay/wallet/USD`],
      ['POST', `/v1/admin/payplay/platforms/${id}/status`],
      ['POST', `/v1/admin/payplay/platforms/${id}/commission`],
      ['GET', '/v1/payplay/partner/platform'],
      ['POST', '/v1/payplay/partner/consents'],
      ['GET', `/v1/payplay/partner/grants/${id}`],
      ['POST', '/v1/payplay/partner/sessions'],
      ['POST', `/v1/payplay/partner/sessions/${id}/heartbeat`],
      ['POST', `/v1/payplay/partner/sessions/${id}/stop`],
      ['GET', `/v1/payplay/partner/sessions/${id}`],
      ['GET', '/v1/payplay/consents/abcdefghij'],
      ['POST', '/v1/payplay/grants/abcdefghij/approve'],
      ['POST', '/v1/payplay/grants/abcdefghij/deny'],
      ['GET', '/v1/payplay/grants'],
      ['GET', `/v1/payplay/grants/${id}`],
      ['PATCH', `/v1/payplay/grants/${id}`],
      ['POST', `/v1/payplay/grants/${id}/revoke`],
      ['GET', '/v1/payplay/sessions'],
      ['GET', `/v1/payplay/sessions/${id}`],
      ['GET', '/v1/payplay/stats'],
    ] as const) {
      const payload = method === 'POST' || method === 'PATCH' ? {} : undefined;
      const r = await ctx.req({ method, url, ...(payload ? { payload } : {}) });
      // Bodies are validated before the service runs; authentication is the service's first check.
      expect([400, 401], `${method} ${url}: ${r.body}`).toContain(r.statusCode);
      if (r.statusCode === 400) {
        const ok = await ctx.req({ method, url, payload: validBody(url) });
        expect(ok.statusCode, `${method} ${url}: ${ok.body}`).toBe(401);
      }
    }
    const bad = await ctx.req({ method: 'GET', url: '/v1/payplay/partner/platform', headers: bearer('ffp_not-a-key') });
    expect(bad.statusCode).toBe(401);
  });

  it('the ledger reconciles after everything above', async () => {
    await tick();
    await reconciled();
  });
});

function validBody(url: string): Record<string, unknown> {
  if (url.endsWith('/platforms')) return { name: 'x', type: 'video', currency: 'USD', pricePerMinute: 10 };
  if (url.endsWith('/keys')) return { name: 'x' };
  if (url.endsWith('/status')) return { status: 'active' };
  if (url.endsWith('/commission')) return { commissionBps: 10 };
  if (url.endsWith('/consents')) return { pricePerMinute: 10 };
  if (url.endsWith('/sessions')) return { grantId: newId(), contentId: 'c', pricePerMinute: 10 };
  if (url.includes('/v1/payplay/grants/') && !url.endsWith('approve') && !url.endsWith('deny') && !url.endsWith('revoke')) return { dailyCap: null };
  return {};
}
