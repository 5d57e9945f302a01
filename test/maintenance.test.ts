import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from './helpers.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('maintenance.cleanup job', () => {
  it('forgets old idempotency keys, old dispatched events and expired sessions, and keeps the rest', async () => {
    const u = await ctx.newUser();
    const q = ctx.database.raw.query.bind(ctx.database.raw);
    await q(
      `insert into idempotency_keys (id, scope, key, method, path, request_hash, status, created_at)
       values (gen_random_uuid(), 's', 'old', 'POST', '/x', 'h', 'completed', now() - interval '2 days'),
              (gen_random_uuid(), 's', 'new', 'POST', '/x', 'h', 'completed', now())`,
    );
    await q(
      `insert into outbox_events (id, topic, payload, dispatched_at)
       values (gen_random_uuid(), 'old', '{}', now() - interval '8 days'),
              (gen_random_uuid(), 'recent', '{}', now() - interval '1 day')`,
    );
    await q(`update sessions set expires_at = now() - interval '1 minute' where user_id = $1`, [u.id]);
    const fresh = await ctx.signIn(u.email);

    await ctx.services.jobs.send('maintenance.cleanup', {});
    await ctx.drain();

    expect((await q<{ key: string }>('select key from idempotency_keys')).rows.map((r) => r.key)).toEqual(['new']);
    expect((await q<{ topic: string }>('select topic from outbox_events where dispatched_at is not null')).rows.map((r) => r.topic)).not.toContain('old');
    expect((await q<{ topic: string }>('select topic from outbox_events')).rows.map((r) => r.topic)).toContain('recent');
    const { rows: sessions } = await q<{ n: string }>('select count(*)::text as n from sessions where user_id = $1', [u.id]);
    expect(sessions[0]!.n).toBe('1');
    expect((await ctx.req({ method: 'GET', url: '/v1/me', token: fresh })).statusCode).toBe(200);
  });
});

describe('the worker', () => {
  it('fails only the job whose handler throws, and completes the others of its batch', async () => {
    const { JobQueue } = await import('../src/core/jobs.ts');
    const { createLogger } = await import('../src/core/logger.ts');
    const worker = new JobQueue(ctx.database, createLogger('silent'), { maintenance: false });
    const ran: string[] = [];
    worker.register('lms.sync', async ({ connectionId }) => {
      if (connectionId === 'bad') throw new Error('this one fails');
      ran.push(connectionId);
    });
    for (const id of ['a', 'bad', 'b']) await worker.send('lms.sync', { connectionId: id }, { retryLimit: 0 });
    await worker.work(0.5);
    const states = async () =>
      (
        await ctx.database.raw.query<{ id: string; state: string }>(
          `select data->>'connectionId' as id, state from pgboss.job where name = 'lms.sync' order by 1`,
        )
      ).rows;
    // Until pg-boss has recorded every outcome (it completes the batch after the handler returns).
    const deadline = Date.now() + 15_000;
    while ((await states()).some((r) => r.state !== 'completed' && r.state !== 'failed') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await worker.stop();
    expect(ran.sort()).toEqual(['a', 'b']);
    const rows = await states();
    expect(rows).toEqual([
      { id: 'a', state: 'completed' },
      { id: 'b', state: 'completed' },
      { id: 'bad', state: 'failed' },
    ]);
  });
});
