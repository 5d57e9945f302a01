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
