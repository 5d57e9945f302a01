import Stripe from 'stripe';
import type { Config } from '../../config.ts';
import { AppError } from '../../core/errors.ts';
import {
  WebhookSignatureError,
  type CreateIntentInput,
  type IntentResult,
  type IntentStatus,
  type PaymentProvider,
  type ProviderEvent,
  type RefundResult,
} from './provider.ts';

export interface StripeProviderOptions {
  secretKey: string;
  webhookSecret: string;
  /** Another API address, e.g. a local fake Stripe in tests. Defaults to https://api.stripe.com. */
  apiBase?: { host: string; port: number | string; protocol: 'http' | 'https' };
  /**
   * Where Stripe sends the customer back after a redirect-based step (3-D Secure). With it, a
   * card needing authentication answers `next_action.redirect_to_url`; without it, redirecting
   * payment methods are refused (`allow_redirects: 'never'`).
   */
  returnUrl?: string;
  /** Request timeout in milliseconds. */
  timeoutMs?: number;
  /** Retries of failed connections and 5xx answers; safe because every call has an idempotency key. */
  maxNetworkRetries?: number;
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * The Stripe adapter. Amounts are minor units on both sides; Stripe wants lowercase currencies,
 * Fanfare stores uppercase. A card decline is an answer (status requires_payment_method with a
 * reason), not an error; the other Stripe failures become AppErrors.
 */
export class StripeProvider implements PaymentProvider {
  readonly name = 'stripe' as const;
  private readonly stripe: Stripe;
  private readonly webhookSecret: string;
  private readonly returnUrl: string | undefined;

  constructor(options: StripeProviderOptions) {
    this.stripe = new Stripe(options.secretKey, {
      maxNetworkRetries: options.maxNetworkRetries ?? 2,
      timeout: options.timeoutMs ?? 30_000,
      appInfo: { name: 'Fanfare' },
      ...(options.apiBase ? { host: options.apiBase.host, port: options.apiBase.port, protocol: options.apiBase.protocol } : {}),
    });
    this.webhookSecret = options.webhookSecret;
    this.returnUrl = options.returnUrl;
  }

  async createIntent(input: CreateIntentInput): Promise<IntentResult> {
    const params: Stripe.PaymentIntentCreateParams = {
      amount: input.amount,
      currency: input.currency.toLowerCase(),
      payment_method: input.paymentMethod,
      confirm: true,
      metadata: input.metadata,
      ...(input.description ? { description: input.description } : {}),
      ...(this.returnUrl
        ? { return_url: this.returnUrl, automatic_payment_methods: { enabled: true } }
        : { automatic_payment_methods: { enabled: true, allow_redirects: 'never' } }),
    };
    try {
      const intent = await this.stripe.paymentIntents.create(params, { idempotencyKey: input.idempotencyKey });
      return intentResult(intent);
    } catch (err) {
      // A decline is HTTP 402 carrying the (now requires_payment_method) intent.
      if (err instanceof Stripe.errors.StripeCardError && err.payment_intent) {
        const result = intentResult(err.payment_intent);
        return { ...result, status: 'requires_payment_method', failureReason: result.failureReason ?? err.message };
      }
      throw providerError(err);
    }
  }

  async refund(input: { intentId: string; amount: number; idempotencyKey: string; metadata: Record<string, string> }): Promise<RefundResult> {
    try {
      const refund = await this.stripe.refunds.create(
        { payment_intent: input.intentId, amount: input.amount, metadata: input.metadata },
        { idempotencyKey: input.idempotencyKey },
      );
      return { id: refund.id, status: refundStatus(refund.status), raw: asRecord(refund) };
    } catch (err) {
      throw providerError(err);
    }
  }

  async cancel(input: { intentId: string; idempotencyKey: string }): Promise<IntentResult> {
    try {
      const intent = await this.stripe.paymentIntents.cancel(input.intentId, { cancellation_reason: 'abandoned' }, { idempotencyKey: input.idempotencyKey });
      return intentResult(intent);
    } catch (err) {
      // Too late (succeeded) or already canceled: Stripe refuses with the intent's state; answer it.
      if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'payment_intent_unexpected_state') {
        try {
          return intentResult(await this.stripe.paymentIntents.retrieve(input.intentId));
        } catch (inner) {
          throw providerError(inner);
        }
      }
      throw providerError(err);
    }
  }

  verifyWebhook(rawBody: string, headers: Headers): ProviderEvent {
    const signature = header(headers, 'stripe-signature');
    if (!signature) throw new WebhookSignatureError('missing Stripe-Signature header');
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(rawBody, signature, this.webhookSecret);
    } catch (err) {
      throw new WebhookSignatureError(err instanceof Error ? err.message : 'invalid Stripe signature');
    }
    return normaliseEvent(event);
  }
}

/** The provider for a loaded configuration (PAYMENT_PROVIDER=stripe guarantees both secrets). */
export function createStripeProvider(
  config: Pick<Config, 'payments'>,
  options: Omit<StripeProviderOptions, 'secretKey' | 'webhookSecret'> = {},
): StripeProvider {
  const stripe = config.payments.stripe;
  if (!stripe) throw new Error('STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are required for the Stripe provider');
  return new StripeProvider({ secretKey: stripe.secretKey, webhookSecret: stripe.webhookSecret, ...options });
}

function intentResult(intent: Stripe.PaymentIntent): IntentResult {
  return {
    id: intent.id,
    status: intentStatus(intent.status),
    clientSecret: intent.client_secret ?? null,
    nextActionUrl: intent.next_action?.redirect_to_url?.url ?? null,
    failureReason: intent.last_payment_error?.message ?? null,
    raw: asRecord(intent),
  };
}

function intentStatus(status: Stripe.PaymentIntent.Status): IntentStatus {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'processing':
      return 'processing';
    case 'requires_action':
      return 'requires_action';
    case 'canceled':
      return 'canceled';
    // We never capture manually; an authorised, uncaptured intent is still on its way.
    case 'requires_capture':
      return 'processing';
    // Only seen when confirmation did not happen; the customer must try again.
    case 'requires_payment_method':
    case 'requires_confirmation':
    default:
      return 'requires_payment_method';
  }
}

function refundStatus(status: string | null): RefundResult['status'] {
  if (status === 'succeeded') return 'succeeded';
  if (status === 'failed' || status === 'canceled') return 'failed';
  // pending, requires_action (the customer must give bank details) and anything new.
  return 'pending';
}

const intentKinds = {
  'payment_intent.succeeded': 'payment.succeeded',
  'payment_intent.payment_failed': 'payment.failed',
  'payment_intent.requires_action': 'payment.requires_action',
  'payment_intent.canceled': 'payment.canceled',
} as const satisfies Partial<Record<Stripe.Event['type'], ProviderEvent['kind']>>;

/** Events carrying a refund; its status says whether it succeeded or failed. */
const refundTypes = ['refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated'] as const satisfies readonly Stripe.Event['type'][];

type IntentEvent = Extract<Stripe.Event, { type: keyof typeof intentKinds }>;
type RefundEvent = Extract<Stripe.Event, { type: (typeof refundTypes)[number] }>;

const isIntentEvent = (event: Stripe.Event): event is IntentEvent => Object.hasOwn(intentKinds, event.type);
const isRefundEvent = (event: Stripe.Event): event is RefundEvent => (refundTypes as readonly string[]).includes(event.type);

function normaliseEvent(event: Stripe.Event): ProviderEvent {
  const base: ProviderEvent = {
    id: event.id,
    type: event.type,
    kind: 'ignored',
    intentId: null,
    refundId: null,
    amount: null,
    currency: null,
    metadata: {},
    failureReason: null,
    payload: asRecord(event),
  };
  if (isIntentEvent(event)) {
    const intent = event.data.object;
    const kind = intentKinds[event.type];
    return {
      ...base,
      kind,
      intentId: intent.id,
      amount: intent.amount,
      currency: intent.currency.toUpperCase(),
      metadata: { ...intent.metadata },
      failureReason: kind === 'payment.failed' ? (intent.last_payment_error?.message ?? 'payment failed') : null,
    };
  }
  if (isRefundEvent(event)) {
    const refund = event.data.object;
    const status = refundStatus(refund.status);
    // A refund still pending needs nothing yet.
    const kind = status === 'succeeded' ? 'refund.succeeded' : status === 'failed' ? 'refund.failed' : 'ignored';
    return {
      ...base,
      kind,
      intentId: typeof refund.payment_intent === 'string' ? refund.payment_intent : (refund.payment_intent?.id ?? null),
      refundId: refund.id,
      amount: refund.amount,
      currency: refund.currency.toUpperCase(),
      metadata: { ...(refund.metadata ?? {}) },
      failureReason: kind === 'refund.failed' ? (refund.failure_reason ?? refund.status) : null,
    };
  }
  return base;
}

function header(headers: Headers, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    // Stripe sends the header once; several copies are not something to guess about.
    return typeof value === 'string' && value ? value : undefined;
  }
  return undefined;
}

function asRecord(value: object): Record<string, unknown> {
  return value as Record<string, unknown>;
}

/** Stripe's failures as Fanfare errors: the customer's mistakes are 422, Stripe's trouble 503. */
function providerError(err: unknown): unknown {
  if (!(err instanceof Stripe.errors.StripeError)) return err;
  const details = { code: err.code ?? err.type, extra: { provider: 'stripe', requestId: err.requestId } };
  if (err instanceof Stripe.errors.StripeCardError) return new AppError('payment_required', err.message, details);
  if (err instanceof Stripe.errors.StripeIdempotencyError) return new AppError('conflict', err.message, details);
  if (err instanceof Stripe.errors.StripeInvalidRequestError) return new AppError('unprocessable', err.message, details);
  // Connection trouble, rate limits, Stripe's own errors and a misconfigured key: nothing the
  // customer can fix, and the key's problem is not theirs to read.
  return new AppError('unavailable', 'The payment provider is unavailable; try again later', details);
}
