import { ManualClock } from '../src/core/clock.ts';
import { newId } from '../src/core/ids.ts';
import { reconcile } from '../src/modules/ledger/index.ts';
import { createPayplayRepository, createPayplayService } from '../src/modules/payplay/index.ts';
import { quantile } from './lib.ts';
import type { BenchContext, CustomScenario } from './scenarios.ts';

/**
 * The metering engine at scale: N sessions playing at once, each billed once a simulated minute.
 *
 * Set-up writes the rows in bulk (users, wallets and their accounts, one funding transfer, grants,
 * sessions), not through HTTP. Sessions start staggered over a minute, one second-bucket in 60 each.
 * Then a fake clock advances one simulated second per step: the bucket whose unit boundary just
 * passed heartbeats (one bulk UPDATE, as N players would), and the engine's `tick` bills every due
 * session in batches, as fast as the machine allows. A step that takes less than a real second
 * runs ahead of real time; `realtime_factor` says by how much.
 *
 * tick_lag is, per session, the real time from the step that made it due to the commit of the
 * batch that charged it; with the engine keeping up, it is what a real tick interval would add.
 */

const PRICE = 10;
const FUNDING = 10_000_000;
const CHUNK = 5000;

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
  return n;
};

async function inChunks<T>(items: T[], fn: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CHUNK) await fn(items.slice(i, i + CHUNK));
}

interface BenchSession {
  id: string;
  bucket: number;
}

async function setUp(ctx: BenchContext, n: number, clock: ManualClock) {
  const q = ctx.database.raw.query.bind(ctx.database.raw);
  const owner = await ctx.newUser({ role: 'partner' });
  const org = await ctx.app.inject({ method: 'POST', url: '/v1/orgs', headers: { authorization: `Bearer ${owner.token}` }, payload: { name: `Metering partner ${newId().slice(-6)}` } });
  if (org.statusCode !== 201) throw new Error(`org: ${org.body}`);
  const orgId = org.json<{ id: string }>().id;
  const plat = await ctx.app.inject({
    method: 'POST',
    url: `/v1/orgs/${orgId}/platforms`,
    headers: { authorization: `Bearer ${owner.token}` },
    payload: { name: 'Bench stream', type: 'video', currency: 'USD', pricePerMinute: PRICE },
  });
  if (plat.statusCode !== 201) throw new Error(`platform: ${plat.body}`);
  const platform = plat.json<{ id: string; commissionBps: number }>();
  const { ledger } = ctx.services;
  const partner = await ledger.wallet({ organizationId: orgId }, 'USD');
  const revenue = await ledger.platformAccount('platform_revenue', 'USD');
  const adjustments = await ledger.platformAccount('adjustments', 'USD');

  const rows = Array.from({ length: n }, (_, i) => ({
    user: newId(),
    wallet: newId(),
    available: newId(),
    pending: newId(),
    grant: newId(),
    session: newId(),
    bucket: i % 60,
  }));
  const tag = newId().slice(-8);
  const t0 = clock.now().getTime();
  const started = (bucket: number) => new Date(t0 - 60_000 + bucket * 1000).toISOString();
  await inChunks(rows, async (c) => {
    await q(`insert into users (id, email, full_name, email_verified) select id, 'meter-' || $2 || '-' || id || '@bench.example', 'Meter user', true from unnest($1::uuid[]) as u(id)`, [c.map((r) => r.user), tag]);
    await q(`insert into wallets (id, user_id, currency) select w, u, 'USD' from unnest($1::uuid[], $2::uuid[]) as x(w, u)`, [c.map((r) => r.wallet), c.map((r) => r.user)]);
    await q(
      `insert into ledger_accounts (id, owner_type, wallet_id, kind, currency)
       select a, 'wallet', w, 'wallet_available', 'USD' from unnest($1::uuid[], $2::uuid[]) as x(a, w)
       union all select p, 'wallet', w, 'wallet_pending', 'USD' from unnest($3::uuid[], $2::uuid[]) as y(p, w)`,
      [c.map((r) => r.available), c.map((r) => r.wallet), c.map((r) => r.pending)],
    );
    // One funding transfer per chunk: adjustments pays every wallet of the chunk.
    const transfer = newId();
    await q(
      `with t as (insert into ledger_transfers (id, idempotency_key, kind, currency, description) values ($1, $2, 'adjustment', 'USD', 'bench funding') returning id)
       insert into ledger_entries (id, transfer_id, account_id, amount)
       select e, t.id, a, amt from t, unnest($3::uuid[], $4::uuid[], $5::bigint[]) as x(e, a, amt)`,
      [
        transfer,
        `bench:metering:fund:${transfer}`,
        [newId(), ...c.map(() => newId())],
        [adjustments, ...c.map((r) => r.available)],
        [-FUNDING * c.length, ...c.map(() => FUNDING)],
      ],
    );
    await q(
      `insert into payplay_grants (id, platform_id, user_id, code, status, currency, price_per_minute, expires_at, approved_at)
       select g, $2, u, replace(g::text, '-', ''), 'active', 'USD', $3, now(), now() from unnest($1::uuid[], $4::uuid[]) as x(g, u)`,
      [c.map((r) => r.grant), platform.id, PRICE, c.map((r) => r.user)],
    );
    await q(
      `insert into playback_sessions (id, user_id, platform_id, grant_id, organization_id, wallet_id, wallet_account_id, partner_account_id, revenue_account_id,
                                      content_id, content_title, currency, price_per_minute, billing_unit_seconds, commission_bps, started_at, last_heartbeat_at,
                                      paid_until_at, due_at, billed_units, total_cost)
       select s, u, $2, g, $3, w, a, $4, $5, 'bench-content', 'Bench', 'USD', $6, 60, $7, st, st, st, st + interval '120 seconds', 0, 0
         from unnest($1::uuid[], $8::uuid[], $9::uuid[], $10::uuid[], $11::uuid[], $12::timestamptz[]) as x(s, u, g, w, a, st)`,
      [
        c.map((r) => r.session),
        platform.id,
        orgId,
        partner.available,
        revenue,
        PRICE,
        platform.commissionBps,
        c.map((r) => r.user),
        c.map((r) => r.grant),
        c.map((r) => r.wallet),
        c.map((r) => r.available),
        c.map((r) => started(r.bucket)),
      ],
    );
  });
  await q('analyze playback_sessions');
  await q('analyze ledger_accounts');
  const buckets: string[][] = Array.from({ length: 60 }, () => []);
  for (const r of rows) buckets[r.bucket]!.push(r.session);
  return { platformId: platform.id, buckets, sessions: rows.map((r): BenchSession => ({ id: r.session, bucket: r.bucket })) };
}

export const meteringScenarios: CustomScenario[] = [
  {
    kind: 'custom',
    name: 'metering',
    baseline: null,
    measures:
      'Pay as Play metering: BENCH_METERING_SESSIONS concurrent sessions (default 20,000) each billed once a simulated minute by the batched tick engine (a three-leg transfer per charge), the clock compressed; charges/s, per-batch ms, tick lag',
    async run(ctx) {
      const n = env('BENCH_METERING_SESSIONS', 20_000);
      const minutes = env('BENCH_METERING_MINUTES', 3);
      const batch = env('BENCH_METERING_BATCH', ctx.config.payplay.tickBatch);
      const clock = new ManualClock(Date.UTC(2026, 0, 5, 12, 0, 0));
      const setupStarted = performance.now();
      const { buckets, platformId } = await setUp(ctx, n, clock);
      const setupSeconds = (performance.now() - setupStarted) / 1000;
      const s = ctx.services;
      const engine = createPayplayService({
        db: s.db,
        repo: createPayplayRepository(s.db),
        ledger: s.ledger,
        access: s.access,
        audit: s.audit,
        notifications: s.notifications,
        jobs: s.jobs,
        clock,
        settings: { ...ctx.config.payplay, tickBatch: batch },
        publicUrl: ctx.config.publicUrl,
        log: ctx.app.log as never,
        registerJobs: false,
        history: async () => undefined,
      });
      const q = ctx.database.raw.query.bind(ctx.database.raw);

      const batchMs: number[] = [];
      const lags: number[] = [];
      let charges = 0;
      let billed = 0;
      let heartbeatMs = 0;
      let tickMs = 0;
      const steps = minutes * 60;
      const started = performance.now();
      for (let step = 0; step < steps; step++) {
        const now = clock.advance(1000);
        const due = buckets[step % 60]!;
        const stepStart = performance.now();
        // The bucket's players heartbeat just past their unit boundary: their sessions are due now.
        await inChunks(due, (ids) =>
          q(`update playback_sessions set last_heartbeat_at = $2, heartbeats = heartbeats + 1, due_at = $2 where id = any($1::uuid[]) and status = 'active'`, [ids, now.toISOString()]),
        );
        const hbDone = performance.now();
        heartbeatMs += hbDone - stepStart;
        const r = await engine.tick({
          finalize: false,
          onBatch: (b) => {
            batchMs.push(b.ms);
            const at = performance.now() - stepStart;
            for (let i = 0; i < b.sessions; i++) lags.push(at);
          },
        });
        tickMs += performance.now() - hbDone;
        charges += r.charges;
        billed += r.sessions;
      }
      const elapsed = (performance.now() - started) / 1000;
      batchMs.sort((a, b) => a - b);
      lags.sort((a, b) => a - b);

      // The sessions' totals must be what the ledger moved for them.
      const check = await q<{ sessions: string; ledger: string; active: string }>(
        `select (select coalesce(sum(total_cost), 0) from playback_sessions where platform_id = $1) as sessions,
                (select coalesce(-sum(e.amount), 0) from playback_sessions s join ledger_transfers t on t.reference_type = 'playback_session' and t.reference_id = s.id
                   join ledger_entries e on e.transfer_id = t.id and e.account_id = s.wallet_account_id where s.platform_id = $1) as ledger,
                (select count(*) from playback_sessions where platform_id = $1 and status = 'active') as active`,
        [platformId],
      );
      const c = check.rows[0]!;
      if (Number(c.sessions) !== Number(c.ledger)) throw new Error(`metering: sessions' total_cost ${c.sessions} but the ledger moved ${c.ledger}`);
      if (Number(c.active) !== n) throw new Error(`metering: ${n - Number(c.active)} sessions stopped during the run`);
      const r2 = (x: number) => Math.round(x * 100) / 100;
      const chargesPerS = charges / elapsed;
      console.log(
        `\nbench: metering ${n} sessions, ${minutes} simulated min in ${elapsed.toFixed(1)} s (set-up ${setupSeconds.toFixed(1)} s): ${charges} charges, ` +
          `heartbeat updates ${(heartbeatMs / 1000).toFixed(1)} s, ticks ${(tickMs / 1000).toFixed(1)} s, ${batchMs.length} batches (p50 ${r2(quantile(batchMs, 0.5))} ms)`,
      );
      return {
        ops_per_s: Math.round(chargesPerS * 10) / 10,
        p50_ms: r2(quantile(batchMs, 0.5)),
        p99_ms: r2(quantile(batchMs, 0.99)),
        charges_per_s: Math.round(chargesPerS * 10) / 10,
        engine_charges_per_s: Math.round((charges / (tickMs / 1000)) * 10) / 10,
        tick_lag_p99_ms: r2(quantile(lags, 0.99)),
        tick_lag_p50_ms: r2(quantile(lags, 0.5)),
        realtime_factor: r2(steps / elapsed),
        needed_charges_per_s: Math.round((n / 60) * 10) / 10,
        sessions: n,
        charges,
        billed_sessions: billed,
        batch,
        setup_s: r2(setupSeconds),
      };
    },
    async verifyAfter(ctx) {
      const report = await reconcile(ctx.services.ledgerRepo, ctx.services.payments.invariants());
      const broken = report.checks.filter((c) => !c.ok);
      if (broken.length) throw new Error(`reconcile after the metering bench failed:\n${broken.map((c) => `${c.name}: ${c.problems.slice(0, 5).join('; ')}`).join('\n')}`);
      console.log('bench: reconcile after metering: every invariant holds');
    },
  },
];
