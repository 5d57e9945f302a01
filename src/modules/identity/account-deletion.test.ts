import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, PASSWORD, type TestContext } from '../../../test/helpers.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('DELETE /v1/me', () => {
  it('needs a session and the right password, then soft-deletes and ends every session', async () => {
    const u = await ctx.newUser();
    const second = await ctx.signIn(u.email);

    expect((await ctx.req({ method: 'DELETE', url: '/v1/me', payload: { password: PASSWORD } })).statusCode).toBe(401);
    const bad = await ctx.req({ method: 'DELETE', url: '/v1/me', token: u.token, payload: {} });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toBe('body.password');
    const wrong = await ctx.req({ method: 'DELETE', url: '/v1/me', token: u.token, payload: { password: 'not-the-password' } });
    expect(wrong.statusCode).toBe(400);
    expect((await ctx.req({ method: 'GET', url: '/v1/me', token: u.token })).statusCode).toBe(200);

    const res = await ctx.req({ method: 'DELETE', url: '/v1/me', token: u.token, payload: { password: PASSWORD } });
    expect(res.statusCode).toBe(204);
    for (const token of [u.token, second]) {
      expect((await ctx.req({ method: 'GET', url: '/v1/me', token })).statusCode).toBe(401);
    }
    const { rows } = await ctx.database.raw.query<{ status: string; deleted: boolean }>(
      'select status, deleted_at is not null as deleted from users where id = $1',
      [u.id],
    );
    expect(rows).toEqual([{ status: 'deleted', deleted: true }]);
    const signIn = await ctx.req({ method: 'POST', url: '/v1/auth/sign-in', payload: { email: u.email, password: PASSWORD } });
    expect(signIn.statusCode).toBe(401);
    const { rows: live } = await ctx.database.raw.query('select id from sessions where user_id = $1', [u.id]);
    expect(live).toHaveLength(0);
  });
});
