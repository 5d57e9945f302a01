import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { buildApp, type App } from '../src/app.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { createLogger } from '../src/core/logger.ts';
import { openDatabase, type Database } from '../src/db/client.ts';
import { runMigrations } from '../src/db/migrate.ts';
import {
  checkRegistry,
  combineRounds,
  formatTable,
  quantile,
  roundOrder,
  missingBaselines,
  parseBenchArgs,
  scratchDatabaseUrl,
  selectScenarios,
  summarize,
  usage,
  UsageError,
  withRatios,
  type BenchOptions,
  type BenchReport,
  type Measurement,
} from './lib.ts';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  scenarios,
  type BenchContext,
  type BenchRequest,
  type BenchUser,
  type FunctionScenario,
  type HttpScenario,
  type Scenario,
} from './scenarios.ts';

const outFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out', 'latest.json');

// Fixed so runs are repeatable; the scratch database it signs sessions for is dropped afterwards.
const AUTH_SECRET = 'fanfare-bench-secret-not-for-production-0123456789';
const PASSWORD = 'bench-password-0123';

class Interrupted extends Error {}

/** Teardown steps, run newest first whatever happened, so a failed run leaves nothing behind. */
class Cleanup {
  private readonly steps: { label: string; run: () => Promise<void> | void }[] = [];
  add(label: string, run: () => Promise<void> | void): void {
    this.steps.push({ label, run });
  }
  async runAll(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (err) {
        console.error(`bench: clean-up (${step.label}) failed:`, err instanceof Error ? err.message : err);
      }
    }
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A migrated, empty database: a scratch database on DATABASE_URL's server (never the URL's own
 * database, which may hold real data), or a PGlite in the temporary directory.
 */
async function openBenchDatabase(
  cleanup: Cleanup,
  tmpDir: string,
  serverUrl: string | undefined,
): Promise<{ database: Database; url?: string }> {
  if (!serverUrl) {
    const database = openDatabase({ dataDir: path.join(tmpDir, 'pglite') });
    cleanup.add('close PGlite', () => database.close());
    await runMigrations(database);
    return { database };
  }
  const name = `fanfare_bench_${process.pid}`;
  const url = scratchDatabaseUrl(serverUrl, name);
  // A crashed run with a recycled pid may have left one behind; the name is ours alone.
  await adminQuery(serverUrl, `drop database if exists ${name} with (force)`);
  await adminQuery(serverUrl, `create database ${name}`);
  cleanup.add(`drop database ${name}`, () =>
    adminQuery(serverUrl, `drop database if exists ${name} with (force)`),
  );
  const database = openDatabase({ url, poolSize: Number(process.env.DATABASE_POOL_SIZE) || 10 });
  cleanup.add('close pool', () => database.close());
  await runMigrations(database);
  return { database, url };
}

function benchConfig(tmpDir: string, databaseUrl: string | undefined): Config {
  return loadConfig({
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    // The real port is only known after listen(); nothing on the measured paths builds links.
    PUBLIC_URL: 'http://127.0.0.1',
    DATA_DIR: tmpDir,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: process.env.DATABASE_POOL_SIZE,
    AUTH_SECRET,
    LOG_LEVEL: 'silent',
    // WORKER_IN_PROCESS is left at its default: the bench never starts the worker or the outbox
    // whatever it says, and config refuses 'false' on the embedded engine.
    SEED_DEMO_DATA: 'false',
    // Sign-in is set-up here, not a measured path; the production limit of 5 per 15 minutes
    // would fail a run whose scenarios sign in more users than that.
    AUTH_RATE_LIMIT_MAX: '1000000',
  });
}

function contextFor(built: App, database: Database, config: Config): BenchContext {
  let n = 0;
  const signIn = async (email: string, password: string) => {
    const res = await built.app.inject({
      method: 'POST',
      url: '/v1/auth/sign-in',
      payload: { email, password },
    });
    if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`);
    return res.json<{ token: string }>().token;
  };
  return {
    app: built.app,
    services: built.services,
    database,
    config,
    ...(database.pool ? { pool: database.pool } : {}),
    signIn,
    async newUser(opts = {}): Promise<BenchUser> {
      const email = `bench-${++n}@example.com`;
      const user = await built.services.identity.createUser({
        email,
        password: PASSWORD,
        name: opts.name ?? `Bench ${n}`,
        role: opts.role ?? 'customer',
      });
      return { id: user.id, email, password: PASSWORD, token: await signIn(email, PASSWORD) };
    },
  };
}

/** One request through the real socket first, so a broken setup fails with its own error message. */
async function verify(scenario: Scenario, base: string, req: BenchRequest): Promise<void> {
  // A bench request names a path only; which server answers is the caller's choice of `base`.
  const res = await fetch(base + req.path, {
    method: req.method ?? 'GET',
    headers: req.headers ?? {},
    body: req.body ?? null,
  });
  const text = await res.text();
  if (!res.ok)
    {throw new Error(
      `scenario '${scenario.name}': ${req.method ?? 'GET'} ${req.path} answered ${res.status}: ${text.slice(0, 300)}`,
    );}
}

let interrupted = false;
let stopLoad: (() => void) | undefined;

function load(
  base: string,
  req: BenchRequest,
  connections: number,
  duration: number,
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: base + req.path,
        method: req.method ?? 'GET',
        ...(req.headers ? { headers: req.headers } : {}),
        ...(req.body !== undefined ? { body: req.body } : {}),
        connections,
        duration,
        // In the app's own thread autocannon would take event-loop time from the server it measures
        // (roughly halving /health); one worker thread keeps the load generator off that loop.
        workers: 1,
      },
      (err, result) => {
        stopLoad = undefined;
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(result);
      },
    );
    // With workers, a stopped run never calls back, so an interrupt settles the promise itself.
    stopLoad = () => {
      stopLoad = undefined;
      instance.stop();
      reject(new Interrupted());
    };
  });
}

/**
 * autocannon closes its sockets when a run ends, but the requests already inside the app keep
 * working through the database. Waits until they are done, so they neither eat into the next
 * measurement nor meet a closed database during teardown.
 */
async function settle(database: Database): Promise<void> {
  const deadline = Date.now() + 30_000;
  let quiet = 0;
  while (quiet < 3 && Date.now() < deadline) {
    const started = performance.now();
    await database.raw.query('select 1');
    const busy = performance.now() - started > 5 || (database.pool?.waitingCount ?? 0) > 0;
    quiet = busy ? 0 : quiet + 1;
    await sleep(50);
  }
}

/**
 * Runs `op` in `connections` concurrent loops for `seconds`: every loop awaits its call before
 * the next, as a connection of autocannon awaits its response. Answers completed calls per
 * second and the latency quantiles. A failed call fails the run, as a non-2xx answer does.
 */
async function runLoops(
  scenario: FunctionScenario,
  op: (worker: number, iteration: number) => Promise<void>,
  connections: number,
  seconds: number,
): Promise<Measurement> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline && !interrupted; i++) {
        const t0 = performance.now();
        try {
          await op(worker, i);
        } catch (err) {
          throw new Error(`scenario '${scenario.name}': call ${i} of loop ${worker} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const ms = (v: number) => Math.round(v * 100) / 100;
  return {
    name: scenario.name,
    baseline: scenario.baseline,
    ops_per_s: Math.round((latencies.length / elapsed) * 10) / 10,
    p50_ms: ms(quantile(latencies, 0.5)),
    p99_ms: ms(quantile(latencies, 0.99)),
  };
}

type Op = (worker: number, iteration: number) => Promise<void>;

async function measureFunction(scenario: FunctionScenario, op: Op, opts: BenchOptions, database: Database, warmup: boolean): Promise<Measurement> {
  if (warmup && opts.warmup > 0) await runLoops(scenario, op, opts.connections, opts.warmup);
  await settle(database);
  if (interrupted) throw new Interrupted();
  const cpu = process.cpuUsage();
  const m = await runLoops(scenario, op, opts.connections, opts.duration);
  const used = process.cpuUsage(cpu);
  await settle(database);
  return withNodeCpu(m, used, m.ops_per_s * opts.duration);
}

async function measure(
  scenario: Scenario,
  base: string,
  req: BenchRequest,
  opts: BenchOptions,
  database: Database,
  warmup: boolean,
): Promise<Measurement> {
  if (warmup && opts.warmup > 0) {
    await load(base, req, opts.connections, opts.warmup);
    await settle(database);
  }
  if (interrupted) throw new Interrupted();
  const cpu = process.cpuUsage();
  const result = await load(base, req, opts.connections, opts.duration);
  const used = process.cpuUsage(cpu);
  await settle(database);
  if (interrupted) throw new Interrupted();
  if (result.non2xx > 0 || result.errors > 0) {
    const codes = Object.entries(result.statusCodeStats ?? {})
      .map(([code, s]) => `${code}×${s.count ?? 0}`)
      .join(', ');
    throw new Error(
      `scenario '${scenario.name}': ${result.non2xx} non-2xx responses (${codes}) and ${result.errors} errors (${result.timeouts} timeouts); the figures would be meaningless`,
    );
  }
  return withNodeCpu(summarize(scenario.name, scenario.baseline, result), used, result.requests.total);
}

/**
 * The bench process's CPU time per operation during the measured window (every thread: the app,
 * and for HTTP results autocannon's worker, which costs the same per request whatever it asks).
 * Two results with the same database work differ here by what Node does for them, which the
 * ratio alone cannot tell apart from the database's share.
 */
function withNodeCpu(m: Measurement, used: NodeJS.CpuUsage, ops: number): Measurement {
  if (ops <= 0) return m;
  return { ...m, extra: { ...m.extra, node_cpu_us_per_op: Math.round((used.user + used.system) / ops) } };
}

async function main(argv: string[]): Promise<number> {
  let opts: BenchOptions;
  let selected: Scenario[];
  try {
    opts = parseBenchArgs(argv);
    if (opts.help) {
      console.log(usage);
      return 0;
    }
    checkRegistry(scenarios);
    selected = selectScenarios(scenarios, opts.only);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench: ${err.message}\n\n${usage}`);
    return 2;
  }

  const cleanup = new Cleanup();
  const onSignal = () => {
    if (interrupted) {
      console.error(
        '\nbench: stopped without clean-up; a fanfare_bench_* database or temporary directory may be left',
      );
      process.exit(130);
    }
    interrupted = true;
    console.error('\nbench: interrupted, cleaning up (interrupt again to quit at once)');
    stopLoad?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'fanfare-bench-'));
    cleanup.add('remove temporary directory', () => rmSync(tmpDir, { recursive: true, force: true }));
    const serverUrl = process.env.DATABASE_URL || undefined;
    const { database, url } = await openBenchDatabase(cleanup, tmpDir, serverUrl);
    const config = benchConfig(tmpDir, url);
    const built = await buildApp({ config, database, logger: createLogger('silent') });
    cleanup.add('let requests in flight finish', () => settle(database));
    cleanup.add('close app', () => built.close());
    // As `fanfare serve` does: pg-boss's schema and queues exist, but no worker polls them.
    await built.services.jobs.start();
    await built.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = built.app.server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;

    const where =
      database.engine === 'postgres'
        ? `scratch database on ${new URL(serverUrl!).host}`
        : 'temporary directory';
    console.log(
      `bench: ${database.engine} (${where}), ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.rounds} × ${opts.duration} s per result`,
    );
    const absent = missingBaselines(selected);
    if (absent.length)
      {console.log(
        `bench: baseline ${absent.join(', ')} not selected, so the results compared with it get no ratio`,
      );}

    const ctx = contextFor(built, database, config);
    // Baselines' hand-written routes live on a bare Fastify beside the app, with nothing of the
    // app's hooks or plugins, so the ratio shows what the app's layers cost.
    const bare: FastifyInstance = Fastify({ logger: false });
    for (const scenario of selected) if (scenario.kind !== 'function' && scenario.kind !== 'custom') scenario.bareRoutes?.(bare, ctx);
    cleanup.add('close bare server', () => bare.close());
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const bareBase = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;

    // Set-up once per result, then the rounds: every result in turn, as many times as asked.
    type Prepared =
      | { scenario: FunctionScenario; op: Op }
      | { scenario: HttpScenario; req: BenchRequest; target: string }
      | { scenario: Exclude<Scenario, FunctionScenario | HttpScenario> };
    const prepared: Prepared[] = [];
    for (const scenario of selected) {
      if (interrupted) throw new Interrupted();
      if (scenario.kind === 'function') {
        const op = await scenario.setup(ctx, { connections: opts.connections });
        // One call first, so a broken set-up fails with its own message before any load.
        await op(0, -1);
        prepared.push({ scenario, op });
      } else if (scenario.kind === 'custom') {
        prepared.push({ scenario });
      } else {
        const http: HttpScenario = scenario;
        const req = await http.setup(ctx);
        const target = req.target === 'bare' ? bareBase : base;
        await verify(http, target, req);
        prepared.push({ scenario: http, req, target });
      }
    }
    const rounds: Measurement[][] = [];
    const custom = new Map<string, Measurement>();
    for (let round = 0; round < opts.rounds; round++) {
      const measurements: Measurement[] = new Array<Measurement>(prepared.length);
      for (const index of roundOrder(prepared.length, round)) {
        const p = prepared[index]!;
        if (interrupted) throw new Interrupted();
        const label = opts.rounds > 1 ? `${p.scenario.name} (round ${round + 1}/${opts.rounds})` : p.scenario.name;
        let m: Measurement;
        if ('op' in p) {
          process.stdout.write(`bench: ${label} … `);
          m = await measureFunction(p.scenario, p.op, opts, database, round === 0);
        } else if ('req' in p) {
          process.stdout.write(`bench: ${label} … `);
          m = await measure(p.scenario, p.target, p.req, opts, database, round === 0);
        } else {
          // A custom result (metering) is a whole experiment of its own: run once, not per round.
          const known = custom.get(p.scenario.name);
          if (known) {
            measurements[index] = known;
            continue;
          }
          process.stdout.write(`bench: ${p.scenario.name} … `);
          const { ops_per_s, p50_ms, p99_ms, ...extra } = await p.scenario.run(ctx, { connections: opts.connections, duration: opts.duration, warmup: opts.warmup });
          m = { name: p.scenario.name, baseline: p.scenario.baseline, ops_per_s, p50_ms, p99_ms, extra };
          custom.set(p.scenario.name, m);
        }
        console.log(`${m.ops_per_s.toFixed(1)} ops/s`);
        measurements[index] = m;
      }
      rounds.push(measurements);
    }
    const measurements = combineRounds(rounds);
    const checks = new Set(selected.flatMap((s) => (s.verifyAfter ? [s.verifyAfter] : [])));
    for (const check of checks) await check(ctx);

    const report: BenchReport = { engine: database.engine, results: withRatios(measurements) };
    mkdirSync(path.dirname(outFile), { recursive: true });
    writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\n${formatTable(report)}\n\nwritten to ${path.relative(process.cwd(), outFile)}`);
    return 0;
  } catch (err) {
    if (err instanceof Interrupted) {
      console.error('bench: nothing written');
      return 130;
    }
    console.error(`\nbench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    await cleanup.runAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await main(process.argv.slice(2));
