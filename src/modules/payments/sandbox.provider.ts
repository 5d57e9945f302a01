import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import type { Db } from '../../db/client.ts';
import { sandboxEvents, sandboxPaymentIntents } from './payments.schema.ts';
import { WebhookSignatureError, type CreateIntentInput, type IntentResult, type PaymentProvider, type ProviderEvent, type RefundResult } from './provider.ts';

export const SANDBOX_SIGNATURE_HEADER = 'fanfare-sandbox-signature';
const TOLERANCE_SECONDS = 300;

/** Stripe's test payment methods, and what the sandbox does with each. */
export const sandboxPaymentMethods: Record<string, { outcome: 'succeed' | 'decline' | 'authenticate'; reason?: string }> = {
  pm_card_visa: { outcome: 'succeed' },
  pm_card_mastercard: { outcome: 'succeed' },
  pm_paypal: { outcome: 'succeed' },
  pm_card_chargeDeclined: { outcome: 'decline', reason: 'Your card was declined.' },
  pm_card_insufficientFunds: { outcome: 'decline', reason: 'Your card has insufficient funds.' },
  pm_card_authenticationRequired: { outcome: 'authenticate' },
  pm_card_threeDSecure2Required: { outcome: 'authenticate' },
};

const rid = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

export function signSandboxPayload(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

type Intent = typeof sandboxPaymentIntents.$inferSelect;

const intentObject = (i: Intent) => ({
  id: i.id,
  object: 'payment_intent',
  amount: i.amount,
  amount_received: i.status === 'succeeded' ? i.amount : 0,
  currency: i.currency.toLowerCase(),
  status: i.status,
  payment_method: i.paymentMethod,
  metadata: i.metadata,
  last_payment_error: i.lastError ? { message: i.lastError } : null,
});

/**
 * A payment provider inside Fanfare that behaves like Stripe: payment intents whose outcome
 * follows Stripe's test payment methods, 3-D Secure through an authenticate step, refunds, and
 * events signed like Stripe's (`t=…,v1=HMAC-SHA256`) delivered over HTTP to our webhook endpoint
 * by a job that retries until the endpoint answers 2xx.
 */
export class SandboxProvider implements PaymentProvider {
  readonly name = 'sandbox' as const;
  /** Where events go; tests that listen on a random port point it at themselves. */
  webhookUrl: string;

  constructor(
    private readonly deps: { db: Db; jobs: JobQueue; log: Logger; secret: string; publicUrl: string },
  ) {
    this.webhookUrl = `${deps.publicUrl}/v1/webhooks/sandbox`;
    deps.jobs.register('payments.sandbox-deliver', async ({ eventId }) => this.deliver(eventId));
  }

  async createIntent(input: CreateIntentInput): Promise<IntentResult> {
    const behaviour = sandboxPaymentMethods[input.paymentMethod];
    if (!behaviour) {
      throw new AppError('bad_request', `Unknown payment method ${input.paymentMethod}; the sandbox knows ${Object.keys(sandboxPaymentMethods).join(', ')}`, {
        fields: [{ path: 'body.paymentMethod', message: 'unknown payment method' }],
      });
    }
    const status = behaviour.outcome === 'succeed' ? 'succeeded' : behaviour.outcome === 'decline' ? 'requires_payment_method' : 'requires_action';
    const [intent] = await this.deps.db
      .insert(sandboxPaymentIntents)
      .values({
        id: rid('pi_sbx'),
        amount: input.amount,
        currency: input.currency,
        status,
        paymentMethod: input.paymentMethod,
        clientSecret: rid('secret'),
        lastError: behaviour.reason ?? null,
        metadata: input.metadata,
      })
      .returning();
    const type = status === 'succeeded' ? 'payment_intent.succeeded' : status === 'requires_action' ? 'payment_intent.requires_action' : 'payment_intent.payment_failed';
    await this.emit(type, intentObject(intent!));
    return this.toResult(intent!);
  }

  /** The customer's 3-D Secure step: completes or fails an intent that requires action. */
  async authenticate(intentId: string, outcome: 'succeed' | 'fail'): Promise<IntentResult> {
    const [intent] = await this.deps.db
      .update(sandboxPaymentIntents)
      .set(outcome === 'succeed' ? { status: 'succeeded', lastError: null } : { status: 'requires_payment_method', lastError: 'Authentication failed.' })
      .where(sql`${sandboxPaymentIntents.id} = ${intentId} and ${sandboxPaymentIntents.status} = 'requires_action'`)
      .returning();
    if (!intent) throw new AppError('conflict', 'This payment does not await authentication', { code: 'not_requires_action' });
    await this.emit(outcome === 'succeed' ? 'payment_intent.succeeded' : 'payment_intent.payment_failed', intentObject(intent));
    return this.toResult(intent);
  }

  async refund(input: { intentId: string; amount: number; idempotencyKey: string; metadata: Record<string, string> }): Promise<RefundResult> {
    const [intent] = await this.deps.db
      .update(sandboxPaymentIntents)
      .set({ amountRefunded: sql`${sandboxPaymentIntents.amountRefunded} + ${input.amount}` })
      .where(
        sql`${sandboxPaymentIntents.id} = ${input.intentId} and ${sandboxPaymentIntents.status} = 'succeeded' and ${sandboxPaymentIntents.amountRefunded} + ${input.amount} <= ${sandboxPaymentIntents.amount}`,
      )
      .returning();
    if (!intent) throw new AppError('unprocessable', 'The provider refused the refund: nothing left to refund on this payment', { code: 'provider_refund_refused' });
    const refund = { id: rid('re_sbx'), object: 'refund', amount: input.amount, currency: intent.currency.toLowerCase(), payment_intent: intent.id, status: 'succeeded', metadata: input.metadata };
    await this.emit('refund.updated', refund);
    return { id: refund.id, status: 'succeeded', raw: refund };
  }

  /** Like Stripe: an intent not yet succeeded (or already canceled) is canceled; a succeeded one is answered as is. */
  async cancel(input: { intentId: string; idempotencyKey: string }): Promise<IntentResult> {
    const [intent] = await this.deps.db
      .update(sandboxPaymentIntents)
      .set({ status: 'canceled' })
      .where(
        sql`${sandboxPaymentIntents.id} = ${input.intentId} and ${sandboxPaymentIntents.status} in ('requires_payment_method', 'requires_action', 'processing')`,
      )
      .returning();
    if (intent) {
      await this.emit('payment_intent.canceled', intentObject(intent));
      return this.toResult(intent);
    }
    const [current] = await this.deps.db.select().from(sandboxPaymentIntents).where(eq(sandboxPaymentIntents.id, input.intentId));
    if (!current) throw new AppError('not_found', `No such payment intent ${input.intentId}`);
    return this.toResult(current);
  }

  verifyWebhook(rawBody: string, headers: Record<string, string | string[] | undefined>): ProviderEvent {
    const header = headers[SANDBOX_SIGNATURE_HEADER];
    const value = Array.isArray(header) ? header[0] : header;
    if (!value) throw new WebhookSignatureError(`Missing ${SANDBOX_SIGNATURE_HEADER} header`);
    const parts = Object.fromEntries(value.split(',').map((p) => p.split('=', 2) as [string, string]));
    const t = Number(parts.t);
    if (!Number.isInteger(t) || !parts.v1) throw new WebhookSignatureError('Malformed signature header');
    if (Math.abs(Date.now() / 1000 - t) > TOLERANCE_SECONDS) throw new WebhookSignatureError('Signature timestamp outside the tolerance');
    const expected = Buffer.from(signSandboxPayload(this.deps.secret, rawBody, t).split('v1=')[1]!, 'hex');
    const given = Buffer.from(parts.v1, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new WebhookSignatureError('Signature does not match');
    return normaliseStripeShapedEvent(JSON.parse(rawBody) as Record<string, unknown>);
  }

  private toResult(i: Intent): IntentResult {
    return {
      id: i.id,
      status: i.status as IntentResult['status'],
      clientSecret: i.clientSecret,
      nextActionUrl: i.status === 'requires_action' ? `${this.deps.publicUrl}/v1/sandbox/payment-intents/${i.id}/authenticate` : null,
      failureReason: i.lastError,
      raw: intentObject(i),
    };
  }

  private async emit(type: string, object: Record<string, unknown>): Promise<void> {
    const id = rid('evt_sbx');
    const payload = { id, object: 'event', type, created: Math.floor(Date.now() / 1000), livemode: false, data: { object } };
    await this.deps.db.insert(sandboxEvents).values({ id, type, payload });
    await this.deps.jobs.send('payments.sandbox-deliver', { eventId: id }, { key: id, retryLimit: 10 });
  }

  /** The delivery job: POSTs the signed event; anything but 2xx throws so the queue retries. */
  async deliver(eventId: string): Promise<void> {
    const [event] = await this.deps.db.select().from(sandboxEvents).where(eq(sandboxEvents.id, eventId));
    if (!event || event.deliveredAt) return;
    const body = JSON.stringify(event.payload);
    let status = 0;
    let error: string | null = null;
    try {
      const res = await fetch(this.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(this.deps.secret, body) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      if (!res.ok) error = `HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`;
    } catch (err) {
      error = err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ""}` : String(err);
    }
    await this.deps.db
      .update(sandboxEvents)
      .set({ attempts: sql`${sandboxEvents.attempts} + 1`, lastStatus: status || null, lastError: error, ...(error ? {} : { deliveredAt: sql`now()` }) })
      .where(eq(sandboxEvents.id, eventId));
    if (error) throw new Error(`webhook ${eventId} not delivered: ${error}`);
  }
}

/** Stripe's event shape (which the sandbox copies) to a provider event. */
export function normaliseStripeShapedEvent(e: Record<string, unknown>): ProviderEvent {
  const type = String(e.type);
  const obj = (e.data as { object?: Record<string, unknown> } | undefined)?.object ?? {};
  const metadata = (obj.metadata ?? {}) as Record<string, string>;
  const base = {
    id: String(e.id),
    type,
    amount: typeof obj.amount === 'number' ? obj.amount : null,
    currency: typeof obj.currency === 'string' ? obj.currency.toUpperCase() : null,
    metadata,
    payload: e,
  };
  const isRefund = obj.object === 'refund';
  const intentId = isRefund ? ((obj.payment_intent as string | null) ?? null) : obj.object === 'payment_intent' ? String(obj.id) : null;
  const refundId = isRefund ? String(obj.id) : null;
  const failureReason = ((obj.last_payment_error as { message?: string } | null)?.message ?? null) || null;
  const kindByType: Record<string, ProviderEvent['kind']> = {
    'payment_intent.succeeded': 'payment.succeeded',
    'payment_intent.payment_failed': 'payment.failed',
    'payment_intent.requires_action': 'payment.requires_action',
    'payment_intent.canceled': 'payment.canceled',
  };
  let kind: ProviderEvent['kind'] = kindByType[type] ?? 'ignored';
  if (isRefund) kind = obj.status === 'succeeded' ? 'refund.succeeded' : obj.status === 'failed' ? 'refund.failed' : 'ignored';
  return { ...base, kind, intentId, refundId, failureReason };
}
