import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../core/errors.ts';
import { WebhookSignatureError } from './provider.ts';
import { createStripeProvider, StripeProvider } from './stripe.provider.ts';

const SECRET_KEY = 'sk_test_51QxYyLLkdIwHu7ixFanfareTestKey';
const WEBHOOK_SECRET = 'whsec_3b1f9a6c2d8e4f7a0b5c9d1e6f2a8b4c';
const PAYMENT_ID = '01970f3e-8c1a-7b2e-9d4f-3a5b6c7d8e9f';

const fixtures = path.resolve(import.meta.dirname, '../../../test/fixtures/stripe');
/** A recorded payload exactly as stored (webhooks are signed over the raw text). */
const raw = (name: string) => readFileSync(path.join(fixtures, name), 'utf8');
// Fixtures are free-form JSON.
const json = (name: string) => JSON.parse(raw(name));

// Stripe's own signing helper, not ours: the signature is what Stripe itself would send.
const signer = new Stripe('sk_test_signer');
const sign = (payload: string, opts: { secret?: string; timestamp?: number } = {}) =>
  signer.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WEBHOOK_SECRET, ...(opts.timestamp ? { timestamp: opts.timestamp } : {}) });

describe('StripeProvider.verifyWebhook', () => {
  const provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET });
  const verify = (payload: string, header: string | string[] | undefined = sign(payload)) => provider.verifyWebhook(payload, { 'stripe-signature': header });

  it('normalises payment_intent.succeeded', () => {
    const payload = raw('payment_intent.succeeded.json');
    const event = verify(payload);
    expect(event).toEqual({
      id: 'evt_3QxYz3LkdIwHu7ix1kLmNoPq',
      type: 'payment_intent.succeeded',
      kind: 'payment.succeeded',
      intentId: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg',
      refundId: null,
      amount: 2500,
      currency: 'USD',
      metadata: { payment_id: PAYMENT_ID, org_id: '01970f3e-0000-7000-8000-000000000001' },
      failureReason: null,
      payload: JSON.parse(payload),
    });
  });

  it('normalises payment_intent.payment_failed with the decline message', () => {
    const event = verify(raw('payment_intent.payment_failed.json'));
    expect(event).toMatchObject({
      kind: 'payment.failed',
      intentId: 'pi_3QyA1bLkdIwHu7ix0aXbYcZd',
      amount: 1999,
      currency: 'EUR',
      metadata: { payment_id: PAYMENT_ID },
      failureReason: 'Your card has insufficient funds.',
      refundId: null,
    });
  });

  it('normalises the other payment intent events', () => {
    const base = json('payment_intent.succeeded.json');
    const as = (type: string, status: string) => JSON.stringify({ ...base, type, data: { object: { ...base.data.object, status } } });
    expect(verify(as('payment_intent.requires_action', 'requires_action'))).toMatchObject({ kind: 'payment.requires_action', intentId: base.data.object.id, failureReason: null });
    expect(verify(as('payment_intent.canceled', 'canceled'))).toMatchObject({ kind: 'payment.canceled', intentId: base.data.object.id });
    expect(verify(as('payment_intent.created', 'requires_payment_method'))).toMatchObject({ kind: 'ignored', intentId: null });
  });

  it('normalises refund events by the refund status', () => {
    const event = verify(raw('charge.refund.updated.json'));
    expect(event).toMatchObject({
      type: 'charge.refund.updated',
      kind: 'refund.succeeded',
      intentId: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg',
      refundId: 're_3QxYz3LkdIwHu7ix1GhJkLmN',
      amount: 1000,
      currency: 'USD',
      metadata: { payment_id: PAYMENT_ID, refund_id: '01970f40-1111-7000-8000-00000000abcd' },
      failureReason: null,
    });
    const base = json('charge.refund.updated.json');
    const as = (type: string, refund: Record<string, unknown>) => JSON.stringify({ ...base, type, data: { object: { ...base.data.object, ...refund } } });
    expect(verify(as('refund.updated', { status: 'failed', failure_reason: 'expired_or_canceled_card' }))).toMatchObject({
      kind: 'refund.failed',
      refundId: 're_3QxYz3LkdIwHu7ix1GhJkLmN',
      intentId: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg',
      failureReason: 'expired_or_canceled_card',
    });
    expect(verify(as('refund.created', { status: 'succeeded' }))).toMatchObject({ kind: 'refund.succeeded', refundId: 're_3QxYz3LkdIwHu7ix1GhJkLmN' });
    // Still pending: nothing to do yet.
    expect(verify(as('refund.created', { status: 'pending' }))).toMatchObject({ kind: 'ignored', refundId: 're_3QxYz3LkdIwHu7ix1GhJkLmN' });
  });

  it('ignores other event types but still verifies them', () => {
    const payload = raw('customer.created.json');
    expect(verify(payload)).toEqual({
      id: 'evt_1QxYyzLkdIwHu7ixAbCdEfGh',
      type: 'customer.created',
      kind: 'ignored',
      intentId: null,
      refundId: null,
      amount: null,
      currency: null,
      metadata: {},
      failureReason: null,
      payload: JSON.parse(payload),
    });
    expect(() => verify(payload, sign(payload, { secret: 'whsec_other' }))).toThrow(WebhookSignatureError);
  });

  it('refuses a tampered body', () => {
    const payload = raw('payment_intent.succeeded.json');
    const header = sign(payload);
    const tampered = payload.replace('"amount": 2500', '"amount": 250000');
    expect(tampered).not.toBe(payload);
    expect(() => verify(tampered, header)).toThrow(WebhookSignatureError);
    // Even whitespace counts: the signature is over the raw bytes, not the JSON.
    expect(() => verify(JSON.stringify(JSON.parse(payload)), header)).toThrow(WebhookSignatureError);
    expect(verify(payload, header).kind).toBe('payment.succeeded');
  });

  it('refuses a signature made with another secret', () => {
    const payload = raw('payment_intent.succeeded.json');
    expect(() => verify(payload, sign(payload, { secret: 'whsec_not_ours_0123456789' }))).toThrow(WebhookSignatureError);
  });

  it('refuses a signature outside the tolerance (replays)', () => {
    const payload = raw('payment_intent.succeeded.json');
    const now = Math.floor(Date.now() / 1000);
    expect(() => verify(payload, sign(payload, { timestamp: now - 301 }))).toThrow(WebhookSignatureError);
    expect(() => verify(payload, sign(payload, { timestamp: now - 3600 }))).toThrow(/tolerance/i);
    // Inside the five minutes it is accepted.
    expect(verify(payload, sign(payload, { timestamp: now - 120 })).kind).toBe('payment.succeeded');
  });

  it('refuses a missing, malformed or repeated header', () => {
    const payload = raw('payment_intent.succeeded.json');
    expect(() => provider.verifyWebhook(payload, {})).toThrow(WebhookSignatureError);
    expect(() => verify(payload, '')).toThrow(WebhookSignatureError);
    expect(() => verify(payload, 'not-a-signature')).toThrow(WebhookSignatureError);
    expect(() => verify(payload, [sign(payload), sign(payload)])).toThrow(WebhookSignatureError);
    // The header name is matched whatever its case.
    expect(provider.verifyWebhook(payload, { 'Stripe-Signature': sign(payload) }).kind).toBe('payment.succeeded');
  });
});

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}

/** A local stand-in for api.stripe.com: records each request and answers the next queued reply. */
function fakeStripe() {
  const requests: Recorded[] = [];
  const replies: { status: number; body: unknown }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
      const reply = replies.shift() ?? { status: 500, body: { error: { type: 'api_error', message: 'no reply queued' } } };
      res.writeHead(reply.status, { 'content-type': 'application/json', 'request-id': `req_fake${requests.length}` });
      res.end(JSON.stringify(reply.body));
    });
  });
  return {
    requests,
    reply: (status: number, body: unknown) => replies.push({ status, body }),
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('StripeProvider against a fake Stripe API', () => {
  const stripe = fakeStripe();
  let provider: StripeProvider;
  let apiBase: { host: string; port: number; protocol: 'http' };

  beforeAll(async () => {
    apiBase = { host: '127.0.0.1', port: await stripe.listen(), protocol: 'http' };
    provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiBase, maxNetworkRetries: 0 });
  });
  afterAll(() => stripe.close());
  beforeEach(() => {
    stripe.requests.length = 0;
  });

  const intentInput = {
    amount: 2500,
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    metadata: { payment_id: PAYMENT_ID, org_id: '01970f3e-0000-7000-8000-000000000001' },
    idempotencyKey: `payment-${PAYMENT_ID}-attempt-1`,
    description: 'Fanfare order 1042',
  };

  it('creates and confirms a payment intent', async () => {
    stripe.reply(200, json('api/payment_intent.succeeded.json'));
    const result = await provider.createIntent(intentInput);
    expect(result).toMatchObject({
      id: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg',
      status: 'succeeded',
      clientSecret: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg_secret_Xq3bR7tLmN0pK2vW8yZ4cD6fH',
      nextActionUrl: null,
      failureReason: null,
    });
    expect(result.raw).toMatchObject({ object: 'payment_intent', latest_charge: 'ch_3QxYz3LkdIwHu7ix1TqWe2Rt' });

    expect(stripe.requests).toHaveLength(1);
    const req = stripe.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/payment_intents');
    expect(req.headers.authorization).toBe(`Bearer ${SECRET_KEY}`);
    expect(req.headers['idempotency-key']).toBe(`payment-${PAYMENT_ID}-attempt-1`);
    expect(req.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(Object.fromEntries(req.form)).toEqual({
      amount: '2500',
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: 'true',
      'metadata[payment_id]': PAYMENT_ID,
      'metadata[org_id]': '01970f3e-0000-7000-8000-000000000001',
      description: 'Fanfare order 1042',
      'automatic_payment_methods[enabled]': 'true',
      'automatic_payment_methods[allow_redirects]': 'never',
    });
  });

  it('passes the return URL and maps a 3-D Secure redirect', async () => {
    const withReturn = createStripeProvider(
      { payments: { provider: 'stripe', stripe: { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET } } },
      { apiBase, maxNetworkRetries: 0, returnUrl: 'https://shop.example.com/payments/return' },
    );
    stripe.reply(200, json('api/payment_intent.requires_action.json'));
    const result = await withReturn.createIntent({ ...intentInput, amount: 5000, paymentMethod: 'pm_card_threeDSecure2Required', description: undefined });
    expect(result).toMatchObject({
      id: 'pi_3QyB2cLkdIwHu7ix2aAbBcCd',
      status: 'requires_action',
      failureReason: null,
    });
    expect(result.nextActionUrl).toMatch(/^https:\/\/hooks\.stripe\.com\/3d_secure_2\/hosted\?/);
    const form = stripe.requests[0]!.form;
    expect(form.get('return_url')).toBe('https://shop.example.com/payments/return');
    expect(form.get('automatic_payment_methods[enabled]')).toBe('true');
    expect(form.has('automatic_payment_methods[allow_redirects]')).toBe(false);
    expect(form.has('description')).toBe(false);
    expect(form.get('amount')).toBe('5000');
  });

  it('maps a card decline (HTTP 402) to requires_payment_method with the reason', async () => {
    stripe.reply(402, json('api/error.card_declined.json'));
    const result = await provider.createIntent({ ...intentInput, paymentMethod: 'pm_card_visa_chargeDeclinedInsufficientFunds' });
    expect(result).toMatchObject({
      id: 'pi_3QyA1bLkdIwHu7ix0aXbYcZd',
      status: 'requires_payment_method',
      nextActionUrl: null,
      failureReason: 'Your card has insufficient funds.',
    });
    expect(stripe.requests).toHaveLength(1);
    expect(stripe.requests[0]!.form.get('payment_method')).toBe('pm_card_visa_chargeDeclinedInsufficientFunds');
  });

  it('turns other Stripe errors into AppErrors', async () => {
    stripe.reply(400, { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_method', message: "No such PaymentMethod: 'pm_nope'" } });
    const bad = await provider.createIntent({ ...intentInput, paymentMethod: 'pm_nope' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(AppError);
    expect(bad).toMatchObject({ kind: 'unprocessable', details: { code: 'resource_missing' } });

    stripe.reply(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****Key' } });
    const auth = await provider.createIntent(intentInput).catch((e: unknown) => e);
    expect(auth).toMatchObject({ kind: 'unavailable' });
    expect((auth as Error).message).not.toContain('sk_test');
  });

  it('creates a refund with its idempotency key', async () => {
    stripe.reply(200, json('api/refund.pending.json'));
    const result = await provider.refund({
      intentId: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg',
      amount: 1000,
      idempotencyKey: 'refund-01970f40-1111-7000-8000-00000000abcd',
      metadata: { payment_id: PAYMENT_ID, refund_id: '01970f40-1111-7000-8000-00000000abcd' },
    });
    expect(result).toMatchObject({ id: 're_3QxYz3LkdIwHu7ix1GhJkLmN', status: 'pending' });
    expect(result.raw).toMatchObject({ object: 'refund', payment_intent: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg' });

    const req = stripe.requests[0]!;
    expect(req.url).toBe('/v1/refunds');
    expect(req.headers.authorization).toBe(`Bearer ${SECRET_KEY}`);
    expect(req.headers['idempotency-key']).toBe('refund-01970f40-1111-7000-8000-00000000abcd');
    expect(Object.fromEntries(req.form)).toEqual({
      payment_intent: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg',
      amount: '1000',
      'metadata[payment_id]': PAYMENT_ID,
      'metadata[refund_id]': '01970f40-1111-7000-8000-00000000abcd',
    });
  });

  it('cancels an intent, and answers a succeeded one as it is when it is too late', async () => {
    const succeeded = json('api/payment_intent.requires_action.json') as Record<string, unknown>;
    stripe.reply(200, { ...succeeded, status: 'canceled' });
    const canceled = await provider.cancel({ intentId: 'pi_3QyB2cLkdIwHu7ix2aAbBcCd', idempotencyKey: 'cancel-1' });
    expect(canceled.status).toBe('canceled');
    expect(stripe.requests[0]).toMatchObject({ method: 'POST', url: '/v1/payment_intents/pi_3QyB2cLkdIwHu7ix2aAbBcCd/cancel' });
    expect(stripe.requests[0]!.headers['idempotency-key']).toBe('cancel-1');
    expect(stripe.requests[0]!.form.get('cancellation_reason')).toBe('abandoned');
    stripe.reply(400, {
      error: { type: 'invalid_request_error', code: 'payment_intent_unexpected_state', message: 'You cannot cancel this PaymentIntent because it has a status of succeeded.' },
    });
    stripe.reply(200, json('api/payment_intent.succeeded.json'));
    const late = await provider.cancel({ intentId: 'pi_3QxYz3LkdIwHu7ix1aBcDeFg', idempotencyKey: 'cancel-2' });
    expect(late.status).toBe('succeeded');
    expect(stripe.requests[2]).toMatchObject({ method: 'GET', url: '/v1/payment_intents/pi_3QxYz3LkdIwHu7ix1aBcDeFg' });
  });

  it('maps refund statuses', async () => {
    const refund = json('api/refund.pending.json');
    const statuses: [string, string][] = [
      ['succeeded', 'succeeded'],
      ['failed', 'failed'],
      ['canceled', 'failed'],
      ['requires_action', 'pending'],
      ['pending', 'pending'],
    ];
    for (const [stripeStatus, ours] of statuses) {
      stripe.reply(200, { ...refund, status: stripeStatus });
      const result = await provider.refund({ intentId: 'pi_x', amount: 1, idempotencyKey: `k-${stripeStatus}`, metadata: {} });
      expect(result.status, stripeStatus).toBe(ours);
    }
  });
});

describe('createStripeProvider', () => {
  it('needs the Stripe secrets', () => {
    expect(() => createStripeProvider({ payments: { provider: 'sandbox' } })).toThrow(/STRIPE_SECRET_KEY/);
    expect(createStripeProvider({ payments: { provider: 'stripe', stripe: { secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET } } }).name).toBe('stripe');
  });
});
