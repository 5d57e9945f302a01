import { readFileSync } from 'node:fs';
import os from 'node:os';
import { PGlite } from '@electric-sql/pglite';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { inject } from 'vitest';
import { buildApp, type App, type Services } from '../src/app.ts';
import { loadConfig, type Config, type Env } from '../src/config.ts';
import { createLogger } from '../src/core/logger.ts';
import { openDatabase, type Database } from '../src/db/client.ts';
import { newId } from '../src/core/ids.ts';
import type { Clock } from '../src/core/clock.ts';
import type { PlatformRole } from '../src/modules/identity/index.ts';

export const PASSWORD = 'correct-horse-battery';

/** A fresh, migrated database for one test file, on whichever engine the run uses. */
export async function freshDatabase(): Promise<Database> {
  const serverTemplate = inject('serverTemplate');
  const base = process.env.TEST_DATABASE_URL;
  if (serverTemplate && base) {
    const name = `fanfare_t_${process.ppid}_${newId().replace(/-/g, '').slice(-12)}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name} template ${serverTemplate}`);
    await admin.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    const database = openDatabase({ url: url.toString(), poolSize: 10 });
    const close = database.close.bind(database);
    return {
      ...database,
      async close() {
        await close();
        const a = new pg.Client({ connectionString: base });
        await a.connect();
        await a.query(`drop database if exists ${name} with (force)`);
        await a.end();
      },
    };
  }
  const tarball = readFileSync(inject('pgliteTemplate'));
  const pglite = new PGlite({ loadDataDir: new Blob([tarball]) });
  await pglite.waitReady;
  return openDatabase({ pglite });
}

export function testConfig(overrides: Partial<Record<keyof Env, string>> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    AUTH_SECRET: 'test-secret-test-secret-test-secret!',
    LOG_LEVEL: 'silent',
    DATA_DIR: os.tmpdir(),
    PUBLIC_URL: 'http://fanfare.test',
    ...overrides,
  });
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
  role: PlatformRole;
}

export interface TestContext extends App {
  database: Database;
  services: Services;
  /** Sends a request through the app; `token` signs it in as a user or API key. */
  req(opts: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
  /** A signed-in user (verified e-mail) with a bearer token. */
  newUser(opts?: { role?: PlatformRole; email?: string; name?: string }): Promise<TestUser>;
  signIn(email: string, password?: string): Promise<string>;
  /** An organization owned by `owner`. */
  newOrg(owner: TestUser, body?: Record<string, unknown>): Promise<{ id: string; slug: string }>;
  /** Adds `user` to `orgId` with `role` through a real invitation and acceptance. */
  addMember(owner: TestUser, orgId: string, user: TestUser, role: string, extra?: Record<string, unknown>): Promise<{ id: string }>;
  /** Runs outbox dispatch and due jobs until both are empty. */
  drain(): Promise<void>;
  /** Mails in the local mailbox to an address, newest first. */
  mailTo(email: string): Promise<{ subject: string; text: string }[]>;
  close(): Promise<void>;
}

let counter = 0;

export async function createTestContext(overrides: Partial<Record<keyof Env, string>> = {}, opts: { clock?: Clock } = {}): Promise<TestContext> {
  const database = await freshDatabase();
  const built = await buildApp({ config: testConfig(overrides), database, logger: createLogger('silent'), ...(opts.clock ? { clock: opts.clock } : {}) });
  const { app, services } = built;

  const req: TestContext['req'] = ({ token, headers, ...opts }) =>
    app.inject({ ...opts, headers: { ...(headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } });

  const signIn = async (email: string, password = PASSWORD) => {
    const res = await req({ method: 'POST', url: '/v1/auth/sign-in', payload: { email, password } });
    if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`);
    return res.json<{ token: string }>().token;
  };

  const ctx: TestContext = {
    ...built,
    database,
    req,
    signIn,
    async newUser(opts = {}) {
      const n = ++counter;
      const email = (opts.email ?? `user${n}-${newId().slice(-6)}@example.com`).toLowerCase();
      const role = opts.role ?? 'customer';
      const user = await services.identity.createUser({ email, password: PASSWORD, name: opts.name ?? `User ${n}`, role });
      return { id: user.id, email, role, token: await signIn(email) };
    },
    async newOrg(owner, body = {}) {
      const res = await req({ method: 'POST', url: '/v1/orgs', token: owner.token, payload: { name: `Org ${++counter}`, ...body } });
      if (res.statusCode !== 201) throw new Error(`create org failed: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async addMember(owner, orgId, user, role, extra = {}) {
      const inv = await req({ method: 'POST', url: `/v1/orgs/${orgId}/invitations`, token: owner.token, payload: { email: user.email, role, ...extra } });
      if (inv.statusCode !== 201) throw new Error(`invite failed: ${inv.statusCode} ${inv.body}`);
      await ctx.drain();
      const mail = (await ctx.mailTo(user.email)).find((m) => m.subject.includes('invited'));
      const token = /"token": "([^"]+)"/.exec(mail?.text ?? '')?.[1];
      if (!token) throw new Error('no invitation token mailed');
      const res = await req({ method: 'POST', url: '/v1/invitations/accept', token: user.token, payload: { token } });
      if (res.statusCode !== 201) throw new Error(`accept failed: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async drain() {
      for (let i = 0; i < 10; i++) {
        const events = await services.outbox.dispatchPending();
        const jobs = await services.jobs.drain();
        if (!events && !jobs) return;
      }
    },
    async mailTo(email) {
      const { rows } = await database.raw.query<{ subject: string; text: string }>(
        'select subject, text from mailbox_messages where to_address = $1 order by id desc',
        [email.toLowerCase()],
      );
      return rows;
    },
    async close() {
      await built.close();
      await database.close();
    },
  };
  return ctx;
}

export type { LightMyRequestResponse };
