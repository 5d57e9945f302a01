/**
 * What Fanfare needs of a payment provider. The sandbox provider (sandbox.provider.ts) behaves
 * like Stripe inside Fanfare so everything works offline; the Stripe adapter (stripe.provider.ts)
 * talks to Stripe. Money is credited only on a verified webhook, never on the synchronous answer.
 */
export type IntentStatus = 'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';

export interface CreateIntentInput {
  amount: number;
  currency: string;
  /** A provider payment method id (Stripe's `pm_…`; the sandbox knows Stripe's test ones). */
  paymentMethod: string;
  /** Our payment id travels as metadata.payment_id, so an early webhook still finds its row. */
  metadata: Record<string, string>;
  idempotencyKey: string;
  description?: string;
}

export interface IntentResult {
  id: string;
  status: IntentStatus;
  clientSecret: string | null;
  /** Where the customer completes 3-D Secure when status is requires_action. */
  nextActionUrl: string | null;
  failureReason: string | null;
  raw: Record<string, unknown>;
}

export interface RefundResult {
  id: string;
  status: 'pending' | 'succeeded' | 'failed';
  raw: Record<string, unknown>;
}

/** A verified webhook, normalised. */
export interface ProviderEvent {
  id: string;
  /** The provider's event type, stored as is. */
  type: string;
  kind: 'payment.succeeded' | 'payment.failed' | 'payment.requires_action' | 'payment.canceled' | 'refund.succeeded' | 'refund.failed' | 'ignored';
  intentId: string | null;
  refundId: string | null;
  amount: number | null;
  currency: string | null;
  metadata: Record<string, string>;
  failureReason: string | null;
  payload: Record<string, unknown>;
}

export class WebhookSignatureError extends Error {}

export interface PaymentProvider {
  readonly name: 'sandbox' | 'stripe';
  createIntent(input: CreateIntentInput): Promise<IntentResult>;
  refund(input: { intentId: string; amount: number; idempotencyKey: string; metadata: Record<string, string> }): Promise<RefundResult>;
  /**
   * Cancels an intent that has not succeeded, so it can no longer take the customer's money.
   * Answers the intent as it now is: `canceled`, or `succeeded` when it was too late (which is an
   * answer, not an error). Optional: a provider without it leaves the intent to run out.
   */
  cancel?(input: { intentId: string; idempotencyKey: string }): Promise<IntentResult>;
  /** Verifies the signature over the raw body and returns the event; throws WebhookSignatureError. */
  verifyWebhook(rawBody: string, headers: Record<string, string | string[] | undefined>): ProviderEvent;
}
