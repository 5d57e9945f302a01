import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, PASSWORD, type TestContext } from '../../../test/helpers.ts';
import { presentedSession, readCookie, sign, unsign } from './session-token.ts';

// The per-request session check does BetterAuth's getSession work in one prepared query. These
// tests hold it to BetterAuth's answers and to "access ends at once".

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const SECRET = 'test-secret-test-secret-test-secret!';
const COOKIE = 'fanfare.session_token';
const DAY = 24 * 60 * 60 * 1000;

const me = (headers: Record<string, string>) => ctx.req({ method: 'GET', url: '/v1/me', headers });

async function signInWithCookies(email: string, rememberMe = true) {
  const res = await ctx.req({ method: 'POST', url: '/v1/auth/sign-in', payload: { email, password: PASSWORD, rememberMe } });
  expect(res.statusCode, res.body).toBe(200);
  const setCookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = setCookies.map((c) => c.split(';')[0]!).join('; ');
  const sessionCookie = setCookies.find((c) => c.startsWith(`${COOKIE}=`))!.split(';')[0]!.slice(COOKIE.length + 1);
  return { token: res.json<{ token: string }>().token, cookie, sessionCookie };
}

async function sessionExpiry(token: string): Promise<Date | undefined> {
  const { rows } = await ctx.database.raw.query<{ expires_at: Date }>('select expires_at from sessions where token = $1', [token]);
  return rows[0]?.expires_at;
}

async function setSessionExpiry(token: string, at: Date): Promise<void> {
  await ctx.database.raw.query('update sessions set expires_at = $2 where token = $1', [token, at]);
}

describe('reading the token (unit)', () => {
  const names = { sessionToken: COOKIE, dontRemember: 'fanfare.dont_remember' };

  it('signs as BetterAuth does and refuses any other signature', () => {
    const signed = sign('abc', SECRET);
    expect(signed).toMatch(/^abc\.[A-Za-z0-9+/]{43}=$/);
    expect(unsign(signed, SECRET)).toBe('abc');
    expect(unsign(signed, 'another-secret-another-secret-0000')).toBeNull();
    expect(unsign(`abd${signed.slice(3)}`, SECRET)).toBeNull();
    expect(unsign('abc', SECRET)).toBeNull();
    expect(unsign(`abc.${signed.slice(4, -1)}`, SECRET)).toBeNull();
    expect(unsign(`.${signed.slice(4)}`, SECRET)).toBeNull();
  });

  it('reads the first cookie of a name, unquoted and URI-decoded', () => {
    expect(readCookie('a=1; fanfare.session_token=x%2By; fanfare.session_token=z', COOKIE)).toBe('x+y');
    expect(readCookie('fanfare.session_token="q"', COOKIE)).toBe('q');
    expect(readCookie('other=1', COOKIE)).toBeUndefined();
  });

  it('takes a raw or signed bearer, and falls back to the cookie when the bearer does not verify', () => {
    const cookie = `${COOKIE}=${encodeURIComponent(sign('from-cookie', SECRET))}`;
    expect(presentedSession({ authorization: 'Bearer raw' }, names, SECRET)).toEqual({ token: 'raw', source: 'bearer', dontRemember: false });
    expect(presentedSession({ authorization: `bearer ${encodeURIComponent(sign('t', SECRET))}` }, names, SECRET)?.token).toBe('t');
    expect(presentedSession({ authorization: 'Bearer t.bad', cookie }, names, SECRET)).toEqual({ token: 'from-cookie', source: 'cookie', dontRemember: false });
    expect(presentedSession({ authorization: 'Basic abc', cookie }, names, SECRET)?.source).toBe('cookie');
    expect(presentedSession({ authorization: 'Bearer t.bad' }, names, SECRET)).toBeNull();
    expect(presentedSession({ cookie: `${COOKIE}=from-cookie` }, names, SECRET)).toBeNull();
    const dontRemember = `fanfare.dont_remember=${encodeURIComponent(sign('true', SECRET))}`;
    expect(presentedSession({ cookie: `${cookie}; ${dontRemember}` }, names, SECRET)?.dontRemember).toBe(true);
    expect(presentedSession({ cookie: `${cookie}; fanfare.dont_remember=true` }, names, SECRET)?.dontRemember).toBe(false);
  });
});

describe('the session fast path', () => {
  it('accepts the bearer token, the signed token as bearer, and the cookie', async () => {
    const u = await ctx.newUser();
    const s = await signInWithCookies(u.email);
    const cases: Record<string, string>[] = [
      { authorization: `Bearer ${s.token}` },
      { authorization: `Bearer ${s.sessionCookie}` },
      { authorization: `Bearer ${decodeURIComponent(s.sessionCookie)}` },
      { cookie: s.cookie },
    ];
    for (const headers of cases) {
      const res = await me(headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(200);
      expect(res.json().id).toBe(u.id);
    }
  });

  it('gives the same answer as BetterAuth getSession for good and bad credentials', async () => {
    const u = await ctx.newUser();
    const s = await signInWithCookies(u.email);
    const signed = decodeURIComponent(s.sessionCookie);
    const tampered = `${signed.slice(0, -2)}${signed.at(-2) === 'A' ? 'B' : 'A'}=`;
    const cases: Record<string, string>[] = [
      { authorization: `Bearer ${s.token}` },
      { authorization: `Bearer ${s.sessionCookie}` },
      { authorization: `Bearer ${tampered}` },
      { authorization: `Bearer ${s.token}x` },
      { authorization: `Bearer ${tampered}`, cookie: s.cookie },
      { authorization: `Token ${s.token}`, cookie: s.cookie },
      { cookie: s.cookie },
      { cookie: `${COOKIE}=${encodeURIComponent(tampered)}` },
      { cookie: `${COOKIE}=${s.token}` },
      { cookie: `${COOKIE}=${encodeURIComponent(sign(s.token, 'not-the-secret-not-the-secret-00'))}` },
    ];
    for (const headers of cases) {
      const theirs = await ctx.services.auth.api.getSession({ headers: new Headers(headers) });
      const ours = await ctx.services.identity.resolveSession(headers, { ip: null, userAgent: null, requestId: 't' });
      expect(ours?.actor.userId ?? null, JSON.stringify(headers)).toBe(theirs?.user.id ?? null);
      expect(ours?.actor.sessionId ?? null).toBe(theirs?.session.id ?? null);
      const res = await me(headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(theirs ? 200 : 401);
    }
  });

  it('refuses a cookie whose signature was tampered with', async () => {
    const u = await ctx.newUser();
    const s = await signInWithCookies(u.email);
    const signed = decodeURIComponent(s.sessionCookie);
    const sig = signed.slice(signed.lastIndexOf('.') + 1);
    const flipped = `${s.token}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect((await me({ cookie: `${COOKIE}=${encodeURIComponent(flipped)}` })).statusCode).toBe(401);
    // The token alone, unsigned, is not a cookie session either.
    expect((await me({ cookie: `${COOKIE}=${s.token}` })).statusCode).toBe(401);
    // Signed for another user's token: the signature must match the token it comes with.
    const other = await signInWithCookies((await ctx.newUser()).email);
    const otherSig = decodeURIComponent(other.sessionCookie).split('.')[1]!;
    expect((await me({ cookie: `${COOKIE}=${encodeURIComponent(`${s.token}.${otherSig}`)}` })).statusCode).toBe(401);
    expect((await me({ cookie: s.cookie })).statusCode).toBe(200);
  });

  it('refuses an expired session and deletes it', async () => {
    const u = await ctx.newUser();
    const s = await signInWithCookies(u.email);
    await setSessionExpiry(s.token, new Date(Date.now() - 1000));
    expect((await me({ authorization: `Bearer ${s.token}` })).statusCode).toBe(401);
    expect(await sessionExpiry(s.token)).toBeUndefined();
    expect((await me({ cookie: s.cookie })).statusCode).toBe(401);
  });

  it('ends access at once on sign-out and on revoking the session, for bearer and cookie', async () => {
    const u = await ctx.newUser();
    const a = await signInWithCookies(u.email);
    const b = await signInWithCookies(u.email);
    expect((await me({ cookie: b.cookie })).statusCode).toBe(200);

    const list = await ctx.req({ method: 'GET', url: '/v1/auth/sessions', token: a.token });
    const bId = (await ctx.services.identity.resolveSession({ cookie: b.cookie }, { ip: null, userAgent: null, requestId: 't' }))!.actor.sessionId;
    expect(list.json().items.map((i: { id: string }) => i.id)).toContain(bId);
    expect((await ctx.req({ method: 'DELETE', url: `/v1/auth/sessions/${bId}`, token: a.token })).statusCode).toBe(204);
    expect((await me({ cookie: b.cookie })).statusCode).toBe(401);
    expect((await me({ authorization: `Bearer ${b.token}` })).statusCode).toBe(401);

    expect((await ctx.req({ method: 'POST', url: '/v1/auth/sign-out', token: a.token })).statusCode).toBe(204);
    expect((await me({ authorization: `Bearer ${a.token}` })).statusCode).toBe(401);
    expect((await me({ cookie: a.cookie })).statusCode).toBe(401);
  });

  it('reads the user afresh on every request: a suspended or deleted account is refused at once', async () => {
    const u = await ctx.newUser();
    expect((await me({ authorization: `Bearer ${u.token}` })).statusCode).toBe(200);
    // Even if its sessions were somehow left behind, the account's status counts.
    await ctx.database.raw.query(`update users set status = 'suspended' where id = $1`, [u.id]);
    const res = await me({ authorization: `Bearer ${u.token}` });
    expect(res.statusCode).toBe(403);
    await ctx.database.raw.query(`update users set status = 'active' where id = $1`, [u.id]);
    expect((await me({ authorization: `Bearer ${u.token}` })).statusCode).toBe(200);
    await ctx.database.raw.query(`update users set status = 'deleted', deleted_at = now() where id = $1`, [u.id]);
    expect((await me({ authorization: `Bearer ${u.token}` })).statusCode).toBe(403);
  });

  it('ends organization access at once when a member is removed', async () => {
    const owner = await ctx.newUser();
    const member = await ctx.newUser();
    const org = await ctx.newOrg(owner);
    const m = await ctx.addMember(owner, org.id, member, 'manager');
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}`, token: member.token })).statusCode).toBe(200);
    const del = await ctx.req({ method: 'DELETE', url: `/v1/orgs/${org.id}/members/${m.id}`, token: owner.token });
    expect(del.statusCode, del.body).toBe(204);
    expect((await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}`, token: member.token })).statusCode).toBe(404);
  });
});

describe('session refresh (BetterAuth updateAge)', () => {
  it('extends a session once a day has passed since it was last extended, and renews the cookie', async () => {
    const u = await ctx.newUser();
    const s = await signInWithCookies(u.email);
    const fresh = (await sessionExpiry(s.token))!;
    expect(Math.abs(fresh.getTime() - (Date.now() + 30 * DAY))).toBeLessThan(60_000);

    // Less than a day old: nothing changes, no cookie.
    const notYet = new Date(Date.now() + 29 * DAY + 60 * 60 * 1000);
    await setSessionExpiry(s.token, notYet);
    const quiet = await me({ cookie: s.cookie });
    expect(quiet.statusCode).toBe(200);
    expect(quiet.headers['set-cookie']).toBeUndefined();
    expect((await sessionExpiry(s.token))!.getTime()).toBe(notYet.getTime());

    // Two days old: extended to 30 days from now, and the browser gets a renewed cookie.
    await setSessionExpiry(s.token, new Date(Date.now() + 28 * DAY));
    const renewed = await me({ cookie: s.cookie });
    expect(renewed.statusCode).toBe(200);
    const setCookie = String(renewed.headers['set-cookie']);
    expect(setCookie).toBe(`${COOKIE}=${s.sessionCookie}; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax`);
    expect(Math.abs((await sessionExpiry(s.token))!.getTime() - (Date.now() + 30 * DAY))).toBeLessThan(60_000);

    // A bearer session is extended too; its token does not change, so no cookie is sent.
    await setSessionExpiry(s.token, new Date(Date.now() + 28 * DAY));
    const byBearer = await me({ authorization: `Bearer ${s.token}` });
    expect(byBearer.statusCode).toBe(200);
    expect(byBearer.headers['set-cookie']).toBeUndefined();
    expect(Math.abs((await sessionExpiry(s.token))!.getTime() - (Date.now() + 30 * DAY))).toBeLessThan(60_000);
  });

  it('matches BetterAuth: same expiry after a refresh by either path', async () => {
    const u = await ctx.newUser();
    const ours = await signInWithCookies(u.email);
    const theirs = await signInWithCookies(u.email);
    const old = new Date(Date.now() + 27 * DAY);
    await setSessionExpiry(ours.token, old);
    await setSessionExpiry(theirs.token, old);
    await me({ cookie: ours.cookie });
    await ctx.services.auth.api.getSession({ headers: new Headers({ cookie: theirs.cookie }) });
    const a = (await sessionExpiry(ours.token))!.getTime();
    const b = (await sessionExpiry(theirs.token))!.getTime();
    expect(a).toBeGreaterThan(old.getTime());
    expect(Math.abs(a - b)).toBeLessThan(5_000);
  });

  it('never extends the session of someone who chose not to be remembered', async () => {
    const u = await ctx.newUser();
    const s = await signInWithCookies(u.email, false);
    expect(s.cookie).toContain('fanfare.dont_remember=');
    const expiry = (await sessionExpiry(s.token))!;
    // BetterAuth gives such a session one day.
    expect(Math.abs(expiry.getTime() - (Date.now() + DAY))).toBeLessThan(60_000);
    const res = await me({ cookie: s.cookie });
    expect(res.statusCode).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await sessionExpiry(s.token))!.getTime()).toBe(expiry.getTime());
  });
});

describe('behind https', () => {
  it('reads the __Secure- cookie and renews it with Secure', async () => {
    const secure = await createTestContext({ PUBLIC_URL: 'https://fanfare.example' });
    try {
      const u = await secure.newUser();
      const res = await secure.req({ method: 'POST', url: '/v1/auth/sign-in', payload: { email: u.email, password: PASSWORD } });
      const set = String(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0]);
      expect(set).toMatch(/^__Secure-fanfare\.session_token=/);
      const cookie = set.split(';')[0]!;
      const token = res.json<{ token: string }>().token;
      expect((await secure.req({ method: 'GET', url: '/v1/me', headers: { cookie } })).statusCode).toBe(200);
      // The plain name is not the session cookie here.
      expect((await secure.req({ method: 'GET', url: '/v1/me', headers: { cookie: cookie.replace('__Secure-', '') } })).statusCode).toBe(401);
      await secure.database.raw.query('update sessions set expires_at = $2 where token = $1', [token, new Date(Date.now() + 28 * DAY)]);
      const renewed = await secure.req({ method: 'GET', url: '/v1/me', headers: { cookie } });
      expect(String(renewed.headers['set-cookie'])).toBe(`${cookie}; Max-Age=2592000; Path=/; HttpOnly; Secure; SameSite=Lax`);
    } finally {
      await secure.close();
    }
  });
});
