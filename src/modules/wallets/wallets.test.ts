import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { newId } from '../../core/ids.ts';
import { reconcile } from '../ledger/index.ts';
import { signSandboxPayload, SANDBOX_SIGNATURE_HEADER } from '../payments/index.ts';

let ctx: TestContext;
let webhookUrl: string;
beforeAll(async () => {
  ctx = await createTestContext();
  // Webhooks travel over real HTTP: the app listens, and the sandbox delivers to it.
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  webhookUrl = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/v1/webhooks/sandbox`;
  ctx.services.sandbox!.webhookUrl = webhookUrl;
});
afterAll(async () => ctx.close());

const reconciled = async () => {
  const r = await reconcile(ctx.services.ledgerRepo, ctx.services.payments.invariants());
  expect(r.checks.filter((c) => !c.ok)).toEqual([]);
};
const wallet = async (u: TestUser) => (await ctx.req({ method: 'GET', url: '/v1/wallets/USD', token: u.token })).json<{ id: string; balance: number; balanceAvailable: number }>();
const topUp = async (u: TestUser, amount: number, paymentMethod = 'pm_card_visa', key?: string) =>
  ctx.req({ method: 'POST', url: '/v1/wallets/usd/top-ups', token: u.token, payload: { amount, paymentMethod }, headers: key ? { 'idempotency-key': key } : {} });
const spend = (walletId: string, amount: number) =>
  ctx.database.db.transaction(async (tx) => {
    const revenue = await ctx.services.ledger.platformAccount('platform_revenue', 'USD', tx);
    return ctx.services.wallets.spend({ walletId, amount, key: `spend:${newId()}`, to: [{ accountId: revenue, amount }], type: 'payment', description: 'test spend' }, tx);
  });

describe('wallets and payments', () => {
  it('tops up through the sandbox: credited only when the signed webhook arrives, once per Idempotency-Key', async () => {
    const u = await ctx.newUser();
    const key = `topup-${newId()}`;
    const res = await topUp(u, 2500, 'pm_card_visa', key);
    expect(res.statusCode, res.body).toBe(201);
    const { payment } = res.json<{ payment: { id: string; status: string; feeAmount: number } }>();
    expect(payment.status).toBe('processing');
    expect(payment.feeAmount).toBe(103); // 2.9 % of 25.00 = 0.725 → 0.73, + 0.30
    expect((await wallet(u)).balance).toBe(0);
    const replay = await topUp(u, 2500, 'pm_card_visa', key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json<{ payment: { id: string } }>().payment.id).toBe(payment.id);
    await ctx.drain();
    expect((await wallet(u)).balance).toBe(2500);
    const p = (await ctx.req({ method: 'GET', url: `/v1/payments/${payment.id}`, token: u.token })).json<{ status: string }>();
    expect(p.status).toBe('success');
    const history = (await ctx.req({ method: 'GET', url: '/v1/wallets/USD/transactions?type=topup', token: u.token })).json<{ items: { amount: number; status: string }[] }>();
    expect(history.items).toMatchObject([{ amount: 2500, status: 'completed' }]);
    await reconciled();
  });

  it('a declined card fails the payment and credits nothing; 3-D Secure credits after authentication', async () => {
    const u = await ctx.newUser();
    const declined = (await topUp(u, 1000, 'pm_card_chargeDeclined')).json<{ payment: { id: string; status: string; failureReason: string } }>();
    expect(declined.payment).toMatchObject({ status: 'failed', failureReason: 'Your card was declined.' });
    const sca = (await topUp(u, 1500, 'pm_card_authenticationRequired')).json<{ payment: { id: string; status: string; gatewayPaymentId: string }; nextActionUrl: string }>();
    expect(sca.payment.status).toBe('requires_action');
    await ctx.drain();
    expect((await wallet(u)).balance).toBe(0);
    const auth = await ctx.req({ method: 'POST', url: new URL(sca.nextActionUrl).pathname, payload: { outcome: 'succeed' } });
    expect(auth.statusCode, auth.body).toBe(200);
    await ctx.drain();
    expect((await wallet(u)).balance).toBe(1500);
    expect((await ctx.req({ method: 'GET', url: `/v1/payments/${declined.payment.id}`, token: u.token })).json<{ status: string }>().status).toBe('failed');
    await reconciled();
  });

  it('refuses forged webhooks, and applies duplicated and out-of-order ones once', async () => {
    const u = await ctx.newUser();
    const { payment } = (await topUp(u, 4000)).json<{ payment: { id: string; gatewayPaymentId: string } }>();
    const body = JSON.stringify({
      id: `evt_forged_${newId()}`,
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: payment.gatewayPaymentId, object: 'payment_intent', amount: 4000, currency: 'usd', status: 'succeeded', metadata: { payment_id: payment.id } } },
    });
    const forged = await ctx.req({ method: 'POST', url: '/v1/webhooks/sandbox', headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload('not-the-secret', body) }, payload: body });
    expect(forged.statusCode).toBe(400);
    expect(forged.json<{ code: string }>().code).toBe('invalid_signature');
    const unsigned = await ctx.req({ method: 'POST', url: '/v1/webhooks/sandbox', headers: { 'content-type': 'application/json' }, payload: body });
    expect(unsigned.statusCode).toBe(400);
    expect((await wallet(u)).balance).toBe(0);
    await ctx.drain();
    expect((await wallet(u)).balance).toBe(4000);
    // The provider delivers the same event again, and a stale failure arrives late.
    const { rows } = await ctx.database.raw.query<{ payload: unknown }>("select payload from sandbox_events where type = 'payment_intent.succeeded' and payload->'data'->'object'->>'id' = $1", [payment.gatewayPaymentId]);
    const again = JSON.stringify(rows[0]!.payload);
    const secret = (ctx.services.sandbox as unknown as { deps: { secret: string } }).deps.secret;
    const dup = await ctx.req({ method: 'POST', url: '/v1/webhooks/sandbox', headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(secret, again) }, payload: again });
    expect(dup.json<{ status: string }>().status).toBe('duplicate');
    const late = JSON.stringify({ ...JSON.parse(body), id: `evt_late_${newId()}`, type: 'payment_intent.payment_failed' });
    const lateRes = await ctx.req({ method: 'POST', url: '/v1/webhooks/sandbox', headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(secret, late) }, payload: late });
    expect(lateRes.json<{ status: string }>().status).toBe('ignored');
    expect((await wallet(u)).balance).toBe(4000);
    await reconciled();
  });

  it('retries delivery while our endpoint is down', async () => {
    const u = await ctx.newUser();
    ctx.services.sandbox!.webhookUrl = 'http://127.0.0.1:9/v1/webhooks/sandbox';
    const { payment } = (await topUp(u, 1200)).json<{ payment: { gatewayPaymentId: string } }>();
    await ctx.drain();
    const { rows } = await ctx.database.raw.query<{ id: string; attempts: number; delivered_at: Date | null }>(
      "select id, attempts, delivered_at from sandbox_events where payload->'data'->'object'->>'id' = $1",
      [payment.gatewayPaymentId],
    );
    expect(rows[0]).toMatchObject({ attempts: 1, delivered_at: null });
    expect((await wallet(u)).balance).toBe(0);
    ctx.services.sandbox!.webhookUrl = webhookUrl;
    await ctx.services.sandbox!.deliver(rows[0]!.id);
    expect((await wallet(u)).balance).toBe(1200);
  });

  it('refunds fully or in part, never more than was paid, and not money already spent', async () => {
    const u = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    const { payment } = (await topUp(u, 5000)).json<{ payment: { id: string } }>();
    await ctx.drain();
    const url = `/v1/admin/payments/${payment.id}/refunds`;
    expect((await ctx.req({ method: 'POST', url, token: u.token, payload: { amount: 100 } })).statusCode).toBe(403);
    expect((await ctx.req({ method: 'POST', url, payload: { amount: 100 } })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'POST', url, token: admin.token, payload: { amount: -5 } })).statusCode).toBe(400);
    const part = await ctx.req({ method: 'POST', url, token: admin.token, payload: { amount: 2000, reason: 'asked' } });
    expect(part.statusCode, part.body).toBe(201);
    expect(part.json<{ status: string }>().status).toBe('succeeded');
    expect((await wallet(u)).balance).toBe(3000);
    const tooMuch = await ctx.req({ method: 'POST', url, token: admin.token, payload: { amount: 3001 } });
    expect(tooMuch.statusCode).toBe(422);
    await spend((await wallet(u)).id, 2500);
    const spent = await ctx.req({ method: 'POST', url, token: admin.token, payload: {} });
    expect(spent.statusCode).toBe(402);
    expect((await wallet(u)).balance).toBe(500);
    const rest = await ctx.req({ method: 'POST', url, token: admin.token, payload: { amount: 500 } });
    expect(rest.statusCode, rest.body).toBe(201);
    const p = (await ctx.req({ method: 'GET', url: `/v1/payments/${payment.id}`, token: u.token })).json<{ status: string; refundAmount: number }>();
    expect(p).toMatchObject({ status: 'partially_refunded', refundAmount: 2500 });
    await ctx.drain();
    await reconciled();
  });

  it('auto tops up once when a debit leaves the wallet under the threshold', async () => {
    const u = await ctx.newUser();
    const bad = await ctx.req({ method: 'PUT', url: '/v1/wallets/USD/auto-top-up', token: u.token, payload: { enabled: true, threshold: 1000, amount: 2500 } });
    expect(bad.statusCode).toBe(400);
    const set = await ctx.req({ method: 'PUT', url: '/v1/wallets/USD/auto-top-up', token: u.token, payload: { enabled: true, threshold: 1000, amount: 2500, paymentMethodId: 'pm_card_visa' } });
    expect(set.statusCode, set.body).toBe(200);
    await topUp(u, 1500);
    await ctx.drain();
    const w = await wallet(u);
    await Promise.all([spend(w.id, 300), spend(w.id, 400)]);
    // Two jobs racing to start an auto top-up: the database lets one through.
    const [a, b] = await Promise.all([ctx.services.wallets.runAutoTopUp(w.id), ctx.services.wallets.runAutoTopUp(w.id)]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    await ctx.drain();
    expect((await wallet(u)).balance).toBe(1500 - 700 + 2500);
    const { rows } = await ctx.database.raw.query<{ n: string }>("select count(*)::text as n from payments where wallet_id = $1 and purpose = 'auto_topup'", [w.id]);
    expect(rows[0]!.n).toBe('1');
    // Crossing the default 10.00 alert threshold told the user once.
    const alerts = await ctx.database.raw.query<{ n: string }>("select count(*)::text as n from notifications where user_id = $1 and type = 'low_balance'", [u.id]);
    expect(alerts.rows[0]!.n).toBe('1');
    await reconciled();
  });

  it('survives 200 concurrent conflicting operations on one wallet: no lost update, no double spend, never below zero', async () => {
    const u = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    await topUp(u, 5000);
    await ctx.drain();
    const w = await wallet(u);
    // Payments whose success webhooks and refunds will race the debits.
    const pending: { id: string }[] = [];
    for (let i = 0; i < 20; i++) pending.push((await topUp(u, 300)).json<{ payment: { id: string } }>().payment);
    // Their success webhooks, signed, to be processed while the debits and refunds run.
    const secret = (ctx.services.sandbox as unknown as { deps: { secret: string } }).deps.secret;
    const events = (await ctx.database.raw.query<{ payload: unknown }>("select payload from sandbox_events where delivered_at is null and type = 'payment_intent.succeeded'")).rows.map((r) => JSON.stringify(r.payload));
    expect(events).toHaveLength(20);
    const firstPayment = (await ctx.database.raw.query<{ id: string }>("select id from payments where wallet_id = $1 and status = 'success' order by id limit 1", [w.id])).rows[0]!.id;
    const ops: Promise<{ kind: string; amount: number; ok: boolean }>[] = [];
    for (let i = 0; i < 150; i++) ops.push(spend(w.id, 70).then(() => ({ kind: 'debit', amount: 70, ok: true }), () => ({ kind: 'debit', amount: 70, ok: false })));
    for (const body of events) {
      ops.push(
        ctx.services.payments.handleWebhook('sandbox', body, { [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(secret, body) }).then(
          () => ({ kind: 'credit', amount: 0, ok: true }),
          () => ({ kind: 'credit', amount: 0, ok: false }),
        ),
      );
    }
    for (let i = 0; i < 30; i++) {
      ops.push(
        ctx.services.payments.refund(admin as never, firstPayment, { amount: 10 }, { authorized: true }).then(
          () => ({ kind: 'refund', amount: 10, ok: true }),
          () => ({ kind: 'refund', amount: 10, ok: false }),
        ),
      );
    }
    const results = await Promise.all(ops);
    expect(results).toHaveLength(200);
    await ctx.drain();
    const credited = (await ctx.database.raw.query<{ s: string }>("select coalesce(sum(amount), 0)::text as s from payments where wallet_id = $1 and status in ('success','partially_refunded','refunded')", [w.id])).rows[0]!.s;
    expect(Number(credited)).toBe(5000 + 20 * 300);
    expect(results.filter((r) => r.kind === 'credit' && !r.ok)).toEqual([]);
    const debited = results.filter((r) => r.kind !== 'credit' && r.ok).reduce((a, r) => a + r.amount, 0);
    const final = await wallet(u);
    expect(final.balance).toBe(Number(credited) - debited);
    expect(final.balance).toBeGreaterThanOrEqual(0);
    expect(results.some((r) => r.kind === 'debit' && r.ok)).toBe(true);
    expect(pending).toHaveLength(20);
    await reconciled();
  });

  it('history filters, CSV export, bad input, anonymous and other users', async () => {
    const u = await ctx.newUser();
    const other = await ctx.newUser();
    const { payment } = (await topUp(u, 999)).json<{ payment: { id: string } }>();
    await ctx.drain();
    const csv = await ctx.req({ method: 'GET', url: '/v1/wallets/USD/transactions.csv', token: u.token });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\n')[1]).toContain('"9.99"');
    const none = (await ctx.req({ method: 'GET', url: '/v1/wallets/USD/transactions?status=failed', token: u.token })).json<{ items: unknown[] }>();
    expect(none.items).toHaveLength(0);
    const future = (await ctx.req({ method: 'GET', url: `/v1/wallets/USD/transactions?from=${new Date(Date.now() + 60_000).toISOString()}`, token: u.token })).json<{ items: unknown[] }>();
    expect(future.items).toHaveLength(0);
    expect((await ctx.req({ method: 'GET', url: '/v1/wallets/XXX', token: u.token })).statusCode).toBe(400);
    expect((await ctx.req({ method: 'GET', url: '/v1/wallets/USD/transactions?type=nope', token: u.token })).statusCode).toBe(400);
    expect((await topUp(u, 0)).statusCode).toBe(400);
    expect((await topUp(u, 12.5)).statusCode).toBe(400);
    expect((await topUp(u, 100, 'pm_made_up')).statusCode).toBe(400);
    expect((await ctx.req({ method: 'GET', url: '/v1/wallets/USD' })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'POST', url: '/v1/wallets/USD/top-ups', payload: { amount: 100 } })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'GET', url: `/v1/payments/${payment.id}`, token: other.token })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'GET', url: `/v1/payments/${payment.id}/refunds`, token: other.token })).statusCode).toBe(404);
    expect((await wallet(other)).balance).toBe(0);
    const mine = (await ctx.req({ method: 'GET', url: '/v1/payments', token: other.token })).json<{ items: unknown[] }>();
    expect(mine.items).toHaveLength(0);
  });
});
