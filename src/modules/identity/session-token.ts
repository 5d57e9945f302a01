import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The session token a request carries, read exactly as BetterAuth 1.7 reads it, without going
 * through its endpoint machinery (which costs more than the query). The rules, from
 * better-auth/dist/plugins/bearer and better-call's getSignedCookie:
 *
 * - The session cookie holds `<token>.<signature>`, URI-encoded, where the signature is the
 *   standard base64 (44 characters with padding) of HMAC-SHA256(secret, token). The first cookie
 *   of that name counts; an unsigned or wrongly signed cookie is no session.
 * - `Authorization: Bearer <t>`: without a dot, `t` is the raw token (BetterAuth signs it itself,
 *   so any raw token is looked up). With a dot, `t` is the signed cookie value (URI-decoded when it
 *   holds `%`) and must verify. A bearer that does not verify is ignored and the cookie, if any,
 *   is read instead; a bearer that verifies replaces the cookie.
 * - The `dont_remember` cookie, signed the same way, means the session is never extended.
 *
 * One deliberate difference: a signed bearer with more than one dot is refused. BetterAuth
 * checks such a value twice against different splits, which only a value signed twice by the
 * secret holder could pass, and it never issues one.
 */

export interface SessionCookieNames {
  sessionToken: string;
  dontRemember: string;
}

export interface RequestCredentials {
  cookie?: string | undefined;
  authorization?: string | undefined;
}

export interface PresentedSession {
  token: string;
  source: 'bearer' | 'cookie';
  /** A valid dont_remember cookie: the session must not be refreshed. */
  dontRemember: boolean;
}

const SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;

const tryDecode = (s: string): string => {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** better-call's parseCookies, for the names we need: first occurrence wins, quotes stripped, URI-decoded. */
export function readCookie(header: string, name: string): string | undefined {
  let index = 0;
  while (index < header.length) {
    const eq = header.indexOf('=', index);
    if (eq === -1) break;
    let end = header.indexOf(';', index);
    if (end === -1) end = header.length;
    else if (end < eq) {
      index = header.lastIndexOf(';', eq - 1) + 1;
      continue;
    }
    if (header.slice(index, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.codePointAt(0) === 34) value = value.slice(1, -1);
      return tryDecode(value);
    }
    index = end + 1;
  }
  return undefined;
}

const hmac = (secret: string, value: string): Buffer => createHmac('sha256', secret).update(value).digest();

/** The value of a signed cookie when its signature is right, else null. */
export function unsign(signed: string, secret: string): string | null {
  const dot = signed.lastIndexOf('.');
  if (dot < 1) return null;
  const value = signed.slice(0, dot);
  const signature = signed.slice(dot + 1);
  if (!SIGNATURE.test(signature)) return null;
  const given = Buffer.from(signature, 'base64');
  const expected = hmac(secret, value);
  return given.length === expected.length && timingSafeEqual(given, expected) ? value : null;
}

/** `<value>.<signature>` as BetterAuth writes it into a cookie (before URI-encoding). */
export const sign = (value: string, secret: string): string => `${value}.${hmac(secret, value).toString('base64')}`;

export function presentedSession(credentials: RequestCredentials, names: SessionCookieNames, secret: string): PresentedSession | null {
  const cookieHeader = credentials.cookie ?? '';
  const dontRememberCookie = cookieHeader ? readCookie(cookieHeader, names.dontRemember) : undefined;
  const dontRemember = dontRememberCookie !== undefined && unsign(dontRememberCookie, secret) !== null;

  const authz = credentials.authorization;
  if (authz && authz.slice(0, 7).toLowerCase() === 'bearer ') {
    const given = authz.slice(7).trim();
    if (given) {
      if (!given.includes('.')) return { token: given, source: 'bearer', dontRemember };
      const decoded = given.includes('%') ? tryDecode(given) : given;
      const token = decoded.indexOf('.') === decoded.lastIndexOf('.') ? unsign(decoded, secret) : null;
      if (token !== null) return { token, source: 'bearer', dontRemember };
      // BetterAuth leaves the request's cookie in place when the bearer does not verify.
    }
  }
  if (!cookieHeader) return null;
  const cookie = readCookie(cookieHeader, names.sessionToken);
  if (!cookie) return null;
  const token = unsign(cookie, secret);
  return token === null ? null : { token, source: 'cookie', dontRemember };
}
