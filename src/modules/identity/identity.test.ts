import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, PASSWORD, type LightMyRequestResponse, type TestContext } from '../../../test/helpers.ts';
import { newId } from '../../core/ids.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('sign-up and e-mail verification', () => {
  it('creates an account, starts a session and mails a verification link through the queue', async () => {
    const res = await ctx.req({ method: 'POST', url: '/v1/auth/sign-up', payload: { email: 'Ana@Example.com', password: PASSWORD, name: 'Ana' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.user).toMatchObject({ email: 'ana@example.com', name: 'Ana', role: 'customer', emailVerified: false });
    expect(body.token).toBeTruthy();
    expect(res.headers['set-cookie']).toBeDefined();

    // Nothing is sent until the worker runs: the mail goes outbox -> job -> mailbox.
    expect(await ctx.mailTo('ana@example.com')).toHaveLength(0);
    await ctx.drain();
    const [mail] = await ctx.mailTo('ana@example.com');
    expect(mail?.subject).toBe('Confirm your e-mail address');
    const { rows: logs } = await ctx.database.raw.query<{ status: string; email_type: string; provider: string }>(
      "select status, email_type, provider from email_logs where recipient_email = 'ana@example.com'",
    );
    expect(logs).toEqual([{ status: 'sent', email_type: 'email_verification', provider: 'local' }]);

    const token = /verify-email\?token=([^\s]+)/.exec(mail!.text)![1]!;
    const verify = await ctx.req({ method: 'GET', url: `/v1/auth/verify-email?token=${token}` });
    expect(verify.statusCode).toBe(200);
    const me = await ctx.req({ method: 'GET', url: '/v1/me', token: body.token });
    expect(me.json()).toMatchObject({ emailVerified: true });
    expect(me.json().emailVerifiedAt).not.toBeNull();
  });

  it('refuses a duplicate e-mail with 409 and bad input with 400 naming the fields', async () => {
    await ctx.newUser({ email: 'dup@example.com' });
    const dup = await ctx.req({ method: 'POST', url: '/v1/auth/sign-up', payload: { email: 'DUP@example.com', password: PASSWORD, name: 'D' } });
    expect(dup.statusCode).toBe(409);
    const bad = await ctx.req({ method: 'POST', url: '/v1/auth/sign-up', payload: { email: 'nope', password: 'short', name: '' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect(bad.json().errors.map((e: { path: string }) => e.path)).toEqual(['body.email', 'body.password', 'body.name']);
  });
});

describe('sessions', () => {
  it('signs in by cookie and by bearer token, and signs out', async () => {
    const u = await ctx.newUser();
    const res = await ctx.req({ method: 'POST', url: '/v1/auth/sign-in', payload: { email: u.email, password: PASSWORD } });
    expect(res.statusCode).toBe(200);
    const cookie = String(res.headers['set-cookie']).split(';')[0]!;
    const byCookie = await ctx.req({ method: 'GET', url: '/v1/me', headers: { cookie } });
    expect(byCookie.statusCode).toBe(200);
    const byBearer = await ctx.req({ method: 'GET', url: '/v1/me', token: res.json().token });
    expect(byBearer.json().id).toBe(u.id);

    const out = await ctx.req({ method: 'POST', url: '/v1/auth/sign-out', headers: { cookie, origin: 'http://fanfare.test' } });
    expect(out.statusCode).toBe(204);
    expect((await ctx.req({ method: 'GET', url: '/v1/me', headers: { cookie } })).statusCode).toBe(401);
  });

  it('answers 401 without credentials', async () => {
    const res = await ctx.req({ method: 'GET', url: '/v1/me' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ status: 401, title: 'Authentication required' });
  });
});

// ---------------------------------------------------------------------------------------------
// Helpers local to this file.

type Res = LightMyRequestResponse;

/** A problem+json answer with `status`; when `paths` is given, the field paths it names. */
function expectProblem(res: Res, status: number, paths?: string[]) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json();
  expect(body.status).toBe(status);
  if (paths) expect(body.errors.map((e: { path: string }) => e.path)).toEqual(paths);
  return body as { status: number; code?: string; detail: string; errors?: { path: string; message: string }[] };
}

async function auditRows(action: string, resourceId: string) {
  const { rows } = await ctx.database.raw.query<{
    action: string;
    user_id: string | null;
    resource_id: string | null;
    ip_address: string | null;
    metadata: Record<string, unknown>;
  }>('select action, user_id, resource_id, ip_address, metadata from audit_logs where action = $1 and resource_id = $2 order by id', [
    action,
    resourceId,
  ]);
  return rows;
}

async function sessionCount(userId: string): Promise<number> {
  const { rows } = await ctx.database.raw.query<{ n: number }>('select count(*)::int as n from sessions where user_id = $1', [userId]);
  return rows[0]!.n;
}

const me = (token: string) => ctx.req({ method: 'GET', url: '/v1/me', token });
const signInRes = (email: string, password: string, remoteAddress?: string) =>
  ctx.req({ method: 'POST', url: '/v1/auth/sign-in', payload: { email, password }, ...(remoteAddress ? { remoteAddress } : {}) });

/** The reset token from the newest password reset mail to `email`. */
async function resetTokenFor(email: string): Promise<string> {
  await ctx.drain();
  const mail = (await ctx.mailTo(email)).find((m) => m.subject === 'Reset your Fanfare password');
  expect(mail, 'a password reset mail').toBeDefined();
  const token = /within one hour:\n\n(\S+)\n/.exec(mail!.text)?.[1];
  expect(token).toBeTruthy();
  return token!;
}

// ---------------------------------------------------------------------------------------------

describe('input validation and authentication of every identity route', () => {
  it('sign-in: 400 naming the field, 401 for a wrong password or unknown account', async () => {
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/auth/sign-in', payload: { email: 'not-an-email', password: '' } }), 400, [
      'body.email',
      'body.password',
    ]);
    const u = await ctx.newUser();
    const wrong = expectProblem(await signInRes(u.email, 'wrong-password-123'), 401);
    expect(wrong.code).toBe('invalid_credentials');
    const unknown = expectProblem(await signInRes('nobody-here@example.com', PASSWORD), 401);
    // The same answer whether or not the account exists.
    expect(unknown.detail).toBe(wrong.detail);
  });

  it('sign-out: 401 without a session', async () => {
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/auth/sign-out' }), 401);
  });

  it('verify-email: 400 without a token (naming querystring.token) and for a bad token', async () => {
    expectProblem(await ctx.req({ method: 'GET', url: '/v1/auth/verify-email' }), 400, ['querystring.token']);
    const bad = expectProblem(await ctx.req({ method: 'GET', url: '/v1/auth/verify-email?token=not-a-real-token-at-all' }), 400);
    expect(bad.code).toBe('invalid_token');
  });

  it('verify-email/resend: 401 anonymous, 409 when already verified, 202 and a new mail otherwise', async () => {
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/auth/verify-email/resend' }), 401);
    const verified = await ctx.newUser();
    expect(expectProblem(await ctx.req({ method: 'POST', url: '/v1/auth/verify-email/resend', token: verified.token }), 409).code).toBe(
      'already_verified',
    );

    const signUp = await ctx.req({ method: 'POST', url: '/v1/auth/sign-up', payload: { email: 'resend@example.com', password: PASSWORD, name: 'R' } });
    await ctx.drain();
    expect(await ctx.mailTo('resend@example.com')).toHaveLength(1);
    const res = await ctx.req({ method: 'POST', url: '/v1/auth/verify-email/resend', token: signUp.json().token });
    expect(res.statusCode).toBe(202);
    await ctx.drain();
    expect(await ctx.mailTo('resend@example.com')).toHaveLength(2);
  });

  it('password/forgot and password/reset: 400 naming the fields', async () => {
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: 'x' } }), 400, ['body.email']);
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/auth/password/forgot', payload: {} }), 400, ['body.email']);
    expectProblem(await ctx.req({ method: 'POST', url: '/v1/auth/password/reset', payload: { token: 'short', newPassword: 'short' } }), 400, [
      'body.token',
      'body.newPassword',
    ]);
  });

  it('password/change: 401 anonymous, 400 naming the fields', async () => {
    expectProblem(
      await ctx.req({ method: 'POST', url: '/v1/auth/password/change', payload: { currentPassword: PASSWORD, newPassword: 'another-long-password' } }),
      401,
    );
    const u = await ctx.newUser();
    expectProblem(
      await ctx.req({ method: 'POST', url: '/v1/auth/password/change', token: u.token, payload: { currentPassword: '', newPassword: 'short' } }),
      400,
      ['body.currentPassword', 'body.newPassword'],
    );
    expectProblem(
      await ctx.req({
        method: 'POST',
        url: '/v1/auth/password/change',
        token: u.token,
        payload: { currentPassword: PASSWORD, newPassword: 'another-long-password', revokeOtherSessions: 'yes' },
      }),
      400,
      ['body.revokeOtherSessions'],
    );
  });

  it('sessions: 401 anonymous, 400 for a malformed session id', async () => {
    expectProblem(await ctx.req({ method: 'GET', url: '/v1/auth/sessions' }), 401);
    expectProblem(await ctx.req({ method: 'DELETE', url: `/v1/auth/sessions/${newId()}` }), 401);
    const u = await ctx.newUser();
    expectProblem(await ctx.req({ method: 'DELETE', url: '/v1/auth/sessions/not-a-uuid', token: u.token }), 400, ['params.sessionId']);
  });

  it('PATCH /v1/me: 401 anonymous, 400 naming the fields', async () => {
    expectProblem(await ctx.req({ method: 'PATCH', url: '/v1/me', payload: { name: 'X' } }), 401);
    const u = await ctx.newUser();
    const patch = (payload: unknown) => ctx.req({ method: 'PATCH', url: '/v1/me', token: u.token, payload: payload as object });
    expectProblem(await patch({ timezone: 'Mars/Olympus_Mons' }), 400, ['body.timezone']);
    expectProblem(await patch({ countryCode: 'fr' }), 400, ['body.countryCode']);
    expectProblem(await patch({ countryCode: 'FRA' }), 400, ['body.countryCode']);
    expectProblem(await patch({ language: 'english' }), 400, ['body.language']);
    expectProblem(await patch({ avatarUrl: 'not a url' }), 400, ['body.avatarUrl']);
    expectProblem(await patch({ name: '   ' }), 400, ['body.name']);
    const unknown = expectProblem(await patch({ role: 'admin' }), 400);
    expect(unknown.detail).toContain('role');
    expectProblem(await patch({}), 400);
    // Nothing of the refused patches was applied.
    expect((await me(u.token)).json()).toMatchObject({ role: 'customer', timezone: 'UTC', countryCode: null });
  });

  it('DELETE /v1/me: 401 anonymous, 400 naming the fields', async () => {
    expectProblem(await ctx.req({ method: 'DELETE', url: '/v1/me', payload: { password: PASSWORD } }), 401);
    const u = await ctx.newUser();
    expectProblem(await ctx.req({ method: 'DELETE', url: '/v1/me', token: u.token, payload: {} }), 400, ['body.password']);
    expectProblem(await ctx.req({ method: 'DELETE', url: '/v1/me', token: u.token, payload: { password: PASSWORD, force: true } }), 400);
    expect((await me(u.token)).statusCode).toBe(200);
  });

  it('operator user routes: 400 naming the fields', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    expectProblem(await ctx.req({ method: 'GET', url: '/v1/admin/users?limit=0', token: admin.token }), 400, ['querystring.limit']);
    expectProblem(await ctx.req({ method: 'GET', url: '/v1/admin/users?role=king', token: admin.token }), 400, ['querystring.role']);
    expectProblem(await ctx.req({ method: 'PATCH', url: '/v1/admin/users/nope', token: admin.token, payload: { role: 'creator' } }), 400, [
      'params.userId',
    ]);
    const target = await ctx.newUser();
    const patch = (payload: object) => ctx.req({ method: 'PATCH', url: `/v1/admin/users/${target.id}`, token: admin.token, payload });
    expectProblem(await patch({ status: 'deleted' }), 400, ['body.status']);
    expectProblem(await patch({ role: 'emperor' }), 400, ['body.role']);
    expectProblem(await patch({}), 400);
    expectProblem(await patch({ role: 'creator', email: 'x@example.com' }), 400);
    expectProblem(
      await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${newId()}`, token: admin.token, payload: { role: 'creator' } }),
      404,
    );
    const self = expectProblem(
      await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${admin.id}`, token: admin.token, payload: { role: 'customer' } }),
      409,
    );
    expect(self.code).toBe('self_demotion');
  });
});

describe('accounts made outside a request', () => {
  it('createUser makes a verified account without leaving a session behind', async () => {
    const user = await ctx.services.identity.createUser({ email: 'Cli-Made@example.com', password: PASSWORD, name: 'Cli', role: 'author' });
    expect(user).toMatchObject({ email: 'cli-made@example.com', role: 'author', emailVerified: true });
    expect(await sessionCount(user.id)).toBe(0);
    expect(await auditRows('user.created_by_cli', user.id)).toHaveLength(1);
  });
});

describe('password reset', () => {
  it('mails a token through the queue; the reset sets the password and ends every session', async () => {
    const u = await ctx.newUser();
    const second = await ctx.signIn(u.email);
    expect(await sessionCount(u.id)).toBe(2);

    const res = await ctx.req({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: u.email.toUpperCase() } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: true });
    // Queued, not sent: the mail goes outbox -> job -> mailbox.
    expect((await ctx.mailTo(u.email)).filter((m) => m.subject.startsWith('Reset'))).toHaveLength(0);
    const token = await resetTokenFor(u.email);
    expect(await auditRows('auth.password_reset_requested', u.id)).toHaveLength(1);

    const newPassword = 'a-brand-new-password';
    const reset = await ctx.req({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, newPassword } });
    expect(reset.statusCode, reset.body).toBe(204);
    expect(reset.body).toBe('');

    expect(await sessionCount(u.id)).toBe(0);
    expectProblem(await me(u.token), 401);
    expectProblem(await me(second), 401);
    expectProblem(await signInRes(u.email, PASSWORD), 401);
    const signedIn = await signInRes(u.email, newPassword);
    expect(signedIn.statusCode).toBe(200);
    expect((await me(signedIn.json().token)).json().id).toBe(u.id);
    expect(await auditRows('auth.password_reset', u.id)).toHaveLength(1);

    // A token works once.
    const again = expectProblem(
      await ctx.req({ method: 'POST', url: '/v1/auth/password/reset', payload: { token, newPassword: 'yet-another-password' } }),
      400,
    );
    expect(again.code).toBe('invalid_token');
    expect((await signInRes(u.email, newPassword)).statusCode).toBe(200);
  });

  it('answers 202 for an unknown e-mail and sends nothing', async () => {
    const res = await ctx.req({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: 'ghost@example.com' } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: true });
    await ctx.drain();
    expect(await ctx.mailTo('ghost@example.com')).toHaveLength(0);
    const { rows } = await ctx.database.raw.query("select id from email_logs where recipient_email = 'ghost@example.com'");
    expect(rows).toHaveLength(0);
  });

  it('refuses a bad token with 400 and leaves the password alone', async () => {
    const u = await ctx.newUser();
    const res = await ctx.req({
      method: 'POST',
      url: '/v1/auth/password/reset',
      payload: { token: 'this-token-was-never-issued', newPassword: 'a-brand-new-password' },
    });
    expect(expectProblem(res, 400).code).toBe('invalid_token');
    expect((await me(u.token)).statusCode).toBe(200);
    expect((await signInRes(u.email, PASSWORD)).statusCode).toBe(200);
  });
});

describe('change password', () => {
  it('refuses a wrong current password with 400 naming body.currentPassword', async () => {
    const u = await ctx.newUser();
    const res = await ctx.req({
      method: 'POST',
      url: '/v1/auth/password/change',
      token: u.token,
      payload: { currentPassword: 'not-my-password', newPassword: 'another-long-password' },
    });
    const body = expectProblem(res, 400, ['body.currentPassword']);
    expect(body.code).toBe('invalid_password');
    expect((await signInRes(u.email, PASSWORD)).statusCode).toBe(200);
  });

  it('changes the password and ends the other sessions by default, keeping this one', async () => {
    const u = await ctx.newUser();
    const other = await ctx.signIn(u.email);
    const newPassword = 'another-long-password';
    const res = await ctx.req({
      method: 'POST',
      url: '/v1/auth/password/change',
      token: u.token,
      payload: { currentPassword: PASSWORD, newPassword },
    });
    expect(res.statusCode, res.body).toBe(204);
    expect((await me(u.token)).statusCode).toBe(200);
    expectProblem(await me(other), 401);
    expect(await sessionCount(u.id)).toBe(1);
    expectProblem(await signInRes(u.email, PASSWORD), 401);
    expect((await signInRes(u.email, newPassword)).statusCode).toBe(200);
    expect(await auditRows('auth.password_changed', u.id)).toHaveLength(1);
  });

  it('keeps the other sessions with revokeOtherSessions: false', async () => {
    const u = await ctx.newUser();
    const other = await ctx.signIn(u.email);
    const res = await ctx.req({
      method: 'POST',
      url: '/v1/auth/password/change',
      token: u.token,
      payload: { currentPassword: PASSWORD, newPassword: 'another-long-password', revokeOtherSessions: false },
    });
    expect(res.statusCode).toBe(204);
    expect((await me(other)).statusCode).toBe(200);
    expect((await me(u.token)).statusCode).toBe(200);
  });
});

describe('profile', () => {
  it('updates the profile with PATCH /v1/me', async () => {
    const u = await ctx.newUser();
    const res = await ctx.req({
      method: 'PATCH',
      url: '/v1/me',
      token: u.token,
      payload: {
        name: '  Zoë  ',
        timezone: 'Europe/Paris',
        countryCode: 'FR',
        language: 'pt-BR',
        avatarUrl: 'https://cdn.example.com/z.png',
        phone: '+33 1 23 45 67 89',
        onboardingCompleted: true,
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const expected = {
      id: u.id,
      name: 'Zoë',
      timezone: 'Europe/Paris',
      countryCode: 'FR',
      language: 'pt-BR',
      avatarUrl: 'https://cdn.example.com/z.png',
      phone: '+33 1 23 45 67 89',
      onboardingCompleted: true,
    };
    expect(res.json()).toMatchObject(expected);
    expect((await me(u.token)).json()).toMatchObject(expected);

    const cleared = await ctx.req({ method: 'PATCH', url: '/v1/me', token: u.token, payload: { avatarUrl: null, countryCode: null } });
    expect(cleared.json()).toMatchObject({ avatarUrl: null, countryCode: null, timezone: 'Europe/Paris' });
  });
});

describe('session management', () => {
  it('lists my sessions, marks the current one and ends another', async () => {
    const u = await ctx.newUser();
    const other = await ctx.signIn(u.email);
    const list = await ctx.req({ method: 'GET', url: '/v1/auth/sessions', token: u.token });
    expect(list.statusCode).toBe(200);
    const items = list.json().items as { id: string; current: boolean; ipAddress: string | null }[];
    expect(items).toHaveLength(2);
    expect(items.filter((s) => s.current)).toHaveLength(1);
    expect(items[0]!.ipAddress).toBe('127.0.0.1');
    const otherSession = items.find((s) => !s.current)!;

    // Another user cannot end my session, and learns nothing about it.
    const stranger = await ctx.newUser();
    expectProblem(await ctx.req({ method: 'DELETE', url: `/v1/auth/sessions/${otherSession.id}`, token: stranger.token }), 404);
    expect((await me(other)).statusCode).toBe(200);

    const del = await ctx.req({ method: 'DELETE', url: `/v1/auth/sessions/${otherSession.id}`, token: u.token });
    expect(del.statusCode).toBe(204);
    expectProblem(await me(other), 401);
    expect((await me(u.token)).statusCode).toBe(200);
    expectProblem(await ctx.req({ method: 'DELETE', url: `/v1/auth/sessions/${otherSession.id}`, token: u.token }), 404);

    const after = await ctx.req({ method: 'GET', url: '/v1/auth/sessions', token: u.token });
    expect(after.json().items.map((s: { id: string }) => s.id)).toEqual([items.find((s) => s.current)!.id]);
  });
});

describe('rate limits', () => {
  it('blocks the 6th sign-in for one account and IP with 429, Retry-After and problem+json', async () => {
    const ip = '10.0.0.1';
    const user = await ctx.services.identity.createUser({ email: 'limited@example.com', password: PASSWORD, name: 'L', role: 'customer' });
    for (let i = 0; i < 5; i++) {
      // The key is the normalised e-mail, so changing its case does not reset the count.
      const res = await signInRes(i % 2 ? 'LIMITED@example.com' : user.email, 'wrong-password-123', ip);
      expect(res.statusCode).toBe(401);
    }
    // Even the right password is refused now.
    const blocked = await signInRes(user.email, PASSWORD, ip);
    expectProblem(blocked, 429);
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(blocked.json().detail).toMatch(/try again in \d+ seconds/);

    // Another account from the same IP is not blocked, nor the same account from another IP.
    const other = await ctx.services.identity.createUser({ email: 'unlimited@example.com', password: PASSWORD, name: 'U', role: 'customer' });
    expect((await signInRes(other.email, PASSWORD, ip)).statusCode).toBe(200);
    expect((await signInRes(user.email, PASSWORD, '10.0.0.2')).statusCode).toBe(200);
    expectProblem(await signInRes(user.email, PASSWORD, ip), 429);
  });

  it('blocks the 6th password reset request for one e-mail and IP', async () => {
    const ip = '10.0.1.1';
    const forgot = (email: string, remoteAddress = ip) =>
      ctx.req({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email }, remoteAddress });
    for (let i = 0; i < 5; i++) expect((await forgot('someone@example.com')).statusCode).toBe(202);
    const blocked = await forgot('someone@example.com');
    expectProblem(blocked, 429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await forgot('someone-else@example.com')).statusCode).toBe(202);
    expect((await forgot('someone@example.com', '10.0.1.2')).statusCode).toBe(202);
    // Sign-in keeps its own count.
    expect((await signInRes('someone@example.com', PASSWORD, ip)).statusCode).toBe(401);
  });
});

describe('audit log', () => {
  it('records sign-ins and failed sign-ins with the caller IP', async () => {
    const u = await ctx.newUser();
    const signedIn = await auditRows('auth.signed_in', u.id);
    expect(signedIn).toHaveLength(1);
    expect(signedIn[0]).toMatchObject({ user_id: u.id, ip_address: '127.0.0.1' });

    expect((await signInRes(u.email, 'wrong-password-123', '10.0.2.1')).statusCode).toBe(401);
    const failed = await auditRows('auth.sign_in_failed', u.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ user_id: u.id, ip_address: '10.0.2.1', metadata: { email: u.email } });
    expect(failed[0]!.metadata.requestId).toEqual(expect.any(String));
    // The password is never recorded.
    expect(JSON.stringify(failed[0])).not.toContain('wrong-password-123');

    // An unknown e-mail is recorded too, without a user.
    expect((await signInRes('no-such-user@example.com', 'whatever-password', '10.0.2.1')).statusCode).toBe(401);
    const { rows } = await ctx.database.raw.query<{ user_id: string | null }>(
      "select user_id from audit_logs where action = 'auth.sign_in_failed' and metadata->>'email' = 'no-such-user@example.com'",
    );
    expect(rows).toEqual([{ user_id: null }]);
  });

  it('records user.role_changed when an operator changes a role', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    const u = await ctx.newUser();
    const res = await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${u.id}`, token: admin.token, payload: { role: 'creator' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id: u.id, role: 'creator', status: 'active' });
    expect((await me(u.token)).json().role).toBe('creator');
    const rows = await auditRows('user.role_changed', u.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_id: admin.id, metadata: { from: 'customer', to: 'creator' } });

    // Setting the role it already has records nothing.
    await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${u.id}`, token: admin.token, payload: { role: 'creator' } });
    expect(await auditRows('user.role_changed', u.id)).toHaveLength(1);
  });

  it('is append-only: UPDATE and DELETE raise an error', async () => {
    const u = await ctx.newUser();
    const [row] = (await ctx.database.raw.query<{ id: string }>("select id from audit_logs where resource_id = $1 and action = 'auth.signed_in'", [u.id]))
      .rows;
    expect(row).toBeDefined();
    await expect(ctx.database.raw.query("update audit_logs set action = 'tampered' where id = $1", [row!.id])).rejects.toThrow(/append-only/);
    await expect(ctx.database.raw.query('delete from audit_logs where id = $1', [row!.id])).rejects.toThrow(/append-only/);
    const { rows } = await ctx.database.raw.query<{ action: string }>('select action from audit_logs where id = $1', [row!.id]);
    expect(rows).toEqual([{ action: 'auth.signed_in' }]);
  });
});

describe('operator routes', () => {
  const operatorUrls = ['/v1/admin/users', '/v1/admin/mailbox', '/v1/admin/email-logs', '/v1/admin/audit-logs'];

  it.each(operatorUrls)('%s: 401 anonymous, 403 for a non-admin, 200 for an admin', async (url) => {
    expectProblem(await ctx.req({ method: 'GET', url }), 401);
    const creator = await ctx.newUser({ role: 'creator' });
    expectProblem(await ctx.req({ method: 'GET', url, token: creator.token }), 403);
    const admin = await ctx.newUser({ role: 'admin' });
    const res = await ctx.req({ method: 'GET', url, token: admin.token });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(Array.isArray(body.items)).toBe(true);
    expect(body).toHaveProperty('nextCursor');
  });

  it('PATCH /v1/admin/users/:id: 401 anonymous, 403 for a non-admin', async () => {
    const u = await ctx.newUser();
    expectProblem(await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${u.id}`, payload: { role: 'admin' } }), 401);
    // Not even for oneself.
    expectProblem(await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${u.id}`, token: u.token, payload: { role: 'admin' } }), 403);
    expect((await me(u.token)).json().role).toBe('customer');
  });

  it('operator lists filter and show what they hold', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    const u = await ctx.newUser({ email: 'findme-operator@example.com', role: 'partner' });
    const users = await ctx.req({ method: 'GET', url: '/v1/admin/users?email=findme-operator', token: admin.token });
    expect(users.json().items.map((x: { id: string }) => x.id)).toEqual([u.id]);
    const partners = await ctx.req({ method: 'GET', url: '/v1/admin/users?role=partner&limit=100', token: admin.token });
    expect(partners.json().items.every((x: { role: string }) => x.role === 'partner')).toBe(true);
    expect(partners.json().items.map((x: { id: string }) => x.id)).toContain(u.id);

    const audit = await ctx.req({ method: 'GET', url: `/v1/admin/audit-logs?userId=${u.id}&action=auth.signed_in`, token: admin.token });
    expect(audit.json().items).toHaveLength(1);
    expect(audit.json().items[0]).toMatchObject({ action: 'auth.signed_in', resourceId: u.id });

    await ctx.req({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email: u.email } });
    await ctx.drain();
    const mailbox = await ctx.req({ method: 'GET', url: `/v1/admin/mailbox?to=${u.email}`, token: admin.token });
    const mails = mailbox.json().items as { subject: string; toAddress: string }[];
    expect(mails.map((m) => m.subject)).toContain('Reset your Fanfare password');
    expect(mails.every((m) => m.toAddress === u.email)).toBe(true);
    const logs = await ctx.req({ method: 'GET', url: `/v1/admin/email-logs?userId=${u.id}`, token: admin.token });
    const logItems = logs.json().items as { emailType: string; status: string; recipientEmail: string }[];
    expect(logItems[0]).toMatchObject({ emailType: 'password_reset', status: 'sent', recipientEmail: u.email });
    expect(logItems.length).toBe(mails.length);
  });
});

describe('suspension', () => {
  it('ends the sessions of a suspended user at once; sign-in then answers 403', async () => {
    const admin = await ctx.newUser({ role: 'admin' });
    const u = await ctx.newUser();
    const other = await ctx.signIn(u.email);
    const res = await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${u.id}`, token: admin.token, payload: { status: 'suspended' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('suspended');

    expectProblem(await me(u.token), 401);
    expectProblem(await me(other), 401);
    expect(await sessionCount(u.id)).toBe(0);
    const status = await auditRows('user.status_changed', u.id);
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ user_id: admin.id, metadata: { from: 'active', to: 'suspended' } });

    const signIn = await signInRes(u.email, PASSWORD);
    expect(expectProblem(signIn, 403).code).toBe('account_suspended');
    expect(signIn.headers['set-cookie']).toBeUndefined();
    // The session BetterAuth made during that sign-in does not survive it.
    expect(await sessionCount(u.id)).toBe(0);

    const back = await ctx.req({ method: 'PATCH', url: `/v1/admin/users/${u.id}`, token: admin.token, payload: { status: 'active' } });
    expect(back.json().status).toBe('active');
    expect((await signInRes(u.email, PASSWORD)).statusCode).toBe(200);
  });
});

describe('cross-site requests', () => {
  async function cookieFor(email: string) {
    const res = await signInRes(email, PASSWORD);
    return String(res.headers['set-cookie']).split(';')[0]!;
  }

  it('refuses a cookie-authenticated POST or PATCH from a foreign Origin with 403', async () => {
    const u = await ctx.newUser();
    const cookie = await cookieFor(u.email);
    const out = await ctx.req({ method: 'POST', url: '/v1/auth/sign-out', headers: { cookie, origin: 'https://evil.example' } });
    expect(expectProblem(out, 403).code).toBe('untrusted_origin');
    const patch = await ctx.req({ method: 'PATCH', url: '/v1/me', headers: { cookie, origin: 'https://evil.example' }, payload: { name: 'Pwned' } });
    expectProblem(patch, 403);
    // The session is untouched and usable from the app's own origin.
    const mine = await ctx.req({ method: 'GET', url: '/v1/me', headers: { cookie, origin: 'https://evil.example' } });
    expect(mine.statusCode).toBe(200);
    expect(mine.json().name).not.toBe('Pwned');
    const ok = await ctx.req({ method: 'PATCH', url: '/v1/me', headers: { cookie, origin: 'http://fanfare.test' }, payload: { name: 'Fine' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().name).toBe('Fine');
  });

  it('needs no Origin for bearer requests', async () => {
    const u = await ctx.newUser();
    const patch = await ctx.req({ method: 'PATCH', url: '/v1/me', token: u.token, payload: { name: 'Bearer' } });
    expect(patch.statusCode).toBe(200);
    const foreign = await ctx.req({ method: 'PATCH', url: '/v1/me', token: u.token, headers: { origin: 'https://elsewhere.example' }, payload: { name: 'B2' } });
    expect(foreign.statusCode).toBe(200);
    expect(foreign.json().name).toBe('B2');
  });
});
