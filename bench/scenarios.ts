import type { FastifyInstance } from 'fastify';
import type { Services } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import type { Database } from '../src/db/client.ts';
import type { PlatformRole } from '../src/modules/identity/index.ts';

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
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Scenario {
  /** The result's name in the table and in latest.json; `--only` matches its start. */
  name: string;
  /** The result whose ops/s this one is divided by, or null when this is a baseline. */
  baseline: string | null;
  /** One line for the README's table of what each result measures. */
  measures: string;
  /** Creates the data the request needs, before warm-up; runs once per bench run. */
  setup(ctx: BenchContext): Promise<BenchRequest> | BenchRequest;
}

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
];
