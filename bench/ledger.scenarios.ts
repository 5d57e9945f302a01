import type { PGlite } from '@electric-sql/pglite';
import { newId } from '../src/core/ids.ts';
import { saleSplit } from '../src/core/money.ts';
import { reconcile } from '../src/modules/ledger/index.ts';
import type { BenchContext, FunctionScenario } from './scenarios.ts';

/**
 * The ledger's hot paths, called in-process at the run's concurrency. Each loop moves money
 * between accounts of its own, so the figures measure the write path rather than one row's lock;
 * the sale's platform accounts are shared, as they are in production.
 */

const FUNDING = 1_000_000_000;

/** Users and wallets for `n` loops: rows written directly, since sign-up is not what is measured. */
async function fundedWallets(ctx: BenchContext, n: number, label: string): Promise<{ from: string[]; to: string[] }> {
  const { ledger } = ctx.services;
  const from: string[] = [];
  const to: string[] = [];
  const adjustments = await ledger.platformAccount('adjustments', 'USD');
  for (let i = 0; i < n; i++) {
    const ids = [newId(), newId()];
    for (const [j, id] of ids.entries()) {
      await ctx.database.raw.query(`insert into users (id, email, full_name, email_verified) values ($1, $2, $3, true)`, [
        id,
        `${label}-${i}-${j}-${id.slice(-8)}@bench.example`,
        `${label} ${i}.${j}`,
      ]);
    }
    const a = await ledger.wallet({ userId: ids[0] }, 'USD');
    const b = await ledger.wallet({ userId: ids[1] }, 'USD');
    await ledger.transfer({
      key: `bench:${label}:fund:${a.available}`,
      kind: 'adjustment',
      currency: 'USD',
      legs: [
        { accountId: adjustments, amount: -FUNDING },
        { accountId: a.available, amount: FUNDING },
      ],
    });
    from.push(a.available);
    to.push(b.available);
  }
  return { from, to };
}

const runKey = () => newId().slice(-12);

async function reconciles(ctx: BenchContext): Promise<void> {
  const report = await reconcile(ctx.services.ledgerRepo, ctx.services.payments.invariants());
  const broken = report.checks.filter((c) => !c.ok);
  if (broken.length) throw new Error(`reconcile after the ledger bench failed:\n${broken.map((c) => `${c.name}: ${c.problems.slice(0, 5).join('; ')}`).join('\n')}`);
  console.log('bench: reconcile after the ledger results: every invariant holds');
}

const RAW_SCHEMA = `
  create table if not exists bench_raw_accounts (id uuid primary key, balance bigint not null check (balance >= 0));
  create table if not exists bench_raw_entries (
    id uuid primary key, transfer_key varchar(255) not null, account_id uuid not null references bench_raw_accounts (id),
    amount bigint not null, created_at timestamptz not null default now());
  create index if not exists bench_raw_entries_account on bench_raw_entries (account_id, id);`;

const DEBIT = 'update bench_raw_accounts set balance = balance - $2 where id = $1 and balance >= $2';
const ENTRY = 'insert into bench_raw_entries (id, transfer_key, account_id, amount) values ($1, $2, $3, $4)';

export const ledgerScenarios: FunctionScenario[] = [
  {
    kind: 'function',
    name: 'ledger-transfer-raw',
    baseline: null,
    measures:
      'Baseline: the same one-unit transfer as hand-written SQL on node-postgres (conditional debit UPDATE plus two entry INSERTs in one transaction, prepared)',
    async setup(ctx, { connections }) {
      const accounts = Array.from({ length: connections }, () => ({ from: newId(), to: newId() }));
      const pool = ctx.pool;
      if (pool) await pool.query(RAW_SCHEMA);
      else await ctx.database.pglite!.exec(RAW_SCHEMA);
      for (const a of accounts) {
        await ctx.database.raw.query('insert into bench_raw_accounts (id, balance) values ($1, $2), ($3, 0)', [a.from, FUNDING, a.to]);
      }
      const run = runKey();
      if (pool) {
        return async (worker, i) => {
          const { from, to } = accounts[worker]!;
          const key = `raw:${run}:${worker}:${i}`;
          const client = await pool.connect();
          try {
            await client.query('begin');
            const debit = await client.query({ name: 'bench_raw_debit', text: DEBIT, values: [from, 1] });
            if (debit.rowCount !== 1) throw new Error('insufficient funds');
            await client.query({ name: 'bench_raw_entry', text: ENTRY, values: [newId(), key, from, -1] });
            await client.query({ name: 'bench_raw_entry', text: ENTRY, values: [newId(), key, to, 1] });
            await client.query('commit');
          } catch (err) {
            await client.query('rollback');
            throw err;
          } finally {
            client.release();
          }
        };
      }
      const pglite: PGlite = ctx.database.pglite!;
      return async (worker, i) => {
        const { from, to } = accounts[worker]!;
        const key = `raw:${run}:${worker}:${i}`;
        await pglite.transaction(async (tx) => {
          const debit = await tx.query(DEBIT, [from, 1]);
          if (debit.affectedRows !== 1) throw new Error('insufficient funds');
          await tx.query(ENTRY, [newId(), key, from, -1]);
          await tx.query(ENTRY, [newId(), key, to, 1]);
        });
      };
    },
  },
  {
    kind: 'function',
    name: 'ledger-transfer',
    baseline: 'ledger-transfer-raw',
    measures: 'ledger.transfer() through the service layer: a balanced two-leg transfer under an idempotency key, balances and wallet mirrors updated by the trigger',
    async setup(ctx, { connections }) {
      const { from, to } = await fundedWallets(ctx, connections, 'transfer');
      const run = runKey();
      return async (worker, i) => {
        await ctx.services.ledger.transfer({
          key: `bench:transfer:${run}:${worker}:${i}`,
          kind: 'transfer',
          currency: 'USD',
          legs: [
            { accountId: from[worker]!, amount: -1 },
            { accountId: to[worker]!, amount: 1 },
          ],
        });
      };
    },
    verifyAfter: reconciles,
  },
  {
    kind: 'function',
    name: 'ledger-sale-split',
    baseline: 'ledger-transfer-raw',
    measures:
      'A 10.00 card sale in one transfer: provider clearing split into seller earnings, commission (plan rate) and processing fee; the platform accounts are shared by every loop',
    async setup(ctx, { connections }) {
      const { ledger } = ctx.services;
      const { to: sellers } = await fundedWallets(ctx, connections, 'sale');
      const [clearing, revenue, fees] = [
        await ledger.platformAccount('provider_clearing', 'USD'),
        await ledger.platformAccount('platform_revenue', 'USD'),
        await ledger.platformAccount('provider_fees', 'USD'),
      ];
      const split = saleSplit(1000, 2000, 'card');
      const run = runKey();
      return async (worker, i) => {
        await ledger.transfer({
          key: `bench:sale:${run}:${worker}:${i}`,
          kind: 'sale',
          currency: 'USD',
          legs: [
            { accountId: clearing, amount: -split.total },
            { accountId: sellers[worker]!, amount: split.seller },
            { accountId: revenue, amount: split.commission },
            { accountId: fees, amount: split.processingFee },
          ],
          metadata: { split },
        });
      };
    },
    verifyAfter: reconciles,
  },
];
