import type { CryptoNetwork } from './destinations.ts';

/**
 * What Fanfare needs of a payout provider: send one payout and say what became of it. The
 * sandbox (below) is the default and decides deterministically, so the whole flow runs offline.
 * A Stripe Connect adapter (bank payouts to a connected account), a PayPal Payouts adapter
 * (a batch of one item) or a crypto custodian implement the same interface; a provider that
 * settles later answers `in_transit` and reports the outcome through
 * `PayoutService.settleFromProvider` (its webhook handler calls it).
 */
export type PayoutDestination =
  | { method: 'bank'; bankDetails: Record<string, string> }
  | { method: 'paypal'; paypalEmail: string }
  | { method: 'crypto'; network: CryptoNetwork; address: string };

export interface SendPayoutInput {
  payoutId: string;
  amount: number;
  currency: string;
  destination: PayoutDestination;
  /** The same for every attempt at one payout: a provider must not pay it twice. */
  idempotencyKey: string;
}

export type SendPayoutResult =
  | { status: 'completed'; providerPayoutId: string }
  | { status: 'in_transit'; providerPayoutId: string }
  | { status: 'failed'; providerPayoutId: string | null; reason: string };

export interface PayoutProvider {
  /** Stored on the payout (`payouts.provider`). */
  readonly name: string;
  /**
   * Sends the payout. Throwing means "unknown, try again" (the job retries with the same
   * idempotency key); a refusal is a `failed` result, which returns the money to the wallet.
   */
  send(input: SendPayoutInput): Promise<SendPayoutResult>;
}

/**
 * The built-in provider. It pays everything out at once, except, so that failures can be
 * tried: an amount whose last two digits are 13 (e.g. 50.13) is declined, and so is a PayPal
 * address whose local part starts with `fail` (fail@example.com).
 */
export class SandboxPayoutProvider implements PayoutProvider {
  readonly name = 'sandbox';
  readonly sent: SendPayoutInput[] = [];

  send(input: SendPayoutInput): Promise<SendPayoutResult> {
    this.sent.push(input);
    const providerPayoutId = `sbpo_${input.payoutId.replace(/-/g, '')}`;
    if (input.amount % 100 === 13) {
      return Promise.resolve({
        status: 'failed',
        providerPayoutId,
        reason: 'The sandbox declined this payout (amounts ending in 13 fail)',
      });
    }
    if (input.destination.method === 'paypal' && /^fail/i.test(input.destination.paypalEmail)) {
      return Promise.resolve({
        status: 'failed',
        providerPayoutId,
        reason: 'The sandbox PayPal account refused the payout (fail@… addresses fail)',
      });
    }
    return Promise.resolve({ status: 'completed', providerPayoutId });
  }
}
