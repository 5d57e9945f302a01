import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers.ts';
import { newId } from '../../core/ids.ts';
import { reconcile } from './reconcile.ts';

let ctx: TestContext;
/** The database's own message: Drizzle wraps it as the cause of "Failed query". */
const dbError = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: Error & { cause?: Error }) => e.cause?.message ?? e.message,
  );
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx.close());

const fund = async (accountId: string, amount: number, currency = 'USD') => {
  const { ledger } = ctx.services;
  const clearing = await ledger.platformAccount('provider_clearing', currency);
  return ledger.transfer({
    key: `fund:${newId()}`,
    kind: 'topup',
    currency,
    legs: [
      { accountId: clearing, amount: -amount },
      { accountId, amount },
    ],
  });
};

describe('ledger', () => {
  it('posts a balanced transfer and keeps account and wallet balances as projections', async () => {
    const u = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: u.id }, 'USD');
    await fund(w.available, 5000);
    const revenue = await ledger.platformAccount('platform_revenue', 'USD');
    await ledger.transfer({
      key: `k:${newId()}`,
      kind: 'payment',
      currency: 'USD',
      legs: [
        { accountId: w.available, amount: -1234 },
        { accountId: revenue, amount: 1234 },
      ],
    });
    expect(await ledger.balance(w.available)).toBe(3766);
    const wallet = (await ctx.services.ledgerRepo.wallet(w.wallet.id))!;
    expect(wallet.balance).toBe(3766);
    expect(wallet.balanceAvailable).toBe(3766);
    expect((await reconcile(ctx.services.ledgerRepo)).ok).toBe(true);
  });

  it('posts transfers in every direction between the same wallets concurrently without a deadlock, and plans them once', async () => {
    const { ledger } = ctx.services;
    const wallets = [];
    for (let i = 0; i < 3; i++) {
      const u = await ctx.newUser();
      const w = await ledger.wallet({ userId: u.id }, 'USD');
      await fund(w.available, 10_000);
      wallets.push(w);
    }
    // Each pair in both directions, and three-account transfers whose legs list the accounts in
    // different orders: every posting must lock its accounts in one order (id order) whatever
    // order the legs give, or two of these would wait on each other.
    const moves: { legs: { accountId: string; amount: number }[] }[] = [];
    for (let i = 0; i < 150; i++) {
      const [a, b, c] = [wallets[i % 3]!, wallets[(i + 1) % 3]!, wallets[(i + 2) % 3]!];
      moves.push(
        i % 2 === 0
          ? { legs: [{ accountId: a.available, amount: -(1 + (i % 7)) }, { accountId: b.available, amount: 1 + (i % 7) }] }
          : { legs: [{ accountId: c.available, amount: 2 }, { accountId: a.available, amount: -3 }, { accountId: b.available, amount: 1 }] },
      );
    }
    const results = await Promise.allSettled(moves.map((m) => ledger.transfer({ key: `dir:${newId()}`, kind: 'transfer', currency: 'USD', legs: m.legs })));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual([]);
    const expected = new Map(wallets.map((w) => [w.available, 10_000]));
    for (const m of moves) for (const l of m.legs) expected.set(l.accountId, expected.get(l.accountId)! + l.amount);
    for (const w of wallets) {
      expect(await ledger.balance(w.available)).toBe(expected.get(w.available));
      expect((await ctx.services.ledgerRepo.wallet(w.wallet.id))!.balanceAvailable).toBe(expected.get(w.available));
    }
    expect((await reconcile(ctx.services.ledgerRepo)).ok).toBe(true);
    // The posting function is planned once per connection, as primary-key lookups (drizzle/0024):
    // custom plans re-planned it on every call, and a generic plan over small tables seq-scanned them.
    const config = (await ctx.database.raw.query<{ proconfig: string[] }>(`select proconfig from pg_proc where proname = 'ledger_post_transfer'`)).rows[0]!.proconfig;
    expect(config).toEqual(expect.arrayContaining(['plan_cache_mode=force_generic_plan', 'enable_seqscan=off', 'enable_hashjoin=off']));
  });

  it('refuses an overdraft with insufficient_funds and moves nothing', async () => {
    const u = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: u.id }, 'USD');
    await fund(w.available, 100);
    const revenue = await ledger.platformAccount('platform_revenue', 'USD');
    await expect(
      ledger.transfer({
        key: `k:${newId()}`,
        kind: 'payment',
        currency: 'USD',
        legs: [
          { accountId: w.available, amount: -101 },
          { accountId: revenue, amount: 101 },
        ],
      }),
    ).rejects.toMatchObject({ kind: 'payment_required', details: { code: 'insufficient_funds' } });
    expect(await ledger.balance(w.available)).toBe(100);
  });

  it('answers a replayed key with the first transfer and moves money once', async () => {
    const u = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: u.id }, 'USD');
    const key = `fund:${newId()}`;
    const clearing = await ledger.platformAccount('provider_clearing', 'USD');
    const legs = [
      { accountId: clearing, amount: -700 },
      { accountId: w.available, amount: 700 },
    ];
    const results = await Promise.all(
      Array.from({ length: 5 }, () => ledger.transfer({ key, kind: 'topup', currency: 'USD', legs })),
    );
    expect(new Set(results.map((r) => r.transferId)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await ledger.balance(w.available)).toBe(700);
    await expect(ledger.transfer({ key, kind: 'payment', currency: 'USD', legs })).rejects.toMatchObject({
      details: { code: 'transfer_key_reused' },
    });
  });

  it('applies the rules on the posting function too, and leaves the trigger armed after a refused posting', async () => {
    const u = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: u.id }, 'USD');
    const eur = await ledger.platformAccount('provider_clearing', 'EUR');
    const usd = await ledger.platformAccount('provider_clearing', 'USD');
    await fund(w.available, 1000);
    const post = (accounts: string[], amounts: number[]) =>
      ctx.database.raw.query(
        `select ledger_post_transfer($1, $2, 'transfer', 'USD', null, null, null, null, '{}'::jsonb, $3::uuid[], $4::uuid[], $5::bigint[])`,
        [newId(), `fn:${newId()}`, `{${accounts.map(() => newId()).join(',')}}`, `{${accounts.join(',')}}`, `{${amounts.join(',')}}`],
      );
    expect(await dbError(post([w.available, usd], [5, -4]))).toMatch(/does not balance/);
    expect(await dbError(post([w.available, eur], [5, -5]))).toMatch(/mixes currencies/);
    expect(await dbError(post([w.available, usd], [-1001, 1001]))).toMatch(/no_overdraft|violates check constraint/);
    // A refused posting inside a transaction that goes on (a savepoint) must not leave the
    // trigger-skipping flag set: a direct, unbalanced entry insert after it is still refused.
    const t = newId();
    expect(
      await dbError(
        ctx.database.db.transaction(async (tx) => {
          await tx
            .transaction(async (sp) => {
              await sp.execute(
                sql`select ledger_post_transfer(${newId()}, ${`fn:${newId()}`}, 'transfer', 'USD', null, null, null, null, '{}'::jsonb, ${`{${newId()},${newId()}}`}::uuid[], ${`{${w.available},${usd}}`}::uuid[], ${'{-5000,5000}'}::bigint[])`,
              );
            })
            .catch(() => undefined);
          await tx.execute(sql`insert into ledger_transfers (id, idempotency_key, kind, currency) values (${t}, ${`x:${t}`}, 'transfer', 'USD')`);
          await tx.execute(sql`insert into ledger_entries (id, transfer_id, account_id, amount) values (${newId()}, ${t}, ${w.available}, 5)`);
        }),
      ),
    ).toMatch(/does not balance/);
    expect((await ledger.walletById(w.wallet.id))?.wallet.balanceAvailable).toBe(1000);
    const report = await reconcile(ctx.services.ledgerRepo);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('refuses unbalanced and mixed-currency entries, and any change of entries or balances, in the database itself', async () => {
    const u = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: u.id }, 'USD');
    const eur = await ledger.platformAccount('provider_clearing', 'EUR');
    await fund(w.available, 1000);
    const raw = ctx.database.raw;
    const t = newId();
    expect(
      await dbError(
        ctx.database.db.transaction(async (tx) => {
          await tx.execute(
            sql`insert into ledger_transfers (id, idempotency_key, kind, currency) values (${t}, ${`x:${t}`}, 'transfer', 'USD')`,
          );
          await tx.execute(
            sql`insert into ledger_entries (id, transfer_id, account_id, amount) values (${newId()}, ${t}, ${w.available}, 5)`,
          );
        }),
      ),
    ).toMatch(/does not balance/);
    const t2 = newId();
    expect(
      await dbError(
        ctx.database.db.transaction(async (tx) => {
          await tx.execute(
            sql`insert into ledger_transfers (id, idempotency_key, kind, currency) values (${t2}, ${`x:${t2}`}, 'transfer', 'USD')`,
          );
          await tx.execute(
            sql`insert into ledger_entries (id, transfer_id, account_id, amount) values (${newId()}, ${t2}, ${w.available}, 5), (${newId()}, ${t2}, ${eur}, -5)`,
          );
        }),
      ),
    ).toMatch(/mixes currencies/);
    expect(await dbError(raw.query('update ledger_entries set amount = amount + 1'))).toMatch(/append-only/);
    expect(await dbError(raw.query('delete from ledger_entries'))).toMatch(/append-only/);
    expect(await dbError(raw.query('delete from ledger_transfers'))).toMatch(/append-only/);
    expect(
      await dbError(
        raw.query('update ledger_accounts set balance = balance + 100 where id = $1', [w.available]),
      ),
    ).toMatch(/projection/);
    expect(
      await dbError(raw.query('update wallets set balance = 1000000 where id = $1', [w.wallet.id])),
    ).toMatch(/projection/);
    expect(await ledger.balance(w.available)).toBe(1000);
    expect((await reconcile(ctx.services.ledgerRepo)).ok).toBe(true);
  });

  it('holds money in pending until release, then the job moves it to available once', async () => {
    const seller = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: seller.id }, 'USD');
    const clearing = await ledger.platformAccount('provider_clearing', 'USD');
    const sale = await ledger.transfer({
      key: `sale:${newId()}`,
      kind: 'sale',
      currency: 'USD',
      legs: [
        { accountId: clearing, amount: -900 },
        { accountId: w.pending, amount: 900 },
      ],
    });
    const hold = await ledger.hold({
      walletId: w.wallet.id,
      transferId: sale.transferId,
      amount: 900,
      currency: 'USD',
      releaseAt: new Date(Date.now() + 7 * 86400_000),
    });
    expect(await ledger.releaseDueHolds(new Date())).toBe(0);
    expect(await ledger.balance(w.pending)).toBe(900);
    const later = new Date(Date.now() + 7 * 86400_000 + 1000);
    expect(await ledger.releaseHold(hold.id, later)).toBe(true);
    expect(await ledger.releaseHold(hold.id, later)).toBe(false);
    expect(await ledger.balance(w.pending)).toBe(0);
    expect(await ledger.balance(w.available)).toBe(900);
    expect((await reconcile(ctx.services.ledgerRepo)).ok).toBe(true);
  });

  it('reverses part of a sale in proportion: from the hold first, the fee share from the platform', async () => {
    const seller = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: seller.id }, 'USD');
    const clearing = await ledger.platformAccount('provider_clearing', 'USD');
    const revenue = await ledger.platformAccount('platform_revenue', 'USD');
    // A 100.00 card sale at 30 %: fee 3.20, commission 30.00, seller 66.80.
    const sale = await ledger.transfer({
      key: `sale:${newId()}`,
      kind: 'sale',
      currency: 'USD',
      legs: [
        { accountId: clearing, amount: -9680 },
        { accountId: w.pending, amount: 6680 },
        { accountId: revenue, amount: 3000 },
      ],
    });
    await ledger.hold({
      walletId: w.wallet.id,
      transferId: sale.transferId,
      amount: 6680,
      currency: 'USD',
      releaseAt: new Date(Date.now() + 86400_000),
    });
    const revenueBefore = await ledger.balance(revenue);
    await ctx.database.db.transaction((tx) =>
      ledger.reverse(
        {
          transferId: sale.transferId,
          amount: 2500,
          gross: 10000,
          refundTo: clearing,
          shortfallFrom: revenue,
          key: `refund:${newId()}`,
        },
        tx,
      ),
    );
    // 25 % of each share: seller 16.70, commission 7.50, fee 0.80 (borne by the platform).
    expect(await ledger.balance(w.pending)).toBe(6680 - 1670);
    expect(await ledger.balance(revenue)).toBe(revenueBefore - 750 - 80);
    const r = await reconcile(ctx.services.ledgerRepo);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('over many partial refunds each share gives back its proportion of the total, never more than it received', async () => {
    const u = await ctx.newUser();
    const { ledger } = ctx.services;
    const w = await ledger.wallet({ userId: u.id }, 'USD');
    const clearing = await ledger.platformAccount('provider_clearing', 'USD');
    const revenue = await ledger.platformAccount('platform_revenue', 'USD');
    // A 100.10 sale: seller 66.67, commission 30.00, fee 3.43 kept by the provider.
    const sale = await ledger.transfer({
      key: `sale:${newId()}`,
      kind: 'sale',
      currency: 'USD',
      legs: [
        { accountId: clearing, amount: -9667 },
        { accountId: w.available, amount: 6667 },
        { accountId: revenue, amount: 3000 },
      ],
    });
    const revenueBefore = await ledger.balance(revenue);
    // 10.01 refunded in 143 parts of 0.07: rounding each part on its own would drift.
    for (let i = 0; i < 143; i++) {
      await ctx.database.db.transaction((tx) =>
        ledger.reverse({ transferId: sale.transferId, amount: 7, gross: 1001 * 10, refundTo: clearing, shortfallFrom: revenue, key: `part:${sale.transferId}:${i}` }, tx),
      );
    }
    // 1001 of 10010 refunded, in parts, gives back exactly what one refund of 1001 would.
    const whole = [6667, 3000, 343];
    const expected = (await import('../../core/money.ts')).allocate(1001, whole);
    expect(6667 - (await ledger.balance(w.available))).toBe(expected[0]);
    expect(revenueBefore - (await ledger.balance(revenue))).toBe(expected[1]! + expected[2]!);
    // Nothing more than was paid, even in the last unit.
    await expect(
      ctx.database.db.transaction((tx) =>
        ledger.reverse({ transferId: sale.transferId, amount: 9010, gross: 10010, refundTo: clearing, shortfallFrom: revenue, key: `over:${newId()}` }, tx),
      ),
    ).rejects.toThrow(/Cannot give back 9010 of a payment of 10010 \(1001 given back already\)/);
    const r = await reconcile(ctx.services.ledgerRepo);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('reconcile names what is wrong', async () => {
    const report = await reconcile(ctx.services.ledgerRepo, [
      { name: 'always fails', run: async () => ['something is off'] },
    ]);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'always fails')?.problems).toEqual(['something is off']);
  });
});
