import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext, type TestUser } from '../../../test/helpers.ts';
import { ManualClock } from '../../core/clock.ts';
import { newId } from '../../core/ids.ts';
import { reconcile } from '../ledger/index.ts';
import { signSandboxPayload, SANDBOX_SIGNATURE_HEADER } from '../payments/index.ts';
import type { PayoutProvider, SendPayoutInput, SendPayoutResult } from './index.ts';

let ctx: TestContext;
const clock = new ManualClock();
const DAY = 86_400_000;

beforeAll(async () => {
  ctx = await createTestContext({}, { clock });
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  ctx.services.sandbox!.webhookUrl = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/v1/webhooks/sandbox`;
});
afterAll(async () => ctx.close());

interface PayoutDto {
  id: string;
  status: string;
  amount: number;
  walletId: string;
  destination: string;
  failureReason: string | null;
  organizationId: string | null;
  holdTransferId: string;
  settleTransferId: string | null;
  returnTransferId: string | null;
  provider: string | null;
  providerPayoutId: string | null;
}
interface WalletDto {
  id: string;
  balance: number;
  balanceAvailable: number;
  balancePending: number;
  totalEarned: number;
  totalWithdrawn: number;
}

const reconciled = async () => {
  const r = await reconcile(ctx.services.ledgerRepo, [
    ...ctx.services.payments.invariants(),
    ...ctx.services.payouts.invariants(),
  ]);
  expect(r.checks.filter((c) => !c.ok)).toEqual([]);
};

/** Money into a wallet's available balance, straight from provider clearing. */
const fund = async (owner: { userId: string } | { organizationId: string }, amount: number) => {
  const { ledger } = ctx.services;
  const w = await ledger.wallet(owner, 'USD');
  const clearing = await ledger.platformAccount('provider_clearing', 'USD');
  await ledger.transfer({
    key: `fund:${newId()}`,
    kind: 'topup',
    currency: 'USD',
    legs: [
      { accountId: clearing, amount: -amount },
      { accountId: w.available, amount },
    ],
  });
  return w.wallet.id;
};
const wallet = async (u: TestUser) =>
  (await ctx.req({ method: 'GET', url: '/v1/wallets/USD', token: u.token })).json<WalletDto>();

/**
 * Gives the user's wallet (or the organization's, by `url`) a verified payout destination: the
 * user's own verified account address as its PayPal address. Payouts are refused without one.
 */
const enablePayouts = async (u: TestUser, c: TestContext = ctx, url = '/v1/wallets/USD/payout-settings') => {
  const res = await c.req({ method: 'PUT', url, token: u.token, payload: { paypalEmail: u.email } });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json<{ payoutsEnabled: boolean }>().payoutsEnabled).toBe(true);
};

const iban = {
  method: 'bank',
  bank: { accountHolderName: 'Ada Lovelace', iban: 'DE89 3704 0044 0532 0130 00' },
};
const paypal = (email = 'ada@example.com') => ({ method: 'paypal', paypalEmail: email });
const request = (
  u: TestUser | null,
  body: Record<string, unknown>,
  opts: { key?: string | null; url?: string } = {},
) =>
  ctx.req({
    method: 'POST',
    url: opts.url ?? '/v1/payouts',
    ...(u ? { token: u.token } : {}),
    payload: { currency: 'USD', ...body },
    headers: opts.key === null ? {} : { 'idempotency-key': opts.key ?? `po-${newId()}` },
  });
const get = (u: TestUser, id: string) => ctx.req({ method: 'GET', url: `/v1/payouts/${id}`, token: u.token });
const action = (u: TestUser | null, url: string, payload?: Record<string, unknown>) =>
  ctx.req({ method: 'POST', url, ...(u ? { token: u.token } : {}), ...(payload ? { payload } : {}) });
const count = async (table: string, where: string, params: unknown[]) =>
  Number(
    (
      await ctx.database.raw.query<{ n: string }>(
        `select count(*)::text as n from ${table} where ${where}`,
        params,
      )
    ).rows[0]!.n,
  );

describe('payouts', () => {
  it('holds the money at request, and an approved payout is sent: clearing → sent, lifetime withdrawn, the user told', async () => {
    const u = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    await fund({ userId: u.id }, 8000);
    await enablePayouts(u);
    const res = await request(u, { amount: 5000, ...iban });
    expect(res.statusCode, res.body).toBe(201);
    const p = res.json<PayoutDto>();
    expect(p).toMatchObject({ status: 'pending', amount: 5000, destination: 'DE•• •••• 3000' });
    expect(res.body).not.toContain('0532013000');
    expect(await wallet(u)).toMatchObject({ balance: 3000, totalWithdrawn: 0 });
    await reconciled();

    const approved = await action(admin, `/v1/admin/payouts/${p.id}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json<PayoutDto>()).toMatchObject({ status: 'processing', provider: 'sandbox' });
    await ctx.drain();
    const done = (await get(u, p.id)).json<PayoutDto>();
    expect(done).toMatchObject({
      status: 'completed',
      providerPayoutId: expect.stringMatching(/^sbpo_/) as string,
    });
    expect(done.settleTransferId).not.toBeNull();
    expect(await wallet(u)).toMatchObject({ balance: 3000, totalWithdrawn: 5000 });
    // Approving again does nothing more.
    expect((await action(admin, `/v1/admin/payouts/${p.id}/approve`)).statusCode).toBe(409);
    await ctx.drain();
    const { rows } = await ctx.database.raw.query<{ title: string }>(
      "select title from notifications where user_id = $1 and type = 'payout'",
      [u.id],
    );
    expect(rows.map((r) => r.title)).toEqual(['Your payout was sent']);
    expect((await ctx.mailTo(u.email)).some((m) => m.subject === 'Your payout was sent')).toBe(true);
    const lines = await ctx.database.raw.query<{ type: string; status: string; amount: string }>(
      'select type, status, amount::text from transactions where related_id = $1',
      [p.id],
    );
    expect(lines.rows).toEqual([{ type: 'withdrawal', status: 'completed', amount: '5000' }]);
    const stripeSplit = await ctx.database.raw.query<{ s: string }>(
      'select total_withdrawn_stripe::text as s from wallets where id = $1',
      [p.walletId],
    );
    expect(stripeSplit.rows[0]!.s).toBe('5000');
    await reconciled();
  });

  it('refuses what the available balance cannot cover with 402, and nothing is created', async () => {
    const u = await ctx.newUser();
    const walletId = await fund({ userId: u.id }, 4999 + 5000);
    await enablePayouts(u);
    const first = await request(u, { amount: 5000, ...paypal() });
    expect(first.statusCode).toBe(201);
    const res = await request(u, { amount: 5000, ...paypal() });
    expect(res.statusCode).toBe(402);
    expect(res.json<{ code: string }>().code).toBe('insufficient_funds');
    expect(await count('payouts', 'wallet_id = $1', [walletId])).toBe(1);
    expect(await count('transactions', "wallet_id = $1 and type = 'withdrawal'", [walletId])).toBe(1);
    expect((await wallet(u)).balance).toBe(4999);
    // A user without any wallet yet has no verified destination either: refused, and no wallet appears.
    const fresh = await ctx.newUser();
    const refused = await request(fresh, { amount: 5000, ...paypal() });
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ code: string }>().code).toBe('payouts_not_enabled');
    expect(await count('wallets', 'user_id = $1', [fresh.id])).toBe(0);
    await reconciled();
  });

  it('answers a replayed Idempotency-Key with the first payout, holding the money once', async () => {
    const u = await ctx.newUser();
    await fund({ userId: u.id }, 12000);
    await enablePayouts(u);
    const key = `po-${newId()}`;
    const [a, b] = await Promise.all([
      request(u, { amount: 6000, ...paypal() }, { key }),
      request(u, { amount: 6000, ...paypal() }, { key }),
    ]);
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(a.json<PayoutDto>().id).toBe(b.json<PayoutDto>().id);
    expect((await wallet(u)).balance).toBe(6000);
    const other = await request(u, { amount: 7000, ...paypal() }, { key });
    expect(other.statusCode).toBe(422);
    expect((await wallet(u)).balance).toBe(6000);
  });

  it('returns the money on cancel (requester, while pending), on reject and on a provider failure, and tells the user of failures', async () => {
    const u = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    await fund({ userId: u.id }, 30000);
    await enablePayouts(u);
    const a = (await request(u, { amount: 5000, ...iban })).json<PayoutDto>();
    const cancelled = await action(u, `/v1/payouts/${a.id}/cancel`);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json<PayoutDto>()).toMatchObject({ status: 'cancelled' });
    expect((await wallet(u)).balance).toBe(30000);
    expect((await action(u, `/v1/payouts/${a.id}/cancel`)).statusCode).toBe(409);
    expect((await action(admin, `/v1/admin/payouts/${a.id}/approve`)).statusCode).toBe(409);

    const b = (await request(u, { amount: 6000, ...paypal() })).json<PayoutDto>();
    expect((await action(admin, `/v1/admin/payouts/${b.id}/reject`, { reason: '' })).statusCode).toBe(400);
    const rejected = await action(admin, `/v1/admin/payouts/${b.id}/reject`, {
      reason: 'name does not match the account',
    });
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(rejected.json<PayoutDto>()).toMatchObject({
      status: 'failed',
      failureReason: 'Rejected by the operator: name does not match the account',
    });
    expect((await wallet(u)).balance).toBe(30000);

    // The sandbox declines amounts ending in 13, and fail@ PayPal addresses.
    const c = (await request(u, { amount: 5013, ...iban })).json<PayoutDto>();
    const d = (await request(u, { amount: 5000, ...paypal('fail@example.com') })).json<PayoutDto>();
    expect((await wallet(u)).balance).toBe(30000 - 10013);
    await action(admin, `/v1/admin/payouts/${c.id}/approve`);
    await action(admin, `/v1/admin/payouts/${d.id}/approve`);
    // Once processing, the requester cannot take it back.
    expect((await action(u, `/v1/payouts/${c.id}/cancel`)).statusCode).toBe(409);
    await ctx.drain();
    for (const id of [c.id, d.id]) {
      const p = (await get(u, id)).json<PayoutDto>();
      expect(p.status).toBe('failed');
      expect(p.failureReason).toMatch(/sandbox/);
      expect(p.returnTransferId).not.toBeNull();
    }
    expect(await wallet(u)).toMatchObject({ balance: 30000, totalWithdrawn: 0 });
    const titles = (
      await ctx.database.raw.query<{ title: string }>(
        "select title from notifications where user_id = $1 and type = 'payout' order by id",
        [u.id],
      )
    ).rows.map((r) => r.title);
    expect(titles).toEqual(['Your payout failed', 'Your payout failed', 'Your payout failed']);
    const statuses = (
      await ctx.database.raw.query<{ status: string }>(
        "select status from transactions where user_id = $1 and type = 'withdrawal' order by id",
        [u.id],
      )
    ).rows.map((r) => r.status);
    expect(statuses).toEqual(['cancelled', 'failed', 'failed', 'failed']);
    // The send job running again after the fact changes nothing.
    await ctx.services.payouts.send(c.id);
    expect((await wallet(u)).balance).toBe(30000);
    await reconciled();
  });

  it("pays out an organization's wallet for members with payouts.manage only", async () => {
    const owner = await ctx.newUser();
    const creator = await ctx.newUser();
    const outsider = await ctx.newUser();
    const org = await ctx.newOrg(owner);
    await ctx.addMember(owner, org.id, creator, 'creator');
    await fund({ organizationId: org.id }, 9000);
    await enablePayouts(owner, ctx, `/v1/orgs/${org.id}/wallets/USD/payout-settings`);
    const url = `/v1/orgs/${org.id}/payouts`;
    expect((await request(creator, { amount: 5000, ...paypal() }, { url })).statusCode).toBe(403);
    expect((await request(outsider, { amount: 5000, ...paypal() }, { url })).statusCode).toBe(404);
    const res = await request(owner, { amount: 5000, ...paypal() }, { url });
    expect(res.statusCode, res.body).toBe(201);
    const p = res.json<PayoutDto>();
    expect(p.organizationId).toBe(org.id);
    expect(
      (await ctx.req({ method: 'GET', url, token: owner.token }))
        .json<{ items: PayoutDto[] }>()
        .items.map((i) => i.id),
    ).toEqual([p.id]);
    // An organization's payout is not a personal one.
    expect(
      (await ctx.req({ method: 'GET', url: '/v1/payouts', token: owner.token })).json<{ items: unknown[] }>()
        .items,
    ).toEqual([]);
    expect((await ctx.req({ method: 'GET', url, token: outsider.token })).statusCode).toBe(404);
    expect((await ctx.req({ method: 'GET', url, token: creator.token })).statusCode).toBe(403);
    expect((await get(outsider, p.id)).statusCode).toBe(404);
    expect((await action(outsider, `/v1/payouts/${p.id}/cancel`)).statusCode).toBe(404);
    expect((await action(creator, `/v1/payouts/${p.id}/cancel`)).statusCode).toBe(403);
    expect((await get(owner, p.id)).statusCode).toBe(200);
    const orgWallet = (
      await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/wallets/USD`, token: owner.token })
    ).json<WalletDto>();
    expect(orgWallet.balance).toBe(4000);
    expect((await action(owner, `/v1/payouts/${p.id}/cancel`)).json<PayoutDto>().status).toBe('cancelled');
    await reconciled();
  });

  it("keeps another user's payouts invisible and unchangeable, refuses anonymous callers and non-operators", async () => {
    const u = await ctx.newUser();
    const other = await ctx.newUser();
    await fund({ userId: u.id }, 5000);
    await enablePayouts(u);
    const p = (await request(u, { amount: 5000, ...paypal() })).json<PayoutDto>();
    expect((await get(other, p.id)).statusCode).toBe(404);
    expect((await action(other, `/v1/payouts/${p.id}/cancel`)).statusCode).toBe(404);
    expect(
      (await ctx.req({ method: 'GET', url: '/v1/payouts', token: other.token })).json<{ items: unknown[] }>()
        .items,
    ).toEqual([]);
    for (const r of [
      { method: 'GET' as const, url: '/v1/admin/payouts' },
      { method: 'POST' as const, url: `/v1/admin/payouts/${p.id}/approve` },
      { method: 'POST' as const, url: `/v1/admin/payouts/${p.id}/reject`, payload: { reason: 'no' } },
    ]) {
      const asUser = await ctx.req({ ...r, token: u.token });
      expect(asUser.statusCode, `${r.method} ${r.url}`).toBe(403);
      expect((await ctx.req(r)).statusCode, `${r.method} ${r.url}`).toBe(401);
    }
    expect((await request(null, { amount: 5000, ...paypal() })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'GET', url: '/v1/payouts' })).statusCode).toBe(401);
    expect((await ctx.req({ method: 'GET', url: `/v1/payouts/${p.id}` })).statusCode).toBe(401);
    expect((await action(null, `/v1/payouts/${p.id}/cancel`)).statusCode).toBe(401);
    expect(
      (
        await ctx.req({
          method: 'POST',
          url: `/v1/orgs/${newId()}/payouts`,
          payload: { amount: 5000, currency: 'USD', ...paypal() },
          headers: { 'idempotency-key': 'k' },
        })
      ).statusCode,
    ).toBe(401);
    expect((await get(u, p.id)).json<PayoutDto>().status).toBe('pending');
    // The operator sees it and every other payout.
    const admin = await ctx.newUser({ role: 'admin' });
    const queue = (
      await ctx.req({ method: 'GET', url: '/v1/admin/payouts?status=pending&limit=100', token: admin.token })
    ).json<{ items: PayoutDto[] }>();
    expect(queue.items.map((i) => i.id)).toContain(p.id);
    expect(queue.items.every((i) => i.status === 'pending')).toBe(true);
    expect((await get(admin, p.id)).statusCode).toBe(200);
  });

  it('refuses bad input on every route with a 4xx naming the field, and changes nothing', async () => {
    const u = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    const walletId = await fund({ userId: u.id }, 20000);
    await enablePayouts(u);
    const fields = async (res: Awaited<ReturnType<typeof request>>, status = 400) => {
      expect(res.statusCode, res.body).toBe(status);
      return res.json<{ errors?: { path: string }[] }>().errors?.map((e) => e.path) ?? [];
    };
    const cases: [Record<string, unknown>, string, number?][] = [
      [{ amount: 0, ...paypal() }, 'body.amount'],
      [{ amount: 50.5, ...paypal() }, 'body.amount'],
      [{ amount: '5000', ...paypal() }, 'body.amount'],
      [{ amount: 4999, ...paypal() }, 'body.amount', 422],
      [{ amount: 5000, currency: 'XXX', ...paypal() }, 'body.currency'],
      [{ amount: 5000 }, 'body.method'],
      [{ amount: 5000, method: 'cheque' }, 'body.method'],
      [{ amount: 5000, ...paypal('not-an-email') }, 'body.paypalEmail'],
      [
        { amount: 5000, method: 'bank', bank: { accountHolderName: 'A', iban: 'DE89370400440532013001' } },
        'body.bank.iban',
      ],
      [
        { amount: 5000, method: 'bank', bank: { accountHolderName: 'A', iban: 'DE8937040044053201300' } },
        'body.bank.iban',
      ],
      [
        {
          amount: 5000,
          method: 'bank',
          bank: { accountHolderName: 'A', iban: 'DE89370400440532013000', bic: 'COBADEFFXXX1' },
        },
        'body.bank.bic',
      ],
      [
        {
          amount: 5000,
          method: 'bank',
          bank: { accountHolderName: 'A', accountNumber: '12345678', routingNumber: '021000022' },
        },
        'body.bank.routingNumber',
      ],
      [
        {
          amount: 5000,
          method: 'bank',
          bank: { accountHolderName: 'A', accountNumber: '1234', sortCode: '12-34-56' },
        },
        'body.bank.accountNumber',
      ],
      [
        { amount: 5000, method: 'bank', bank: { accountHolderName: 'A', accountNumber: '12345678' } },
        'body.bank.routingNumber',
      ],
      [{ amount: 5000, method: 'bank', bank: { accountHolderName: 'A' } }, 'body.bank.iban'],
      [
        { amount: 5000, method: 'bank', bank: { iban: 'DE89370400440532013000' } },
        'body.bank.accountHolderName',
      ],
      [
        {
          amount: 5000,
          method: 'crypto',
          crypto: { network: 'bitcoin', address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr' },
        },
        'body.crypto.address',
      ],
      [
        {
          amount: 5000,
          method: 'crypto',
          crypto: { network: 'ethereum', address: '0x52908400098527886E0F7030069857D2E4169EZ7' },
        },
        'body.crypto.address',
      ],
      [
        {
          amount: 5000,
          method: 'crypto',
          crypto: { network: 'dogecoin', address: 'DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L' },
        },
        'body.crypto.network',
      ],
      [{ amount: 5000, ...paypal(), extra: true }, 'body'],
    ];
    for (const [body, path, status] of cases) {
      const got = await fields(await request(u, body), status);
      expect(
        got.some((p) => p.startsWith(path)),
        `${JSON.stringify(body)} → ${got.join(', ')}`,
      ).toBe(true);
    }
    expect(await fields(await request(u, { amount: 5000, ...paypal() }, { key: null }))).toContain(
      'headers.idempotency-key',
    );
    expect(
      await fields(await ctx.req({ method: 'GET', url: '/v1/payouts?status=lost', token: u.token })),
    ).toContain('querystring.status');
    expect(
      await fields(await ctx.req({ method: 'GET', url: '/v1/payouts?limit=1000', token: u.token })),
    ).toContain('querystring.limit');
    expect(
      await fields(await ctx.req({ method: 'GET', url: '/v1/payouts?cursor=nope', token: u.token })),
    ).toContain('querystring.cursor');
    expect(
      await fields(await ctx.req({ method: 'GET', url: '/v1/payouts/not-a-uuid', token: u.token })),
    ).toContain('params.id');
    expect(await fields(await action(u, '/v1/payouts/not-a-uuid/cancel'))).toContain('params.id');
    expect(await fields(await action(admin, '/v1/admin/payouts/not-a-uuid/approve'))).toContain('params.id');
    expect(await fields(await action(admin, `/v1/admin/payouts/${newId()}/reject`, {}))).toContain(
      'body.reason',
    );
    expect(
      await fields(await ctx.req({ method: 'GET', url: '/v1/admin/payouts?status=x', token: admin.token })),
    ).toContain('querystring.status');
    expect((await action(admin, `/v1/admin/payouts/${newId()}/approve`)).statusCode).toBe(404);
    expect(await count('payouts', 'wallet_id = $1', [walletId])).toBe(0);
    expect((await wallet(u)).balance).toBe(20000);
    // Every method with a good destination goes through.
    const good = [
      { method: 'bank', bank: { accountHolderName: 'A', iban: 'GB82WEST12345698765432', bic: 'WESTGB2L' } },
      {
        method: 'bank',
        bank: { accountHolderName: 'A', accountNumber: '000123456789', routingNumber: '021000021' },
      },
      { method: 'bank', bank: { accountHolderName: 'A', accountNumber: '31926819', sortCode: '60-16-13' } },
      {
        method: 'crypto',
        crypto: { network: 'bitcoin', address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' },
      },
    ];
    for (const body of good) expect((await request(u, { amount: 5000, ...body })).statusCode).toBe(201);
    expect((await wallet(u)).balance).toBe(0);
  });

  it('checks EIP-55 on EVM payout addresses: a wrong-case one is refused, a one-case one is stored checksummed', async () => {
    const u = await ctx.newUser();
    const walletId = await fund({ userId: u.id }, 5000);
    await enablePayouts(u);
    const crypto = (address: string) => ({
      amount: 5000,
      method: 'crypto',
      crypto: { network: 'ethereum', address },
    });
    const wrong = await request(u, crypto('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'));
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json<{ code: string; errors: { path: string; message: string }[] }>()).toMatchObject({
      code: 'invalid_destination',
      errors: [{ path: 'body.crypto.address', message: expect.stringContaining('EIP-55') as string }],
    });
    expect(await count('payouts', 'wallet_id = $1', [walletId])).toBe(0);
    const ok = await request(u, crypto('0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed'));
    expect(ok.statusCode, ok.body).toBe(201);
    const row = await ctx.database.raw.query<{ crypto_address: string }>(
      'select crypto_address from payouts where id = $1',
      [ok.json<PayoutDto>().id],
    );
    expect(row.rows[0]!.crypto_address).toBe('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed');
    expect(ok.json<PayoutDto>().destination).toBe('ethereum 0x5aAe…eAed');
  });

  it('pages my payouts newest first with a status filter', async () => {
    const u = await ctx.newUser();
    await fund({ userId: u.id }, 25000);
    await enablePayouts(u);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await request(u, { amount: 5000, ...paypal() })).json<PayoutDto>().id);
    }
    await action(u, `/v1/payouts/${ids[1]}/cancel`);
    const first = (await ctx.req({ method: 'GET', url: '/v1/payouts?limit=2', token: u.token })).json<{
      items: PayoutDto[];
      nextCursor: string;
    }>();
    expect(first.items.map((i) => i.id)).toEqual([ids[4], ids[3]]);
    const second = (
      await ctx.req({ method: 'GET', url: `/v1/payouts?limit=2&cursor=${first.nextCursor}`, token: u.token })
    ).json<{ items: PayoutDto[]; nextCursor: string | null }>();
    expect(second.items.map((i) => i.id)).toEqual([ids[2], ids[1]]);
    const third = (
      await ctx.req({ method: 'GET', url: `/v1/payouts?limit=2&cursor=${second.nextCursor}`, token: u.token })
    ).json<{ items: PayoutDto[]; nextCursor: string | null }>();
    expect(third).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    const cancelled = (
      await ctx.req({ method: 'GET', url: '/v1/payouts?status=cancelled', token: u.token })
    ).json<{ items: PayoutDto[] }>();
    expect(cancelled.items.map((i) => i.id)).toEqual([ids[1]]);
  });

  it('reconcile names a payout whose money is not where its status says', async () => {
    const u = await ctx.newUser();
    await fund({ userId: u.id }, 5000);
    await enablePayouts(u);
    const p = (await request(u, { amount: 5000, ...paypal() })).json<PayoutDto>();
    await reconciled();
    // Pretend the payout completed without its settle transfer: the table's CHECK refuses it…
    await expect(
      ctx.database.raw.query("update payouts set status = 'completed' where id = $1", [p.id]),
    ).rejects.toThrow(/payouts_transfers_check/);
    // …and a row pointing at the wrong transfer is caught by reconcile.
    await ctx.database.raw.query(
      "update payouts set status = 'completed', settle_transfer_id = hold_transfer_id where id = $1",
      [p.id],
    );
    const r = await reconcile(ctx.services.ledgerRepo, ctx.services.payouts.invariants());
    const failing = r.checks.filter((c) => !c.ok);
    expect(failing.map((c) => c.name)).toEqual([
      'every open payout holds its amount in payout clearing, every closed one nothing',
      'every payout has its hold, every completed one its settle transfer, every failed or cancelled one its return',
      'payout clearing equals the open payouts',
    ]);
    expect(failing[0]!.problems[0]).toContain(p.id);
    await ctx.database.raw.query(
      "update payouts set status = 'pending', settle_transfer_id = null where id = $1",
      [p.id],
    );
    await reconciled();
  });
});

describe('the escrowed sale', () => {
  it('splits a card sale in one transfer, escrows the seller share for ESCROW_DAYS, releases it on time, and then it can be paid out', async () => {
    const seller = await ctx.newUser();
    const buyer = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    await enablePayouts(seller);
    const { sales, ledger } = ctx.services;
    const orderId = newId();
    const sale = await ctx.database.db.transaction((tx) =>
      sales.record(
        {
          key: `order:${orderId}`,
          seller: { userId: seller.id },
          buyerId: buyer.id,
          amount: 10000,
          currency: 'USD',
          paymentMethod: 'card',
          commission: { plan: 'standard' },
          type: 'product_purchase',
          reference: { type: 'order', id: orderId },
        },
        tx,
      ),
    );
    // 100.00 by card on the standard plan: fee 2.9 % + 0.30 = 3.20, commission 30 % = 30.00, seller 66.80.
    expect(sale.split).toEqual({
      total: 10000,
      processingFee: 320,
      commission: 3000,
      seller: 6680,
      commissionBps: 3000,
      paymentMethod: 'card',
    });
    expect(sale.releaseAt!.getTime()).toBe(clock.now().getTime() + 7 * DAY);
    const { entries, transfer } = (await ledger.transferWithEntries(sale.transferId))!;
    expect(transfer.kind).toBe('sale');
    expect(transfer.metadata).toMatchObject({ split: sale.split, sellerPlan: 'standard', escrowDays: 7 });
    expect(entries.map((e) => [e.kind, e.amount]).sort()).toEqual(
      [
        ['platform_revenue', 3000],
        ['provider_clearing', -9680],
        ['wallet_pending', 6680],
      ].sort(),
    );
    expect(await wallet(seller)).toMatchObject({
      balanceAvailable: 0,
      balancePending: 6680,
      totalEarned: 6680,
    });
    const line = (
      await ctx.database.raw.query<Record<string, unknown>>(
        'select type, direction, amount::int, amount_total::int, amount_fees::int, amount_commission::int, amount_seller::int, commission_rate::text, seller_tier, buyer_id, seller_id, payment_processor from transactions where transfer_id = $1',
        [sale.transferId],
      )
    ).rows;
    expect(line).toEqual([
      {
        type: 'product_purchase',
        direction: 'credit',
        amount: 6680,
        amount_total: 10000,
        amount_fees: 320,
        amount_commission: 3000,
        amount_seller: 6680,
        commission_rate: '30.00',
        seller_tier: 'standard',
        buyer_id: buyer.id,
        seller_id: seller.id,
        payment_processor: 'stripe',
      },
    ]);
    // The same sale again moves nothing.
    const again = await ctx.database.db.transaction((tx) =>
      sales.record(
        {
          key: `order:${orderId}`,
          seller: { userId: seller.id },
          buyerId: buyer.id,
          amount: 10000,
          currency: 'USD',
          paymentMethod: 'card',
          commission: { plan: 'standard' },
          type: 'product_purchase',
          reference: { type: 'order', id: orderId },
        },
        tx,
      ),
    );
    expect(again).toMatchObject({
      replayed: true,
      transferId: sale.transferId,
      holdId: sale.holdId,
      split: sale.split,
    });
    expect(await wallet(seller)).toMatchObject({ balancePending: 6680, totalEarned: 6680 });

    // Escrowed money cannot be paid out.
    expect((await request(seller, { amount: 5000, ...paypal() })).statusCode).toBe(402);
    // A minute before the seven days, the release job leaves it; after them, it releases it once.
    clock.advance(7 * DAY - 60_000);
    await ctx.services.jobs.send('ledger.release-holds', {});
    await ctx.drain();
    expect(await wallet(seller)).toMatchObject({ balanceAvailable: 0, balancePending: 6680 });
    clock.advance(120_000);
    await ctx.services.jobs.send('ledger.release-holds', {});
    await ctx.drain();
    expect(await wallet(seller)).toMatchObject({ balanceAvailable: 6680, balancePending: 0 });
    await ctx.services.jobs.send('ledger.release-holds', {});
    await ctx.drain();
    expect((await wallet(seller)).balanceAvailable).toBe(6680);
    await reconciled();

    const p = (await request(seller, { amount: 5000, ...iban })).json<PayoutDto>();
    expect(p.status).toBe('pending');
    await action(admin, `/v1/admin/payouts/${p.id}/approve`);
    await ctx.drain();
    expect((await get(seller, p.id)).json<PayoutDto>().status).toBe('completed');
    expect(await wallet(seller)).toMatchObject({
      balance: 1680,
      balancePending: 0,
      totalEarned: 6680,
      totalWithdrawn: 5000,
    });
    await reconciled();
  });

  it('prices commission by plan or by rate, PayPal fees, wallet-balance sales from the buyer wallet, and refuses a sale that leaves the seller nothing', async () => {
    const seller = await ctx.newUser();
    const buyer = await ctx.newUser();
    const { sales } = ctx.services;
    const record = (input: Partial<Parameters<typeof sales.record>[0]>) =>
      ctx.database.db.transaction((tx) =>
        sales.record(
          {
            key: `sale:${newId()}`,
            seller: { userId: seller.id },
            amount: 10000,
            currency: 'USD',
            paymentMethod: 'card',
            commission: { plan: 'basic' },
            type: 'sale',
            reference: { type: 'order', id: newId() },
            ...input,
          },
          tx,
        ),
      );
    const splits = [];
    for (const plan of ['basic', 'standard', 'premium', 'ultimate', 'ultimate_friends'] as const) {
      splits.push((await record({ commission: { plan } })).split.commission);
    }
    expect(splits).toEqual([4000, 3000, 2000, 1000, 1000]);
    // PayPal 3.49 % + 0.49 on 100.00 = 3.98; a creator's own 12.5 % platform fee.
    expect((await record({ paymentMethod: 'paypal', commission: { bps: 1250 } })).split).toMatchObject({
      processingFee: 398,
      commission: 1250,
      seller: 8352,
    });
    // Paid from the buyer's wallet: no processing fee, the buyer's balance pays it; not escrowed with escrowDays 0.
    await fund({ userId: buyer.id }, 3000);
    const buyerWallet = (await wallet(buyer)).id;
    const fromWallet = await record({
      paymentMethod: 'wallet_balance',
      buyerWalletId: buyerWallet,
      amount: 2000,
      escrowDays: 0,
    });
    expect(fromWallet).toMatchObject({
      holdId: null,
      releaseAt: null,
      split: { processingFee: 0, commission: 800, seller: 1200 },
    });
    expect((await wallet(buyer)).balance).toBe(1000);
    await expect(
      record({ paymentMethod: 'wallet_balance', buyerWalletId: buyerWallet, amount: 2000 }),
    ).rejects.toMatchObject({ kind: 'payment_required' });
    // 0.50 by card at 40 %: 0.20 commission, 0.30 fee, nothing for the seller.
    await expect(record({ amount: 50 })).rejects.toMatchObject({
      kind: 'unprocessable',
      details: { code: 'sale_too_small' },
    });
    await expect(record({ amount: 0 })).rejects.toMatchObject({ kind: 'bad_request' });
    await reconciled();
  });
});

describe('payout settings: payouts are enabled by a verified destination, and operators can block them', () => {
  const settingsUrl = '/v1/wallets/USD/payout-settings';
  interface SettingsDto {
    walletId: string;
    payoutsEnabled: boolean;
    blockedBy: string | null;
    nextStep: string | null;
    paypalEmail: string | null;
    paypalVerified: boolean;
    payoutsDisabledReason: string | null;
  }
  const settings = async (u: TestUser) =>
    (await ctx.req({ method: 'GET', url: settingsUrl, token: u.token })).json<SettingsDto>();
  const setPayPal = (u: TestUser, paypalEmail: string | null) =>
    ctx.req({ method: 'PUT', url: settingsUrl, token: u.token, payload: { paypalEmail } });
  const auditOf = async (resourceId: string) =>
    (
      await ctx.database.raw.query<{ action: string; user_id: string; metadata: Record<string, unknown> }>(
        'select action, user_id, metadata from audit_logs where resource_id = $1 order by created_at, id',
        [resourceId],
      )
    ).rows;
  /** Every ledger entry on the wallet's accounts. */
  const entriesOf = (walletId: string) =>
    count('ledger_entries e join ledger_accounts a on a.id = e.account_id', 'a.wallet_id = $1', [walletId]);

  it('refuses a payout while the wallet has no verified destination, naming why and what to do, and nothing changes', async () => {
    const u = await ctx.newUser();
    const walletId = await fund({ userId: u.id }, 10000);
    expect(await settings(u)).toMatchObject({
      walletId,
      payoutsEnabled: false,
      blockedBy: 'no_verified_destination',
      paypalVerified: false,
      nextStep: expect.stringContaining('PUT /v1/wallets/USD/payout-settings') as string,
    });
    for (const body of [
      { amount: 5000, ...paypal() },
      { amount: 5000, ...iban },
    ]) {
      const res = await request(u, body);
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json<{ code: string; detail: string }>()).toMatchObject({
        code: 'payouts_not_enabled',
        detail: expect.stringContaining('verified payout destination') as string,
      });
    }
    // An address that is not the user's own verified one is kept, but not verified: still refused.
    const other = await setPayPal(u, 'someone.else@example.com');
    expect(other.statusCode, other.body).toBe(200);
    expect(other.json<SettingsDto>()).toMatchObject({
      paypalEmail: 'someone.else@example.com',
      paypalVerified: false,
      payoutsEnabled: false,
      blockedBy: 'no_verified_destination',
      nextStep: expect.stringContaining('not verified') as string,
    });
    expect((await request(u, { amount: 5000, ...paypal() })).statusCode).toBe(403);
    expect(await count('payouts', 'wallet_id = $1', [walletId])).toBe(0);
    expect(await count('transactions', 'wallet_id = $1', [walletId])).toBe(0);
    expect(await entriesOf(walletId)).toBe(1);
    expect(await wallet(u)).toMatchObject({ balance: 10000, payoutsEnabled: false, paypalVerified: false });
    // Bad input names the field and changes nothing.
    const bad = await setPayPal(u, 'not-an-email');
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ errors: { path: string }[] }>().errors.map((e) => e.path)).toContain(
      'body.paypalEmail',
    );
    expect((await ctx.req({ method: 'PUT', url: settingsUrl, token: u.token, payload: {} })).statusCode).toBe(
      400,
    );
    expect(
      (await ctx.req({ method: 'PUT', url: settingsUrl, payload: { paypalEmail: u.email } })).statusCode,
    ).toBe(401);
    expect((await settings(u)).paypalEmail).toBe('someone.else@example.com');
    await reconciled();
  });

  it('enables payouts with a verified PayPal destination (the account’s own verified address), and disables them when it goes', async () => {
    const u = await ctx.newUser();
    const walletId = await fund({ userId: u.id }, 10000);
    const res = await setPayPal(u, `  ${u.email.toUpperCase()} `);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<SettingsDto>()).toMatchObject({
      paypalEmail: u.email,
      paypalVerified: true,
      payoutsEnabled: true,
      blockedBy: null,
      nextStep: null,
    });
    expect(await wallet(u)).toMatchObject({ payoutsEnabled: true, paypalVerified: true });
    expect((await request(u, { amount: 5000, ...paypal(u.email) })).statusCode).toBe(201);
    // Another address in its place: not verified, payouts off again.
    expect((await setPayPal(u, 'elsewhere@example.com')).json<SettingsDto>()).toMatchObject({
      paypalVerified: false,
      payoutsEnabled: false,
    });
    expect((await request(u, { amount: 5000, ...paypal() })).statusCode).toBe(403);
    expect((await setPayPal(u, null)).json<SettingsDto>()).toMatchObject({
      paypalEmail: null,
      paypalVerified: false,
      payoutsEnabled: false,
    });
    expect((await auditOf(walletId)).map((a) => [a.action, a.metadata.paypalVerified])).toEqual([
      ['wallet.payout_destination_changed', true],
      ['wallet.payout_destination_changed', false],
      ['wallet.payout_destination_changed', false],
    ]);
    // An account whose own address is not verified yet cannot verify it as a payout destination.
    const signUp = await ctx.req({
      method: 'POST',
      url: '/v1/auth/sign-up',
      payload: {
        email: `unverified-${newId().slice(-8)}@example.com`,
        password: 'correct horse battery staple',
        name: 'U',
      },
    });
    expect(signUp.statusCode, signUp.body).toBe(201);
    const fresh = signUp.json<{ token: string; user: { id: string; email: string } }>();
    const unverified = await ctx.req({
      method: 'PUT',
      url: settingsUrl,
      token: fresh.token,
      payload: { paypalEmail: fresh.user.email },
    });
    expect(unverified.json<SettingsDto>()).toMatchObject({ paypalVerified: false, payoutsEnabled: false });
    // The database refuses enabled payouts without a verified destination, whatever code writes it.
    await expect(
      ctx.database.raw.query('update wallets set payouts_enabled = true where id = $1', [walletId]),
    ).rejects.toThrow(/wallets_payouts_enabled_check/);
  });

  it('lets operators disable payouts with a reason (audited) until an operator re-enables them, whatever the owner verifies meanwhile', async () => {
    const u = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    const walletId = await fund({ userId: u.id }, 20000);
    await enablePayouts(u);
    const before = (await request(u, { amount: 5000, ...paypal() })).json<PayoutDto>();
    const disable = (
      who: TestUser | null,
      payload: Record<string, unknown> = { reason: 'chargebacks under review' },
    ) => action(who, `/v1/admin/wallets/${walletId}/payouts/disable`, payload);
    const enable = (who: TestUser | null, payload: Record<string, unknown> = { reason: 'review cleared' }) =>
      action(who, `/v1/admin/wallets/${walletId}/payouts/enable`, payload);

    // Only operators, with a reason, on a wallet that exists.
    expect((await disable(u)).statusCode).toBe(403);
    expect((await disable(null)).statusCode).toBe(401);
    expect((await disable(admin, { reason: ' ' })).statusCode).toBe(400);
    expect((await disable(admin, {})).statusCode).toBe(400);
    expect(
      (await action(admin, `/v1/admin/wallets/${newId()}/payouts/disable`, { reason: 'x' })).statusCode,
    ).toBe(404);
    expect((await settings(u)).payoutsEnabled).toBe(true);

    const off = await disable(admin);
    expect(off.statusCode, off.body).toBe(200);
    expect(off.json<SettingsDto>()).toMatchObject({
      payoutsEnabled: false,
      blockedBy: 'disabled_by_operator',
      payoutsDisabledReason: 'chargebacks under review',
      paypalVerified: true,
    });
    // Disabling again changes nothing (and records nothing).
    expect((await disable(admin, { reason: 'other' })).json<SettingsDto>().payoutsDisabledReason).toBe(
      'chargebacks under review',
    );
    const refused = await request(u, { amount: 5000, ...paypal() });
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ code: string; detail: string }>()).toMatchObject({
      code: 'payouts_not_enabled',
      detail: expect.stringContaining('chargebacks under review') as string,
    });
    // A payout asked for before the block is held back as well.
    const approve = await action(admin, `/v1/admin/payouts/${before.id}/approve`);
    expect(approve.statusCode).toBe(409);
    expect(approve.json<{ code: string }>().code).toBe('payouts_not_enabled');
    expect((await get(u, before.id)).json<PayoutDto>().status).toBe('pending');
    // The owner verifying a destination again does not lift the block.
    await setPayPal(u, 'elsewhere@example.com');
    expect((await setPayPal(u, u.email)).json<SettingsDto>()).toMatchObject({
      paypalVerified: true,
      payoutsEnabled: false,
      blockedBy: 'disabled_by_operator',
    });
    expect((await request(u, { amount: 5000, ...paypal() })).statusCode).toBe(403);
    expect(await count('payouts', 'wallet_id = $1', [walletId])).toBe(1);
    expect((await wallet(u)).balance).toBe(15000);

    expect((await enable(u)).statusCode).toBe(403);
    const on = await enable(admin);
    expect(on.statusCode, on.body).toBe(200);
    expect(on.json<SettingsDto>()).toMatchObject({
      payoutsEnabled: true,
      blockedBy: null,
      payoutsDisabledReason: null,
    });
    expect((await enable(admin)).statusCode).toBe(200);
    expect((await action(admin, `/v1/admin/payouts/${before.id}/approve`)).statusCode).toBe(200);
    expect((await request(u, { amount: 5000, ...paypal() })).statusCode).toBe(201);
    await ctx.drain();

    const ops = (await auditOf(walletId)).filter((a) => a.action !== 'wallet.payout_destination_changed');
    expect(ops).toEqual([
      {
        action: 'wallet.payouts_disabled',
        user_id: admin.id,
        metadata: expect.objectContaining({
          reason: 'chargebacks under review',
          ownerUserId: u.id,
        }) as unknown,
      },
      {
        action: 'wallet.payouts_enabled',
        user_id: admin.id,
        metadata: expect.objectContaining({
          reason: 'review cleared',
          disabledReason: 'chargebacks under review',
          payoutsEnabled: true,
        }) as unknown,
      },
    ]);
    expect(
      (
        await ctx.req({
          method: 'GET',
          url: `/v1/admin/wallets/${walletId}/payout-settings`,
          token: admin.token,
        })
      ).json<SettingsDto>(),
    ).toMatchObject({ payoutsEnabled: true });
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/admin/wallets/${walletId}/payout-settings`, token: u.token }))
        .statusCode,
    ).toBe(403);

    // Re-enabling a blocked wallet without a verified destination lifts the block only.
    const v = await ctx.newUser();
    const vWallet = await fund({ userId: v.id }, 5000);
    await action(admin, `/v1/admin/wallets/${vWallet}/payouts/disable`, { reason: 'kyc' });
    expect(
      (
        await action(admin, `/v1/admin/wallets/${vWallet}/payouts/enable`, { reason: 'kyc done' })
      ).json<SettingsDto>(),
    ).toMatchObject({ payoutsEnabled: false, blockedBy: 'no_verified_destination' });
    await reconciled();
  });

  it("keeps an organization's payout settings to members with payouts.manage", async () => {
    const owner = await ctx.newUser();
    const creator = await ctx.newUser();
    const outsider = await ctx.newUser();
    const org = await ctx.newOrg(owner);
    await ctx.addMember(owner, org.id, creator, 'creator');
    const url = `/v1/orgs/${org.id}/wallets/USD/payout-settings`;
    expect((await ctx.req({ method: 'GET', url, token: outsider.token })).statusCode).toBe(404);
    expect(
      (await ctx.req({ method: 'PUT', url, token: creator.token, payload: { paypalEmail: creator.email } }))
        .statusCode,
    ).toBe(403);
    expect((await ctx.req({ method: 'GET', url, token: owner.token })).json<SettingsDto>()).toMatchObject({
      payoutsEnabled: false,
    });
    // The owner's personal wallet is another wallet.
    await enablePayouts(owner, ctx, url);
    expect((await settings(owner)).payoutsEnabled).toBe(false);
  });
});

describe('concurrency', () => {
  it('survives 230 concurrent conflicting debits, top-ups, refunds, withdrawals and cancels on one wallet', async () => {
    const u = await ctx.newUser();
    const admin = await ctx.newUser({ role: 'admin' });
    await enablePayouts(u);
    const topUp = (amount: number) =>
      ctx.req({
        method: 'POST',
        url: '/v1/wallets/USD/top-ups',
        token: u.token,
        payload: { amount, paymentMethod: 'pm_card_visa' },
      });
    await topUp(100_000);
    await ctx.drain();
    const w = await wallet(u);
    // Payouts asked for before, to be cancelled during the run.
    const earlier: string[] = [];
    for (let i = 0; i < 10; i++) {
      earlier.push((await request(u, { amount: 5000, ...paypal() })).json<PayoutDto>().id);
    }
    const start = (await wallet(u)).balance;
    expect(start).toBe(50_000);
    for (let i = 0; i < 20; i++) await topUp(300);
    const secret = (ctx.services.sandbox as unknown as { deps: { secret: string } }).deps.secret;
    const events = (
      await ctx.database.raw.query<{ payload: unknown }>(
        "select payload from sandbox_events where delivered_at is null and type = 'payment_intent.succeeded'",
      )
    ).rows.map((r) => JSON.stringify(r.payload));
    expect(events).toHaveLength(20);
    const firstPayment = (
      await ctx.database.raw.query<{ id: string }>(
        "select id from payments where wallet_id = $1 and status = 'success' order by id limit 1",
        [w.id],
      )
    ).rows[0]!.id;

    type Op = {
      kind: 'debit' | 'credit' | 'refund' | 'withdrawal' | 'cancel';
      amount: number;
      ok: boolean;
      status?: number;
    };
    const ops: Promise<Op>[] = [];
    const settle = (kind: Op['kind'], amount: number, p: Promise<unknown>) =>
      p.then(
        () => ({ kind, amount, ok: true }),
        () => ({ kind, amount, ok: false }),
      );
    const spend = (amount: number) =>
      ctx.database.db.transaction(async (tx) => {
        const revenue = await ctx.services.ledger.platformAccount('platform_revenue', 'USD', tx);
        return ctx.services.wallets.spend(
          {
            walletId: w.id,
            amount,
            key: `spend:${newId()}`,
            to: [{ accountId: revenue, amount }],
            type: 'usage',
            transferKind: 'usage',
          },
          tx,
        );
      });
    for (let i = 0; i < 130; i++) {
      ops.push(settle('debit', 70, spend(70)));
      if (i < 40) {
        ops.push(
          request(u, { amount: 5000, ...paypal() }).then((r) => {
            if (![201, 402].includes(r.statusCode)) {
              throw new Error(`withdrawal answered ${r.statusCode}: ${r.body}`);
            }
            return {
              kind: 'withdrawal' as const,
              amount: 5000,
              ok: r.statusCode === 201,
              status: r.statusCode,
            };
          }),
        );
      }
      if (i < 20) {
        ops.push(
          settle(
            'credit',
            300,
            ctx.services.payments.handleWebhook('sandbox', events[i]!, {
              [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(secret, events[i]!),
            }),
          ),
        );
      }
      if (i < 30) {
        ops.push(
          settle(
            'refund',
            10,
            ctx.services.payments.refund(admin as never, firstPayment, { amount: 10 }, { authorized: true }),
          ),
        );
      }
      if (i < 10) {
        ops.push(
          action(u, `/v1/payouts/${earlier[i]}/cancel`).then((r) => ({
            kind: 'cancel' as const,
            amount: 5000,
            ok: r.statusCode === 200,
            status: r.statusCode,
          })),
        );
      }
    }
    const results = await Promise.all(ops);
    expect(results).toHaveLength(230);
    await ctx.drain();
    const ok = (k: Op['kind']) => results.filter((r) => r.kind === k && r.ok);
    expect(results.filter((r) => (r.kind === 'credit' || r.kind === 'cancel') && !r.ok)).toEqual([]);
    expect(ok('withdrawal').length).toBeGreaterThan(0);
    expect(results.filter((r) => r.kind === 'withdrawal' && !r.ok).length).toBeGreaterThan(0);
    const sum = (k: Op['kind']) => ok(k).reduce((a, r) => a + r.amount, 0);
    const final = await wallet(u);
    expect(final.balance).toBe(
      start + sum('credit') + sum('cancel') - sum('debit') - sum('refund') - sum('withdrawal'),
    );
    expect(final.balance).toBeGreaterThanOrEqual(0);
    expect(await count('payouts', "wallet_id = $1 and status = 'pending'", [w.id])).toBe(
      ok('withdrawal').length,
    );
    expect(await count('payouts', "wallet_id = $1 and status = 'cancelled'", [w.id])).toBe(10);
    await reconciled();
  }, 120_000);
});

describe('a payout provider that settles later', () => {
  /** Like a Stripe Connect or PayPal Payouts adapter: answers in transit, tells the outcome by webhook. */
  class LaterProvider implements PayoutProvider {
    readonly name = 'stripe_connect';
    calls = 0;
    down = true;
    send(input: SendPayoutInput): Promise<SendPayoutResult> {
      this.calls++;
      if (this.down) return Promise.reject(new Error('provider unreachable'));
      return Promise.resolve({ status: 'in_transit', providerPayoutId: `po_${input.payoutId.slice(-12)}` });
    }
  }
  let later: TestContext;
  const provider = new LaterProvider();
  beforeAll(async () => {
    later = await createTestContext({ PAYOUT_MINIMUM_CENTS: '1000' }, { payoutProvider: provider });
  });
  afterAll(async () => later.close());

  it('keeps the money in clearing while the provider is unreachable or in transit, then settles once from its word', async () => {
    const u = await later.newUser();
    const admin = await later.newUser({ role: 'admin' });
    await enablePayouts(u, later);
    const w = await later.services.ledger.wallet({ userId: u.id }, 'USD');
    const clearing = await later.services.ledger.platformAccount('provider_clearing', 'USD');
    await later.services.ledger.transfer({
      key: `fund:${newId()}`,
      kind: 'topup',
      currency: 'USD',
      legs: [
        { accountId: clearing, amount: -3000 },
        { accountId: w.available, amount: 3000 },
      ],
    });
    // The configured minimum applies: 10.00 here.
    const small = await later.req({
      method: 'POST',
      url: '/v1/payouts',
      token: u.token,
      headers: { 'idempotency-key': newId() },
      payload: { amount: 999, currency: 'USD', ...paypal() },
    });
    expect(small.statusCode).toBe(422);
    const res = await later.req({
      method: 'POST',
      url: '/v1/payouts',
      token: u.token,
      headers: { 'idempotency-key': newId() },
      payload: { amount: 1000, currency: 'USD', ...iban },
    });
    const p = res.json<PayoutDto>();
    await later.req({ method: 'POST', url: `/v1/admin/payouts/${p.id}/approve`, token: admin.token });
    await expect(later.services.payouts.send(p.id)).rejects.toThrow('provider unreachable');
    expect(
      (await later.req({ method: 'GET', url: `/v1/payouts/${p.id}`, token: u.token })).json<PayoutDto>()
        .status,
    ).toBe('processing');
    provider.down = false;
    const sent = await later.services.payouts.send(p.id);
    expect(sent).toMatchObject({
      status: 'processing',
      providerPayoutId: expect.stringMatching(/^po_/) as string,
    });
    // Sending again asks the provider nothing more.
    await later.services.payouts.send(p.id);
    expect(provider.calls).toBe(2);
    expect((await later.services.ledger.walletById(w.wallet.id))!.wallet.balance).toBe(2000);
    const r0 = await reconcile(later.services.ledgerRepo, later.services.payouts.invariants());
    expect(r0.checks.filter((c) => !c.ok)).toEqual([]);

    expect(
      await later.services.payouts.settleFromProvider('stripe_connect', sent!.providerPayoutId!, {
        status: 'completed',
      }),
    ).toBe('processed');
    expect(
      await later.services.payouts.settleFromProvider('stripe_connect', sent!.providerPayoutId!, {
        status: 'failed',
        reason: 'late',
      }),
    ).toBe('ignored');
    const done = (await later.req({ method: 'GET', url: `/v1/payouts/${p.id}`, token: u.token })).json<
      PayoutDto & { provider: string }
    >();
    expect(done).toMatchObject({ status: 'completed', provider: 'stripe_connect' });
    const row = (
      await later.database.raw.query<{ stripe_payout_id: string }>(
        'select stripe_payout_id from payouts where id = $1',
        [p.id],
      )
    ).rows[0]!;
    expect(row.stripe_payout_id).toBe(sent!.providerPayoutId);
    expect((await later.services.ledger.walletById(w.wallet.id))!.wallet).toMatchObject({
      balance: 2000,
      totalWithdrawn: 1000,
      totalWithdrawnStripe: 1000,
    });
    const r = await reconcile(later.services.ledgerRepo, later.services.payouts.invariants());
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
  });

  describe('operators close a payout stuck in processing', () => {
    const admin = () => later.newUser({ role: 'admin' });
    const setUp = async (amount = 1000) => {
      const u = await later.newUser();
      const w = await later.services.ledger.wallet({ userId: u.id }, 'USD');
      const clearing = await later.services.ledger.platformAccount('provider_clearing', 'USD');
      await later.services.ledger.transfer({
        key: `fund:${newId()}`,
        kind: 'topup',
        currency: 'USD',
        legs: [
          { accountId: clearing, amount: -3000 },
          { accountId: w.available, amount: 3000 },
        ],
      });
      await enablePayouts(u, later);
      const res = await later.req({
        method: 'POST',
        url: '/v1/payouts',
        token: u.token,
        headers: { 'idempotency-key': newId() },
        payload: { amount, currency: 'USD', ...iban },
      });
      expect(res.statusCode, res.body).toBe(201);
      return { u, walletId: w.wallet.id, p: res.json<PayoutDto>() };
    };
    const act = (who: TestUser, url: string, payload: Record<string, unknown>) =>
      later.req({ method: 'POST', url, token: who.token, payload });
    const balance = async (walletId: string) => (await later.services.ledger.walletById(walletId))!.wallet;
    const transfers = (payoutId: string, kind: string) =>
      later.database.raw
        .query<{ n: string }>(
          "select count(*)::text as n from ledger_transfers where reference_type = 'payout' and reference_id = $1 and kind = $2",
          [payoutId, kind],
        )
        .then((r) => Number(r.rows[0]!.n));
    const reconciledLater = async () => {
      const r = await reconcile(later.services.ledgerRepo, later.services.payouts.invariants());
      return r.checks.filter((c) => !c.ok);
    };

    it('lists and reconciles payouts processing too long; marking one failed returns the money once, and the provider’s late word changes nothing', async () => {
      const op = await admin();
      const { u, walletId, p } = await setUp();
      expect((await act(op, `/v1/admin/payouts/${p.id}/approve`, {})).statusCode).toBe(200);
      provider.down = false;
      const sent = (await later.services.payouts.send(p.id))!;
      expect(sent).toMatchObject({ status: 'processing' });
      const calls = provider.calls;

      // Surfaced: by the list filter at once, by reconciliation after 48 hours.
      const stuck = async (hours: number) =>
        (
          await later.req({
            method: 'GET',
            url: `/v1/admin/payouts?processingForHours=${hours}&limit=100`,
            token: op.token,
          })
        )
          .json<{ items: PayoutDto[] }>()
          .items.map((i) => i.id);
      expect(await stuck(0)).toContain(p.id);
      expect(await stuck(1)).not.toContain(p.id);
      expect(await reconciledLater()).toEqual([]);
      await later.database.raw.query(
        "update payouts set processed_at = now() - interval '3 days' where id = $1",
        [p.id],
      );
      expect(await stuck(49)).toContain(p.id);
      const failing = await reconciledLater();
      expect(failing.map((c) => c.name)).toEqual(['no payout has been processing for longer than 48 hours']);
      expect(failing[0]!.problems.join('\n')).toContain(p.id);
      expect(
        (await later.req({ method: 'GET', url: '/v1/admin/payouts?processingForHours=-1', token: op.token }))
          .statusCode,
      ).toBe(400);

      // Only operators, with a reason.
      expect((await act(u, `/v1/admin/payouts/${p.id}/mark-failed`, { reason: 'x' })).statusCode).toBe(403);
      expect((await act(op, `/v1/admin/payouts/${p.id}/mark-failed`, { reason: '' })).statusCode).toBe(400);
      expect((await act(op, `/v1/admin/payouts/${newId()}/mark-failed`, { reason: 'x' })).statusCode).toBe(
        404,
      );
      expect((await balance(walletId)).balance).toBe(2000);

      const failed = await act(op, `/v1/admin/payouts/${p.id}/mark-failed`, {
        reason: 'the provider has no record of it',
      });
      expect(failed.statusCode, failed.body).toBe(200);
      const f = failed.json<PayoutDto>();
      expect(f).toMatchObject({
        status: 'failed',
        failureReason: 'Marked failed by the operator: the provider has no record of it',
      });
      expect(f.returnTransferId).not.toBeNull();
      expect((await balance(walletId)).balance).toBe(3000);
      // Again: answered unchanged, nothing moves.
      const again = await act(op, `/v1/admin/payouts/${p.id}/mark-failed`, { reason: 'twice' });
      expect(again.statusCode).toBe(200);
      expect(again.json<PayoutDto>()).toMatchObject({
        returnTransferId: f.returnTransferId,
        failureReason: f.failureReason,
      });
      // The provider's late webhook, either way, and the send job running again: ignored.
      for (const outcome of [
        { status: 'completed' as const },
        { status: 'failed' as const, reason: 'late' },
      ]) {
        expect(
          await later.services.payouts.settleFromProvider('stripe_connect', sent.providerPayoutId!, outcome),
        ).toBe('ignored');
      }
      await later.services.payouts.send(p.id);
      expect(provider.calls).toBe(calls);
      expect(await transfers(p.id, 'payout_returned')).toBe(1);
      expect(await transfers(p.id, 'payout_sent')).toBe(0);
      expect(await balance(walletId)).toMatchObject({ balance: 3000, totalWithdrawn: 0 });
      // Closed: completing it now is refused.
      const complete = await act(op, `/v1/admin/payouts/${p.id}/mark-completed`, {
        providerPayoutId: sent.providerPayoutId,
      });
      expect(complete.statusCode).toBe(409);
      expect(complete.json<{ code: string }>().code).toBe('payout_not_processing');
      const audits = await later.database.raw.query<{ action: string; user_id: string; reason: string }>(
        "select action, user_id, metadata->>'reason' as reason from audit_logs where resource_id = $1 and action like 'payout.%'",
        [p.id],
      );
      expect(audits.rows).toEqual([
        { action: 'payout.marked_failed', user_id: op.id, reason: 'the provider has no record of it' },
      ]);
      const titles = await later.database.raw.query<{ title: string }>(
        "select title from notifications where user_id = $1 and type = 'payout'",
        [u.id],
      );
      expect(titles.rows.map((r) => r.title)).toEqual(['Your payout failed']);
      expect(await reconciledLater()).toEqual([]);
    });

    it('an operator and the provider closing the same payout at once: one wins, the money moves once', async () => {
      const op = await admin();
      for (const outcome of ['completed', 'failed'] as const) {
        const { walletId, p } = await setUp();
        await act(op, `/v1/admin/payouts/${p.id}/approve`, {});
        provider.down = false;
        const sent = (await later.services.payouts.send(p.id))!;
        const [byOperator, byProvider] = await Promise.all([
          act(op, `/v1/admin/payouts/${p.id}/mark-failed`, { reason: 'race' }),
          later.services.payouts.settleFromProvider(
            'stripe_connect',
            sent.providerPayoutId!,
            outcome === 'completed' ? { status: 'completed' } : { status: 'failed', reason: 'declined' },
          ),
        ]);
        const final = (
          await later.req({ method: 'GET', url: `/v1/payouts/${p.id}`, token: op.token })
        ).json<PayoutDto>();
        const returned = await transfers(p.id, 'payout_returned');
        const paid = await transfers(p.id, 'payout_sent');
        const seen = `${outcome}: operator ${byOperator.statusCode}, provider ${byProvider}`;
        expect(returned + paid, seen).toBe(1);
        expect(final.status, seen).toBe(paid ? 'completed' : 'failed');
        expect((await balance(walletId)).balance, seen).toBe(paid ? 2000 : 3000);
        if (outcome === 'failed') {
          // Both say failed: whoever comes second finds it failed already.
          expect(byOperator.statusCode, seen).toBe(200);
          expect(paid, seen).toBe(0);
        } else if (paid) {
          expect([byOperator.statusCode, byProvider], seen).toEqual([409, 'processed']);
        } else {
          expect([byOperator.statusCode, byProvider], seen).toEqual([200, 'ignored']);
        }
      }
      expect(await reconciledLater()).toEqual([]);
    });

    it('a payout the provider never answered, marked failed, is never sent afterwards', async () => {
      const op = await admin();
      const { walletId, p } = await setUp();
      await act(op, `/v1/admin/payouts/${p.id}/approve`, {});
      provider.down = true;
      await expect(later.services.payouts.send(p.id)).rejects.toThrow('provider unreachable');
      const calls = provider.calls;
      expect(
        (await act(op, `/v1/admin/payouts/${p.id}/mark-failed`, { reason: 'provider outage' })).statusCode,
      ).toBe(200);
      provider.down = false;
      // The job's retry after the provider is back.
      expect(await later.services.payouts.send(p.id)).toMatchObject({ status: 'failed' });
      expect(provider.calls).toBe(calls);
      expect((await balance(walletId)).balance).toBe(3000);
      expect(await reconciledLater()).toEqual([]);
    });

    it('marking one completed posts once with the provider reference; a pending or closed payout is refused with 409', async () => {
      const op = await admin();
      const { u, walletId, p } = await setUp();
      // Pending: approve or reject it instead.
      for (const [url, body] of [
        ['mark-completed', { providerPayoutId: 'po_x' }],
        ['mark-failed', { reason: 'x' }],
      ] as const) {
        const res = await act(op, `/v1/admin/payouts/${p.id}/${url}`, body);
        expect(res.statusCode).toBe(409);
        expect(res.json<{ code: string; detail: string }>()).toMatchObject({
          code: 'payout_not_processing',
          detail: expect.stringContaining('approve or reject') as string,
        });
      }
      await act(op, `/v1/admin/payouts/${p.id}/approve`, {});
      provider.down = false;
      const sent = (await later.services.payouts.send(p.id))!;
      const mismatch = await act(op, `/v1/admin/payouts/${p.id}/mark-completed`, {
        providerPayoutId: 'po_someone_else',
      });
      expect(mismatch.statusCode).toBe(409);
      expect(mismatch.json<{ code: string }>().code).toBe('provider_reference_mismatch');
      expect((await act(op, `/v1/admin/payouts/${p.id}/mark-completed`, {})).statusCode).toBe(400);
      expect(
        (
          await act(u, `/v1/admin/payouts/${p.id}/mark-completed`, {
            providerPayoutId: sent.providerPayoutId,
          })
        ).statusCode,
      ).toBe(403);

      const done = await act(op, `/v1/admin/payouts/${p.id}/mark-completed`, {
        providerPayoutId: sent.providerPayoutId,
      });
      expect(done.statusCode, done.body).toBe(200);
      const d = done.json<PayoutDto>();
      expect(d).toMatchObject({ status: 'completed', providerPayoutId: sent.providerPayoutId });
      expect(d.settleTransferId).not.toBeNull();
      const again = await act(op, `/v1/admin/payouts/${p.id}/mark-completed`, {
        providerPayoutId: sent.providerPayoutId,
      });
      expect(again.statusCode).toBe(200);
      expect(again.json<PayoutDto>().settleTransferId).toBe(d.settleTransferId);
      expect((await act(op, `/v1/admin/payouts/${p.id}/mark-failed`, { reason: 'x' })).statusCode).toBe(409);
      for (const outcome of [
        { status: 'completed' as const },
        { status: 'failed' as const, reason: 'late' },
      ]) {
        expect(
          await later.services.payouts.settleFromProvider('stripe_connect', sent.providerPayoutId!, outcome),
        ).toBe('ignored');
      }
      expect(await transfers(p.id, 'payout_sent')).toBe(1);
      expect(await transfers(p.id, 'payout_returned')).toBe(0);
      expect(await balance(walletId)).toMatchObject({
        balance: 2000,
        totalWithdrawn: 1000,
        totalWithdrawnStripe: 1000,
      });
      const audits = await later.database.raw.query<{ action: string; ref: string }>(
        "select action, metadata->>'providerPayoutId' as ref from audit_logs where resource_id = $1 and action like 'payout.%'",
        [p.id],
      );
      expect(audits.rows).toEqual([{ action: 'payout.marked_completed', ref: sent.providerPayoutId }]);

      // Never answered by the provider: the operator's reference becomes the payout's, and the
      // provider's later webhook with it is ignored.
      const second = await setUp();
      await act(op, `/v1/admin/payouts/${second.p.id}/approve`, {});
      provider.down = true;
      await expect(later.services.payouts.send(second.p.id)).rejects.toThrow();
      provider.down = false;
      const ref = 'po_from_the_provider_dashboard';
      expect(
        (
          await act(op, `/v1/admin/payouts/${second.p.id}/mark-completed`, { providerPayoutId: ref })
        ).json<PayoutDto>(),
      ).toMatchObject({
        status: 'completed',
        providerPayoutId: ref,
      });
      expect(
        await later.services.payouts.settleFromProvider('stripe_connect', ref, {
          status: 'failed',
          reason: 'late',
        }),
      ).toBe('ignored');
      expect(await later.services.payouts.send(second.p.id)).toMatchObject({ status: 'completed' });
      expect(await transfers(second.p.id, 'payout_sent')).toBe(1);
      expect((await balance(second.walletId)).totalWithdrawn).toBe(1000);
      expect(await reconciledLater()).toEqual([]);
    });
  });

  it('lists the payout routes in the OpenAPI document', async () => {
    const doc = (await later.req({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<
        string,
        Record<string, { parameters?: { name: string; in: string; required?: boolean }[] }>
      >;
    }>();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/payouts',
        '/v1/payouts/{id}',
        '/v1/payouts/{id}/cancel',
        '/v1/orgs/{orgId}/payouts',
        '/v1/admin/payouts',
        '/v1/admin/payouts/{id}/approve',
        '/v1/admin/payouts/{id}/reject',
        '/v1/admin/payouts/{id}/mark-completed',
        '/v1/admin/payouts/{id}/mark-failed',
        '/v1/wallets/{currency}/payout-settings',
        '/v1/orgs/{orgId}/wallets/{currency}/payout-settings',
        '/v1/admin/wallets/{id}/payout-settings',
        '/v1/admin/wallets/{id}/payouts/disable',
        '/v1/admin/wallets/{id}/payouts/enable',
      ]),
    );
    expect(doc.paths['/v1/payouts']!.post!.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'idempotency-key', in: 'header', required: true }),
      ]),
    );
  });
});
