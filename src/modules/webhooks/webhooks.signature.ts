import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signing of webhooks to partner platforms, Stripe's way: the `Fanfare-Signature` header is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp is signed with
 * the body, so a captured request cannot be replayed later than the verifier's tolerance.
 * The secret is the whole `whsec_…` string as shown to the platform's managers.
 */
export const SIGNATURE_HEADER = 'fanfare-signature';
export const EVENT_ID_HEADER = 'fanfare-event-id';
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** How old a signature a verifier accepts by default (and the docs recommend). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export const newWebhookSecret = (): string =>
  `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;

const hmac = (secret: string, timestamp: number, body: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');

/** The header value for `body` signed at `timestamp` (unix seconds). */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

export type VerifyResult =
  { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'bad_signature' | 'too_old' };

/**
 * Checks a received webhook: `body` is the raw request body exactly as received (not re-serialised
 * JSON), `header` the Fanfare-Signature value. Refuses a signature that does not match any v1
 * entry, and one whose timestamp is further than `toleranceSeconds` from `nowSeconds`.
 */
export function verifyWebhookSignature(input: {
  body: string;
  header: string | null | undefined;
  secret: string;
  toleranceSeconds?: number;
  nowSeconds?: number;
}): VerifyResult {
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of (input.header ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) timestamp = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) signatures.push(v);
  }
  if (timestamp === undefined || !signatures.length) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(hmac(input.secret, timestamp, input.body), 'hex');
  const match = signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
  if (!match) return { ok: false, reason: 'bad_signature' };
  if (Math.abs(now - timestamp) > tolerance) return { ok: false, reason: 'too_old' };
  return { ok: true, timestamp };
}
