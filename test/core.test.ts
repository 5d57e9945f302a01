import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import Fastify from 'fastify';
import pino from 'pino';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { outboxEvents } from '../src/core/core.schema.ts';
import { AppError, errorKinds, isUniqueViolation, type ErrorKind } from '../src/core/errors.ts';
import { installErrorHandling } from '../src/core/http.ts';
import { newId } from '../src/core/ids.ts';
import { createLogger, redactPaths, requestLogger } from '../src/core/logger.ts';
import { Outbox, publish, type OutboxEvent } from '../src/core/outbox.ts';
import { decodeCursor, encodeCursor, toPage } from '../src/core/pagination.ts';
import { parsesAsItEncodes, serializerCompiler } from '../src/core/serializer.ts';
import { migrationsFolder } from '../src/db/migrate.ts';
import { createTestContext, type LightMyRequestResponse, type TestContext, type TestUser } from './helpers.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

function expectProblem(res: LightMyRequestResponse, status: number) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json();
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  return body as { status: number; title: string; type: string; detail: string; code?: string; instance: string; requestId: string; errors?: { path: string }[] };
}

async function countOrgs(name: string): Promise<number> {
  const { rows } = await ctx.database.raw.query<{ n: number }>('select count(*)::int as n from organizations where name = $1', [name]);
  return rows[0]!.n;
}

describe('Idempotency-Key', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await ctx.newUser();
  });
  const createOrg = (token: string, key: string | undefined, payload: Record<string, unknown>) =>
    ctx.req({ method: 'POST', url: '/v1/orgs', token, payload, headers: key === undefined ? {} : { 'idempotency-key': key } });

  it('replays the stored response and creates one row only', async () => {
    const first = await createOrg(user.token, 'replay-key-1', { name: 'Idem Replay' });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await createOrg(user.token, 'replay-key-1', { name: 'Idem Replay' });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['content-type']).toContain('application/json');
    expect(again.json()).toEqual(first.json());
    expect(again.json().id).toBe(first.json().id);
    expect(await countOrgs('Idem Replay')).toBe(1);

    // Without a key the same request runs again.
    expect((await createOrg(user.token, undefined, { name: 'Idem Replay' })).statusCode).toBe(201);
    expect(await countOrgs('Idem Replay')).toBe(2);
  });

  it('runs two concurrent requests with one key once', async () => {
    const [a, b] = await Promise.all([
      createOrg(user.token, 'concurrent-key', { name: 'Idem Concurrent' }),
      createOrg(user.token, 'concurrent-key', { name: 'Idem Concurrent' }),
    ]);
    expect(a.statusCode, a.body).toBe(201);
    expect(b.statusCode, b.body).toBe(201);
    expect(a.json().id).toBe(b.json().id);
    expect([a.headers['idempotent-replayed'], b.headers['idempotent-replayed']].filter((h) => h === 'true')).toHaveLength(1);
    expect(await countOrgs('Idem Concurrent')).toBe(1);
  });

  it('refuses the same key with a different body with 422 idempotency_key_reused', async () => {
    expect((await createOrg(user.token, 'reused-key', { name: 'Idem Reused' })).statusCode).toBe(201);
    const res = await createOrg(user.token, 'reused-key', { name: 'Idem Reused, but different' });
    expect(expectProblem(res, 422).code).toBe('idempotency_key_reused');
    expect(await countOrgs('Idem Reused, but different')).toBe(0);
    // And on another route too.
    const other = await ctx.req({ method: 'POST', url: '/v1/auth/sign-out', token: user.token, headers: { 'idempotency-key': 'reused-key' } });
    expect(expectProblem(other, 422).code).toBe('idempotency_key_reused');
    expect((await ctx.req({ method: 'GET', url: '/v1/me', token: user.token })).statusCode).toBe(200);
  });

  it('refuses an invalid key with 400', async () => {
    const long = expectProblem(await createOrg(user.token, 'k'.repeat(256), { name: 'Idem Invalid' }), 400);
    expect(long.errors?.map((e) => e.path)).toEqual(['headers.idempotency-key']);
    expectProblem(await createOrg(user.token, 'has space', { name: 'Idem Invalid' }), 400);
    expect(await countOrgs('Idem Invalid')).toBe(0);
    // 255 characters is the longest key allowed.
    expect((await createOrg(user.token, 'k'.repeat(255), { name: 'Idem Longest' })).statusCode).toBe(201);
  });

  it('scopes keys per caller', async () => {
    const other = await ctx.newUser();
    const mine = await createOrg(user.token, 'shared-key', { name: 'Idem Scoped' });
    const theirs = await createOrg(other.token, 'shared-key', { name: 'Idem Scoped' });
    expect(mine.statusCode).toBe(201);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.json().id).not.toBe(mine.json().id);
    expect(theirs.json().ownerId).toBe(other.id);
    expect(await countOrgs('Idem Scoped')).toBe(2);
  });

  it('stores error answers too, and replays them', async () => {
    const first = await createOrg(user.token, 'error-key', { name: 'Idem Error', slug: 'idem-error-slug' });
    expect(first.statusCode).toBe(201);
    const taken = await createOrg(user.token, 'error-key-2', { name: 'Idem Error 2', slug: 'idem-error-slug' });
    expectProblem(taken, 409);
    const replay = await createOrg(user.token, 'error-key-2', { name: 'Idem Error 2', slug: 'idem-error-slug' });
    expect(replay.statusCode).toBe(409);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers['content-type']).toContain('application/problem+json');
    expect(replay.json()).toEqual(taken.json());
  });
});

describe('error handling', () => {
  it('answers an unknown route with 404 problem+json', async () => {
    const res = await ctx.req({ method: 'GET', url: '/v1/nowhere?x=1' });
    const body = expectProblem(res, 404);
    expect(body).toMatchObject({ title: 'Not found', instance: '/v1/nowhere', type: 'https://fanfare.dev/problems/not_found' });
    expect(body.detail).toBe('No route GET /v1/nowhere');
    expect(body.requestId).toBe(res.headers['x-request-id']);
  });

  it('answers a malformed JSON body with 400', async () => {
    const res = await ctx.req({
      method: 'POST',
      url: '/v1/auth/sign-in',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": "a@example.com", ',
    });
    expectProblem(res, 400);
  });

  it('answers a body of the wrong media type with 415', async () => {
    const res = await ctx.req({ method: 'POST', url: '/v1/auth/sign-in', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    expectProblem(res, 415);
  });

  it('maps every error kind to its status (the table)', () => {
    expect(errorKinds).toEqual({
      bad_request: 400,
      unauthenticated: 401,
      payment_required: 402,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      gone: 410,
      unprocessable: 422,
      rate_limited: 429,
      unavailable: 503,
    });
    for (const [kind, status] of Object.entries(errorKinds)) {
      expect(new AppError(kind as ErrorKind, 'x').status).toBe(status);
    }
  });

  describe('on a bare Fastify instance', () => {
    const app = Fastify().withTypeProvider<ZodTypeProvider>();
    beforeAll(async () => {
      app.setValidatorCompiler(validatorCompiler);
      app.setSerializerCompiler(serializerCompiler);
      installErrorHandling(app);
      app.get('/kind/:kind', async (req) => {
        const { kind } = req.params as { kind: ErrorKind };
        throw new AppError(kind, `failed as ${kind}`, { code: `code_${kind}` });
      });
      app.get('/boom', async () => {
        throw new Error('connection to db-primary.internal:5432 failed for user fanfare_rw');
      });
      app.get('/not-an-error', async () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- a non-Error throw is what this route tests
        throw 'a string';
      });
      app.get('/retry', async () => {
        throw new AppError('rate_limited', 'slow down', { retryAfterSeconds: 42 });
      });
      app.get('/fields', async () => {
        throw new AppError('bad_request', 'bad', { fields: [{ path: 'body.x', message: 'nope' }] });
      });
      app.get('/pg', async () => {
        throw Object.assign(new Error('duplicate key value violates unique constraint "users_email_unique"'), {
          code: '23505',
          constraint: 'users_email_unique',
        });
      });
      app.get(
        '/bad-response',
        { schema: { response: { 200: z.object({ ok: z.boolean() }) } } },
        async () => ({ ok: 'secret-value' }) as unknown as { ok: boolean },
      );
      await app.ready();
    });
    afterAll(() => app.close());

    it.each(Object.entries(errorKinds))('AppError %s answers %i problem+json', async (kind, status) => {
      const res = await app.inject({ method: 'GET', url: `/kind/${kind}` });
      const body = expectProblem(res, status);
      expect(body).toMatchObject({ detail: `failed as ${kind}`, code: `code_${kind}`, type: `https://fanfare.dev/problems/${kind}`, instance: `/kind/${kind}` });
      expect(body.title).not.toBe('Error');
    });

    it('answers an unexpected error with 500 and a generic message that leaks nothing', async () => {
      const res = await app.inject({ method: 'GET', url: '/boom' });
      const body = expectProblem(res, 500);
      expect(body).toMatchObject({ title: 'Internal server error', detail: 'Something went wrong on our side' });
      expect(res.body).not.toContain('db-primary');
      expect(res.body).not.toContain('fanfare_rw');
      expect(res.body).not.toContain('stack');

      const pg = await app.inject({ method: 'GET', url: '/pg' });
      expectProblem(pg, 500);
      expect(pg.body).not.toContain('users_email_unique');

      // Even when what was thrown is not an Error at all.
      const str = await app.inject({ method: 'GET', url: '/not-an-error' });
      expect(expectProblem(str, 500).detail).toBe('Something went wrong on our side');
    });

    it('answers a response that breaks its schema with 500, not the bad data', async () => {
      const res = await app.inject({ method: 'GET', url: '/bad-response' });
      expectProblem(res, 500);
      expect(res.body).not.toContain('secret-value');
    });

    it('sends Retry-After and field errors', async () => {
      const res = await app.inject({ method: 'GET', url: '/retry' });
      expectProblem(res, 429);
      expect(res.headers['retry-after']).toBe('42');
      const fields = expectProblem(await app.inject({ method: 'GET', url: '/fields' }), 400);
      expect(fields.errors).toEqual([{ path: 'body.x', message: 'nope' }]);
    });
  });

  it('recognises a unique violation through error causes', () => {
    const pgError = { code: '23505', constraint: 'organizations_slug_unique' };
    expect(isUniqueViolation(new Error('wrapped', { cause: pgError }))).toBe(true);
    expect(isUniqueViolation(new Error('wrapped', { cause: pgError }), 'organizations_slug_unique')).toBe(true);
    expect(isUniqueViolation(new Error('wrapped', { cause: pgError }), 'other_unique')).toBe(false);
    expect(isUniqueViolation({ code: '23503' })).toBe(false);
    expect(isUniqueViolation(new Error('plain'))).toBe(false);
  });
});

describe('cursor pagination', () => {
  it('walks every page of /v1/admin/users with nextCursor, without duplicates', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await ctx.newUser({ email: `paged-${i}@example.com` }));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/admin/users?limit=2&email=paged-${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await ctx.req({ method: 'GET', url, token: admin.token });
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json<{ items: { id: string }[]; nextCursor: string | null }>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((u) => u.id));
      cursor = page.nextCursor;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(seen.length);
    // Newest first.
    expect(seen).toEqual(created.map((u) => u.id).reverse());
  });

  it('ends with nextCursor null when the last page is exactly full', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    for (let i = 0; i < 4; i++) await ctx.newUser({ email: `even-${i}@example.com` });
    const first = (await ctx.req({ method: 'GET', url: '/v1/admin/users?limit=2&email=even-', token: admin.token })).json();
    expect(first.items).toHaveLength(2);
    const second = (await ctx.req({ method: 'GET', url: `/v1/admin/users?limit=2&email=even-&cursor=${first.nextCursor}`, token: admin.token })).json();
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
  });

  it('walks the audit log too', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    const { rows } = await ctx.database.raw.query<{ n: number }>('select count(*)::int as n from audit_logs');
    const total = rows[0]!.n;
    expect(total).toBeGreaterThan(3);
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const url: string = `/v1/admin/audit-logs?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await ctx.req({ method: 'GET', url, token: admin.token })).json<{ items: { id: string }[]; nextCursor: string | null }>();
      for (const item of page.items) {
        expect(seen.has(item.id)).toBe(false);
        seen.add(item.id);
      }
      cursor = page.nextCursor;
    } while (cursor);
    // Listing writes nothing, so the walk saw every row there was.
    expect(seen.size).toBe(total);
  });

  it('refuses a garbage cursor with 400', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    for (const cursor of ['garbage', encodeURIComponent('!!!'), encodeCursor('not-a-uuid'), encodeCursor('-'.repeat(36)), 'x'.repeat(201)]) {
      const res = await ctx.req({ method: 'GET', url: `/v1/admin/users?cursor=${cursor}`, token: admin.token });
      expect(expectProblem(res, 400).errors?.map((e) => e.path)).toEqual(['querystring.cursor']);
    }
  });

  it('encodes and decodes cursors (unit)', () => {
    const id = newId();
    expect(decodeCursor(encodeCursor(id))).toBe(id);
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(() => decodeCursor('e30')).toThrow(AppError);
    const rows = [{ id: 'c' }, { id: 'b' }, { id: 'a' }];
    expect(toPage(rows, 2)).toEqual({ items: [{ id: 'c' }, { id: 'b' }], nextCursor: encodeCursor('b') });
    expect(toPage(rows, 3)).toEqual({ items: rows, nextCursor: null });
  });
});

describe('request ids and logs', () => {
  it('echoes a given x-request-id and makes one otherwise', async () => {
    const given = await ctx.req({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-abc.123' } });
    expect(given.headers['x-request-id']).toBe('trace-abc.123');
    const made = await ctx.req({ method: 'GET', url: '/health' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // An id that is too long or holds other characters is replaced.
    for (const given of ['x'.repeat(101), 'two words', 'quote"d']) {
      const bad = await ctx.req({ method: 'GET', url: '/health', headers: { 'x-request-id': given } });
      expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const problem = await ctx.req({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'trace-404' } });
    expect(problem.json().requestId).toBe('trace-404');
  });

  it('redacts credentials from log lines', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = pino({ level: 'info', redact: { paths: redactPaths, censor: '[redacted]' } }, stream);
    log.info(
      {
        req: { method: 'GET', headers: { authorization: 'Bearer s3cret-token', cookie: 'fanfare.session_token=abc', 'x-api-key': 'ffk_123', host: 'x' } },
        res: { headers: { 'set-cookie': 'fanfare.session_token=def', 'set-auth-token': 'tok' } },
        body: { password: 'hunter2-hunter2', newPassword: 'n', currentPassword: 'c', token: 't0k', secret: 's' },
      },
      'request',
    );
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry.req.headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', 'x-api-key': '[redacted]', host: 'x' });
    expect(entry.res.headers).toEqual({ 'set-cookie': '[redacted]', 'set-auth-token': '[redacted]' });
    expect(entry.body).toEqual({ password: '[redacted]', newPassword: '[redacted]', currentPassword: '[redacted]', token: '[redacted]', secret: '[redacted]' });
    for (const secret of ['s3cret-token', 'session_token=abc', 'ffk_123', 'hunter2', 't0k']) expect(lines[0]).not.toContain(secret);
    expect(createLogger('warn').level).toBe('warn');
  });
});

describe('outbox', () => {
  const mailPayload = (marker: string) => ({ emailLogId: newId(), from: 'a@x.test', to: `${marker}@x.test`, subject: marker, text: marker });

  async function outboxRow(subject: string) {
    const rows = await ctx.services.db.select().from(outboxEvents);
    return rows.find((r) => (r.payload as { subject?: string }).subject === subject);
  }

  it('never dispatches an event published in a transaction that rolls back', async () => {
    await ctx.drain();
    const seen: OutboxEvent<'mail.requested'>[] = [];
    const outbox = new Outbox(ctx.services.db, createLogger('silent'));
    outbox.subscribe('mail.requested', 'test.record', async (e) => {
      seen.push(e);
    });
    await expect(
      ctx.services.db.transaction(async (tx) => {
        await publish(tx, 'mail.requested', mailPayload('rolled-back'));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await ctx.services.db.transaction(async (tx) => {
      await publish(tx, 'mail.requested', mailPayload('committed'));
    });
    expect(await outboxRow('rolled-back')).toBeUndefined();
    expect(await outbox.dispatchPending()).toBe(1);
    expect(seen.map((e) => e.payload.subject)).toEqual(['committed']);
    expect((await outboxRow('committed'))!.dispatchedAt).toBeInstanceOf(Date);
    // Dispatched events are not dispatched again.
    expect(await outbox.dispatchPending()).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('counts a failing handler attempt and retries it later', async () => {
    await ctx.drain();
    let calls = 0;
    const outbox = new Outbox(ctx.services.db, createLogger('silent'));
    outbox.subscribe('mail.requested', 'test.flaky', async () => {
      calls++;
      if (calls === 1) throw new Error('transient failure');
    });
    await publish(ctx.services.db, 'mail.requested', mailPayload('flaky'));

    expect(await outbox.dispatchPending()).toBe(1);
    expect(calls).toBe(1);
    let row = (await outboxRow('flaky'))!;
    expect(row).toMatchObject({ attempts: 1, dispatchedAt: null });
    expect(row.lastError).toContain('transient failure');
    expect(row.lockedUntil!.getTime()).toBeGreaterThan(Date.now() - 1000);

    // Backing off: not retried at once.
    expect(await outbox.dispatchPending()).toBe(0);
    expect(calls).toBe(1);

    // The first back-off is one second.
    await new Promise((r) => setTimeout(r, 1300));
    expect(await outbox.dispatchPending()).toBe(1);
    expect(calls).toBe(2);
    row = (await outboxRow('flaky'))!;
    expect(row.dispatchedAt).toBeInstanceOf(Date);
    expect(row.attempts).toBe(1);
  });

  it('gives up on an event after ten attempts', async () => {
    await ctx.drain();
    let calls = 0;
    const outbox = new Outbox(ctx.services.db, createLogger('silent'));
    outbox.subscribe('mail.requested', 'test.broken', async () => {
      calls++;
    });
    await publish(ctx.services.db, 'mail.requested', mailPayload('exhausted'));
    const row = (await outboxRow('exhausted'))!;
    await ctx.services.db.update(outboxEvents).set({ attempts: 10 }).where(eq(outboxEvents.id, row.id));
    expect(await outbox.dispatchPending()).toBe(0);
    expect(calls).toBe(0);
  });
});

describe('platform endpoints', () => {
  it('/health answers 200', async () => {
    const res = await ctx.req({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/ready answers 200 with the engine and migration counts', async () => {
    const journal = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] };
    const res = await ctx.req({ method: 'GET', url: '/ready' });
    expect(res.statusCode, res.body).toBe(200);
    const { media, ...rest } = res.json<{ media: { transcoding: boolean; detail: string | null } }>();
    expect(rest).toEqual({
      status: 'ready',
      engine: process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite',
      migrations: { applied: journal.entries.length, expected: journal.entries.length },
    });
    // Whether this machine has ffmpeg: a detail, never a reason to be unready.
    expect(media.transcoding ? media.detail : typeof media.detail).toBe(media.transcoding ? null : 'string');
    expect(journal.entries.length).toBeGreaterThan(0);
  });

  it('/docs/json is an OpenAPI 3 document listing the routes', async () => {
    const res = await ctx.req({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Fanfare API');
    expect(doc.paths['/v1/auth/sign-in'].post).toBeDefined();
    expect(doc.paths['/v1/auth/sign-in'].post.requestBody).toBeDefined();
    expect(doc.paths['/v1/me'].get).toBeDefined();
    expect(doc.paths['/v1/admin/users/{userId}'].patch).toBeDefined();
    // Hidden routes stay out.
    expect(doc.paths['/health']).toBeUndefined();
  });

  it('/ answers an HTML page naming Fanfare and linking /docs', async () => {
    const res = await ctx.req({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('<h1>Fanfare</h1>');
    expect(res.body).toContain('href="/docs"');
  });
});

describe('the response serializer', () => {
  const compile = (schema: z.ZodType) => serializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' });

  it('parses schemas without codecs, transforms or defaults, and encodes the others', () => {
    const plain = z.object({
      at: z.date().nullable(),
      tags: z.array(z.string()),
      kind: z.enum(['a', 'b']),
      one: z.union([z.object({ n: z.number().int() }), z.literal(true)]),
      meta: z.record(z.string(), z.unknown()).optional(),
      pair: z.tuple([z.string(), z.number()]),
    });
    expect(parsesAsItEncodes(plain)).toBe(true);
    type Node = { name: string; children: Node[] };
    const tree: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string(), children: z.array(tree) }));
    expect(parsesAsItEncodes(tree)).toBe(true);
    const codec = z.codec(z.iso.datetime(), z.date(), { decode: (s) => new Date(s), encode: (d) => d.toISOString() });
    for (const s of [z.object({ at: codec }), z.object({ n: z.number().default(1) }), z.string().transform((v) => v.length), z.array(z.number().catch(0))]) {
      expect(parsesAsItEncodes(s as z.ZodType)).toBe(false);
    }
  });

  it('writes what zod encoding writes: unknown keys stripped, dates as ISO strings, codecs run backwards', () => {
    const at = new Date('2026-12-01T10:00:00.000Z');
    const schema = z.object({ id: z.string(), at: z.date(), none: z.date().nullable(), list: z.array(z.object({ n: z.number() })) });
    const plain = compile(schema);
    const body = { id: 'x', at, none: null, list: [{ n: 1, hidden: 'no' }], passwordHash: 'secret' };
    expect(plain(body)).toBe('{"id":"x","at":"2026-12-01T10:00:00.000Z","none":null,"list":[{"n":1}]}');
    expect(plain(body)).toBe(JSON.stringify(z.encode(schema, body as never)));
    const cents = z.codec(z.string(), z.number(), { decode: (s) => Number(s), encode: (n) => n.toFixed(2) });
    expect(compile(z.object({ amount: cents }))({ amount: 12.5 })).toBe('{"amount":"12.50"}');
  });

  it('refuses a body that does not match, with the error the error handler answers 500 for', () => {
    const ser = compile(z.object({ ok: z.boolean() }));
    expect(() => ser({ ok: 'yes' })).toThrow(/Response doesn't match the schema/);
  });
});

describe('the request logger', () => {
  function logged(level: string) {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    });
    const parent = createLogger(level, stream);
    let children = 0;
    // Counts the request children (bound to a reqId). pino's children inherit child() from
    // their parent, so the wrapper keeps `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- applied with its own `this` below
    const child = parent.child;
    parent.child = function (this: typeof parent, ...args: Parameters<typeof child>) {
      if ('reqId' in args[0]) children++;
      return child.apply(this, args);
    } as typeof parent.child;
    const app = Fastify({ loggerInstance: parent, childLoggerFactory: requestLogger, genReqId: () => 'req-1' });
    app.get('/quiet', async () => ({ ok: true }));
    app.get('/warn', async (req) => {
      req.log.warn({ token: 'abc' }, 'something odd');
      req.log.child({ step: 'two' }).error('and worse');
      return { ok: true };
    });
    app.get('/debug', { logLevel: 'debug' }, async (req) => {
      req.log.debug('detail');
      return { ok: true };
    });
    return { app, lines, children: () => children };
  }

  it('at info, logs each request with its id, and redacts', async () => {
    const { app, lines } = logged('info');
    await app.inject({ method: 'GET', url: '/quiet?x=1', headers: { authorization: 'Bearer s3cret', cookie: 'fanfare.session_token=c00kie' } });
    expect(lines.map((l) => [l.msg, l.reqId])).toEqual([
      ['incoming request', 'req-1'],
      ['request completed', 'req-1'],
    ]);
    // The request and the reply are summarised, never dumped with their headers and socket.
    expect(lines[0]!.req).toEqual({ method: 'GET', url: '/quiet?x=1', host: 'localhost:80', remoteAddress: '127.0.0.1' });
    expect(lines[1]!.res).toEqual({ statusCode: 200 });
    expect(JSON.stringify(lines)).not.toMatch(/s3cret|c00kie/);
    await app.close();
  });

  it('above info, makes no child for a request that logs nothing, and a bound one for one that does', async () => {
    const { app, lines, children } = logged('warn');
    await app.inject({ method: 'GET', url: '/quiet' });
    expect(lines).toEqual([]);
    expect(children()).toBe(0);
    await app.inject({ method: 'GET', url: '/warn' });
    expect(lines.map((l) => [l.msg, l.reqId, l.step ?? null, l.token])).toEqual([
      ['something odd', 'req-1', null, '[redacted]'],
      ['and worse', 'req-1', 'two', undefined],
    ]);
    expect(children()).toBe(1);
    await app.close();
  });

  it("honours a route's own log level", async () => {
    const { app, lines } = logged('warn');
    await app.inject({ method: 'GET', url: '/debug' });
    expect(lines.map((l) => l.msg)).toEqual(['incoming request', 'detail', 'request completed']);
    expect(lines.every((l) => l.reqId === 'req-1')).toBe(true);
    await app.close();
  });
});
