import type { Clock } from '../../core/clock.ts';
import { AppError } from '../../core/errors.ts';
import {
  assertAmount,
  commissionBpsByPlan,
  saleSplit,
  type PaymentMethod,
  type SaleSplit,
  type SellerPlan,
} from '../../core/money.ts';
import type { Executor } from '../../db/client.ts';
import type { Leg, LedgerService } from '../ledger/index.ts';
import type { TransactionType } from './wallets.schema.ts';
import type { WalletService } from './wallets.service.ts';

/** A sale of something a seller (a user or an organization) sold; see `SaleService.record`. */
export interface SaleInput {
  /** One business event, one sale (e.g. `order:<id>`): a second call with it changes nothing and answers the first. */
  key: string;
  /** Whose wallet earns it. */
  seller: { userId: string } | { organizationId: string };
  buyerId?: string | null | undefined;
  /** What the buyer paid, in minor units: the listed price (all fees are the seller's). */
  amount: number;
  currency: string;
  /**
   * How the buyer paid: `card` or `paypal` came in through provider clearing and are charged the
   * provider's fee; `wallet_balance` is taken from `buyerWalletId` (402 when it cannot cover it).
   */
  paymentMethod: PaymentMethod;
  buyerWalletId?: string | undefined;
  /** The platform's commission: the marketplace's rate for the seller's plan, or a rate in basis points (creator platform: `platformFeeBps`). */
  commission: { plan: SellerPlan } | { bps: number };
  /** The history line's type (the seeds' transaction types). */
  type: Extract<
    TransactionType,
    | 'product_purchase'
    | 'service_purchase'
    | 'webinar_registration'
    | 'subscription_payment'
    | 'content_purchase'
    | 'sale'
  >;
  /** What was sold (an order, a purchase): stored on the transfer and as the line's related id. */
  reference: { type: string; id: string };
  description?: string | undefined;
  /** Days the seller's share stays in escrow: ESCROW_DAYS unless given; 0 credits it available at once. */
  escrowDays?: number | undefined;
}

export interface SaleResult {
  transferId: string;
  /** The escrow hold, null when the sale was not escrowed. */
  holdId: string | null;
  releaseAt: Date | null;
  /** The snapshot: total, processing fee, commission, seller share, rate and method. */
  split: SaleSplit;
  /** True when the key had been used: this call moved nothing. */
  replayed: boolean;
}

/**
 * "A sale", the one way money from a buyer reaches a seller: in ONE ledger transfer the gross
 * leaves provider clearing (net of the processor's fee, which the provider keeps) or the buyer's
 * wallet, the seller's share lands in the seller wallet's pending account and the commission in
 * platform revenue; a hold releases the share to the available balance after the escrow days
 * (the `ledger.release-holds` job), from where it can be paid out. The split is stored on the
 * transfer's metadata and on the seller's history line. Runs inside the caller's transaction
 * (e.g. a payment's `succeeded` handler), so the sale and what it sells commit together.
 * A refund goes through `payments.refund` / `ledger.reverse`, which take back from the hold first.
 */
export function createSaleService(deps: {
  ledger: LedgerService;
  wallets: WalletService;
  clock: Clock;
  escrowDays: number;
}) {
  const { ledger, wallets, clock } = deps;
  return {
    async record(input: SaleInput, tx: Executor): Promise<SaleResult> {
      assertAmount(input.amount, 'amount');
      const bps =
        'plan' in input.commission ? commissionBpsByPlan[input.commission.plan] : input.commission.bps;
      if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) {
        throw new AppError('bad_request', 'commission must be 0 to 10000 basis points', {
          fields: [{ path: 'commission.bps', message: 'invalid' }],
        });
      }
      const split = saleSplit(input.amount, bps, input.paymentMethod);
      if (split.seller <= 0) {
        throw new AppError(
          'unprocessable',
          `A sale of ${input.amount} leaves the seller nothing after fees and commission`,
          { code: 'sale_too_small' },
        );
      }
      const escrowDays = input.escrowDays ?? deps.escrowDays;
      const seller = await ledger.wallet(
        'userId' in input.seller
          ? { userId: input.seller.userId }
          : { organizationId: input.seller.organizationId },
        input.currency,
        tx,
      );
      const escrowed = escrowDays > 0;
      const credit: Leg[] = [
        { accountId: escrowed ? seller.pending : seller.available, amount: split.seller },
      ];
      if (split.commission) {
        credit.push({
          accountId: await ledger.platformAccount('platform_revenue', input.currency, tx),
          amount: split.commission,
        });
      }
      const metadata = {
        split: { ...split },
        sellerPlan: 'plan' in input.commission ? input.commission.plan : null,
        escrowDays,
      };

      let transferId: string;
      let replayed: boolean;
      if (input.paymentMethod === 'wallet_balance') {
        if (!input.buyerWalletId) {
          throw new AppError('bad_request', 'A wallet-balance sale needs the buyer wallet', {
            fields: [{ path: 'buyerWalletId', message: 'required' }],
          });
        }
        const r = await wallets.spend(
          {
            walletId: input.buyerWalletId,
            amount: input.amount,
            key: input.key,
            to: credit,
            type: input.type,
            transferKind: 'sale',
            description: input.description,
            reference: input.reference,
            metadata,
          },
          tx,
        );
        ({ transferId, replayed } = r);
      } else {
        const clearing = await ledger.platformAccount('provider_clearing', input.currency, tx);
        const r = await ledger.transfer(
          {
            key: input.key,
            kind: 'sale',
            currency: input.currency,
            legs: [{ accountId: clearing, amount: -(split.total - split.processingFee) }, ...credit],
            reference: input.reference,
            description: input.description ?? 'Sale',
            metadata,
          },
          tx,
        );
        ({ transferId, replayed } = r);
      }
      if (replayed) {
        const hold = await ledger.holdOf(transferId, tx);
        const first = (await ledger.transferWithEntries(transferId, tx))!.transfer.metadata as {
          split?: SaleSplit;
        };
        return {
          transferId,
          holdId: hold?.id ?? null,
          releaseAt: hold?.releaseAt ?? null,
          split: first.split ?? split,
          replayed: true,
        };
      }
      const releaseAt = escrowed ? new Date(clock.now().getTime() + escrowDays * 86_400_000) : null;
      const hold = releaseAt
        ? await ledger.hold(
            {
              walletId: seller.wallet.id,
              transferId,
              amount: split.seller,
              currency: input.currency,
              releaseAt,
            },
            tx,
          )
        : null;
      const processor =
        input.paymentMethod === 'wallet_balance'
          ? 'wallet'
          : input.paymentMethod === 'paypal'
            ? 'paypal'
            : 'stripe';
      await wallets.recordLine(
        {
          walletId: seller.wallet.id,
          userId: seller.wallet.userId,
          organizationId: seller.wallet.organizationId,
          transferId,
          type: input.type,
          direction: 'credit',
          amount: split.seller,
          currency: input.currency,
          status: 'completed',
          paymentMethod: input.paymentMethod,
          paymentProcessor: processor,
          description: input.description ?? null,
          buyerId: input.buyerId ?? null,
          sellerId: seller.wallet.userId,
          relatedId: input.reference.id,
          amountTotal: split.total,
          amountFees: split.processingFee,
          amountCommission: split.commission,
          amountSeller: split.seller,
          commissionRate: (bps / 100).toFixed(2),
          sellerTier: 'plan' in input.commission ? input.commission.plan : null,
          metadata: {
            reference: input.reference,
            holdId: hold?.id ?? null,
            releaseAt: releaseAt?.toISOString() ?? null,
          },
          completedAt: clock.now(),
        },
        tx,
      );
      await ledger.bumpWalletTotals(
        seller.wallet.id,
        {
          totalEarned: split.seller,
          ...(processor === 'stripe'
            ? { totalEarnedStripe: split.seller }
            : processor === 'paypal'
              ? { totalEarnedPaypal: split.seller }
              : {}),
        },
        tx,
      );
      return { transferId, holdId: hold?.id ?? null, releaseAt, split, replayed: false };
    },
  };
}
export type SaleService = ReturnType<typeof createSaleService>;
