import type { FastifyInstance } from 'fastify';
import type { Services } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import type { Database } from '../src/db/client.ts';
import type { PlatformRole } from '../src/modules/identity/index.ts';
import { ledgerScenarios } from './ledger.scenarios.ts';
import { meteringScenarios } from './metering.scenarios.ts';
import { playbackScenarios } from './playback.scenarios.ts';

/** What a scenario's setup gets: the running app, plus helpers for the data a hot path needs. */
export interface BenchContext {
  app: FastifyInstance;
  services: Services;
  database: Database;
  config: Config;
  /** A user with a verified e-mail, signed in through POST /v1/auth/sign-in. */
  newUser(opts?: { role?: PlatformRole; name?: string }): Promise<BenchUser>;
  /** Signs in through the API and returns the bearer token. */
  signIn(email: string, password: string): Promise<string>;
  /** A node-postgres pool on the same database (server engine only), for raw-SQL baselines. */
  pool?: import('pg').Pool;
}

export interface BenchUser {
  id: string;
  email: string;
  password: string;
  token: string;
}

/**
 * The one request autocannon repeats, against the app's address. Every response must be 2xx: a
 * scenario answered with errors measures the error path, so the run stops instead.
 */
export interface BenchRequest {
  /** Which server answers: the app (default) or the bare instance of `bareRoutes`. */
  target?: 'app' | 'bare';
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface ScenarioBase {
  /** The result's name in the table and in latest.json; `--only` matches its start. */
  name: string;
  /** The result whose ops/s this one is divided by, or null when this is a baseline. */
  baseline: string | null;
  /** One line for the README's table of what each result measures. */
  measures: string;
  /** Checks the database after every selected result has run (the ledger's: reconcile); throws to fail the run. */
  verifyAfter?: (ctx: BenchContext) => Promise<void>;
}

/** An HTTP request repeated by autocannon at `connections` connections. */
export interface HttpScenario extends ScenarioBase {
  kind?: 'http';
  /**
   * Routes for a bare Fastify instance in the same process (no hooks, no plugins), for baselines
   * that measure a hand-written equivalent of a route. Registered before anything listens.
   */
  bareRoutes?(bare: FastifyInstance, ctx: BenchContext): void;
  /** Creates the data the request needs, before warm-up; runs once per bench run. */
  setup(ctx: BenchContext): Promise<BenchRequest> | BenchRequest;
}

/**
 * A function of the service layer (or raw SQL) called by `connections` concurrent loops, each
 * awaiting its call before the next: the in-process analogue of autocannon's connections.
 */
export interface FunctionScenario extends ScenarioBase {
  kind: 'function';
  /** Creates the data, then answers the operation; `worker` is the loop's number (0..connections-1). */
  setup(ctx: BenchContext, opts: { connections: number }): Promise<(worker: number, iteration: number) => Promise<void>>;
}

/** A result that measures itself (a simulation with its own clock); answers the row's figures. */
export interface CustomScenario extends ScenarioBase {
  kind: 'custom';
  run(ctx: BenchContext, opts: { connections: number; duration: number; warmup: number }): Promise<CustomFigures>;
}

/** ops_per_s, p50_ms and p99_ms as the table shows them, plus the scenario's own named figures. */
export interface CustomFigures {
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
  [figure: string]: number | string | boolean | null;
}

export type Scenario = HttpScenario | FunctionScenario | CustomScenario;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * The registry. A later hot path adds one entry here; the runner and the report need no change.
 * Results run in this order, so keep each baseline before the results compared with it.
 */
export const scenarios: Scenario[] = [
  {
    name: 'health',
    baseline: null,
    measures: 'GET /health: Fastify routing and the request hooks without authentication or a query',
    setup: () => ({ path: '/health' }),
  },
  {
    name: 'me',
    baseline: 'health',
    measures: 'GET /v1/me with a bearer session token: session lookup and the user read',
    setup: async (ctx) => {
      const user = await ctx.newUser();
      return { path: '/v1/me', headers: bearer(user.token) };
    },
  },
  ...ledgerScenarios,
  ...meteringScenarios,
  ...playbackScenarios,
];
