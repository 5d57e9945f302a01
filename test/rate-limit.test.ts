import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.ts';
import { createLogger } from '../src/core/logger.ts';
import { createTestContext, PASSWORD, testConfig, type TestContext } from './helpers.ts';

let ctx: TestContext;
let second: App;
beforeAll(async () => {
  ctx = await createTestContext();
  // A second server process on the same database.
  second = await buildApp({ config: testConfig(), database: ctx.database, logger: createLogger('silent') });
});
afterAll(async () => {
  await second?.close();
  await ctx?.close();
});

const attempt = (app: App, email: string, ip = '10.0.0.1') =>
  app.app.inject({ method: 'POST', url: '/v1/auth/sign-in', remoteAddress: ip, payload: { email, password: 'wrong-password' } });

describe('sign-in rate limit store', () => {
  it('counts attempts across server processes, so a second instance gives no fresh allowance', async () => {
    const u = await ctx.newUser();
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await attempt(ctx, u.email)).statusCode);
    for (let i = 0; i < 2; i++) codes.push((await attempt(second, u.email)).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 401]);
    const blocked = await attempt(second, u.email);
    expect(blocked.statusCode).toBe(429);
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // The right password is refused too while the window runs.
    const right = await ctx.req({ method: 'POST', url: '/v1/auth/sign-in', remoteAddress: '10.0.0.1', payload: { email: u.email, password: PASSWORD } });
    expect(right.statusCode).toBe(429);
    // Another IP for the same account has its own allowance.
    expect((await attempt(ctx, u.email, '10.0.0.2')).statusCode).toBe(401);
  });

  it('opens again when the window has ended', async () => {
    const u = await ctx.newUser();
    for (let i = 0; i < 5; i++) await attempt(ctx, u.email, '10.0.0.3');
    expect((await attempt(ctx, u.email, '10.0.0.3')).statusCode).toBe(429);
    await ctx.database.raw.query(`update rate_limits set window_ends_at = now() - interval '1 second' where key like $1`, [`%${u.email}|10.0.0.3%`]);
    expect((await attempt(ctx, u.email, '10.0.0.3')).statusCode).toBe(401);
  });
});
