import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError, isUniqueViolation } from '../../core/errors.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import { toMajor } from '../../core/money.ts';
import { publish, type Outbox } from '../../core/outbox.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { Leg, LedgerService, WalletAccounts } from '../ledger/index.ts';
import type { Payment, PaymentService, CreatedPayment } from '../payments/index.ts';
import type { AutoTopUp, HistoryFilter, NewTransaction, Transaction, WalletRepository } from './wallets.repository.ts';
import type { TransactionType } from './wallets.schema.ts';

export interface SpendInput {
  walletId: string;
  amount: number;
  /** The transfer's idempotency key: one business event, one debit. */
  key: string;
  /** Where the money goes: legs that sum to `amount` (e.g. a partner's share and the commission). */
  to: Leg[];
  type: TransactionType;
  transferKind?: 'usage' | 'payment' | 'transfer' | 'sale';
  description?: string;
  reference?: { type: string; id: string };
  metadata?: Record<string, unknown>;
}

const csvCell = (v: unknown): string => {
  const s = v == null ? '' : v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  // Quote everything; neutralise spreadsheet formulas.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return `"${safe.replace(/"/g, '""')}"`;
};

export function createWalletService(deps: {
  db: Db;
  repo: WalletRepository;
  ledger: LedgerService;
  payments: PaymentService;
  access: Access;
  jobs: JobQueue;
  outbox: Outbox;
  log: Logger;
}) {
  const { repo, ledger, payments, access, jobs, log } = deps;

  /** A top-up settles: the wallet gets the whole amount; the platform bears the processing fee. */
  const creditTopUp = async (payment: Payment, tx: Executor): Promise<string> => {
    const w = (await ledger.walletById(payment.walletId!, tx))!;
    const clearing = await ledger.platformAccount('provider_clearing', payment.currency, tx);
    const legs: Leg[] = [
      { accountId: clearing, amount: -(payment.amount - payment.feeAmount) },
      { accountId: w.available, amount: payment.amount },
    ];
    if (payment.feeAmount) legs.push({ accountId: await ledger.platformAccount('platform_revenue', payment.currency, tx), amount: -payment.feeAmount });
    const { transferId } = await ledger.transfer(
      { key: `payment:${payment.id}:captured`, kind: 'topup', currency: payment.currency, legs, reference: { type: 'payment', id: payment.id }, description: 'Wallet top-up' },
      tx,
    );
    await repo.insertTransaction(
      {
        walletId: w.wallet.id,
        userId: w.wallet.userId,
        organizationId: w.wallet.organizationId,
        transferId,
        type: 'topup',
        direction: 'credit',
        amount: payment.amount,
        currency: payment.currency,
        status: 'completed',
        paymentMethod: payment.paymentMethod,
        paymentProcessor: payment.paymentGateway,
        description: payment.purpose === 'auto_topup' ? 'Automatic top-up' : 'Top-up',
        relatedId: payment.id,
        amountTotal: payment.amount,
        amountFees: payment.feeAmount,
        stripePaymentIntentId: payment.paymentGateway === 'stripe' ? payment.gatewayPaymentId : null,
        completedAt: new Date(),
        metadata: { paymentId: payment.id },
      },
      tx,
    );
    await ledger.bumpWalletTotals(w.wallet.id, { totalToppedUp: payment.amount }, tx);
    return transferId;
  };

  const topUpHandler = {
    succeeded: creditTopUp,
    async refunded(payment: Payment, refund: { id: string; amount: number; transferId: string | null }, tx: Executor) {
      const w = (await ledger.walletById(payment.walletId!, tx))!;
      await repo.insertTransaction(
        {
          walletId: w.wallet.id,
          userId: w.wallet.userId,
          organizationId: w.wallet.organizationId,
          transferId: refund.transferId,
          type: 'refund',
          direction: 'debit',
          amount: refund.amount,
          currency: payment.currency,
          status: 'completed',
          relatedId: payment.id,
          description: 'Top-up refunded',
          completedAt: new Date(),
          refundedAt: new Date(),
        },
        tx,
      );
    },
  };
  payments.register('wallet_topup', topUpHandler);
  payments.register('auto_topup', topUpHandler);

  const ownWallet = async (actor: Actor, currency: string): Promise<WalletAccounts> => {
    const user = access.requireUser(actor);
    return ledger.wallet({ userId: user.userId }, currency);
  };

  const service = {
    ownWallet,

    async list(actor: Actor) {
      const user = access.requireUser(actor);
      return ledger.walletsOf({ userId: user.userId });
    },

    async orgWallet(actor: Actor, orgId: string, currency: string): Promise<WalletAccounts> {
      await access.requireOrg(actor, orgId, 'org.update');
      return ledger.wallet({ organizationId: orgId }, currency);
    },

    async topUp(actor: Actor, currency: string, input: { amount: number; paymentMethod: string }): Promise<CreatedPayment> {
      const user = access.requireUser(actor);
      const w = await ownWallet(actor, currency);
      return payments.create({ userId: user.userId, walletId: w.wallet.id, purpose: 'wallet_topup', amount: input.amount, currency, paymentMethod: input.paymentMethod, description: 'Fanfare wallet top-up' });
    },

    /**
     * Debits a wallet's available balance in one transfer (refused with 402 when it cannot cover
     * it), writes the history line, and tells the auto top-up and low-balance listeners.
     */
    async spend(input: SpendInput, tx: Executor): Promise<{ transferId: string; balance: number; replayed: boolean }> {
      const w = (await ledger.walletById(input.walletId, tx))!;
      const total = input.to.reduce((a, l) => a + l.amount, 0);
      if (total !== input.amount) throw new Error(`spend legs sum to ${total}, not ${input.amount}`);
      const result = await ledger.transfer(
        {
          key: input.key,
          kind: input.transferKind ?? 'payment',
          currency: w.wallet.currency,
          legs: [{ accountId: w.available, amount: -input.amount }, ...input.to],
          reference: input.reference,
          description: input.description,
          metadata: input.metadata,
        },
        tx,
      );
      const balance = await ledger.balance(w.available, tx);
      if (result.replayed) return { ...result, balance };
      await repo.insertTransaction(
        {
          walletId: w.wallet.id,
          userId: w.wallet.userId,
          organizationId: w.wallet.organizationId,
          transferId: result.transferId,
          type: input.type,
          direction: 'debit',
          amount: input.amount,
          currency: w.wallet.currency,
          status: 'completed',
          paymentMethod: 'wallet_balance',
          paymentProcessor: 'wallet',
          description: input.description ?? null,
          relatedId: input.reference?.id ?? null,
          metadata: input.metadata ?? {},
          completedAt: new Date(),
        },
        tx,
      );
      await ledger.bumpWalletTotals(w.wallet.id, { totalSpentOnPlatform: input.amount }, tx);
      await publish(tx, 'wallet.debited', { walletId: w.wallet.id, balance, previous: balance + input.amount });
      return { ...result, balance };
    },

    /**
     * The history line of a movement another module made in the same transaction (a payout's
     * hold, a sale's earnings): money itself moves only in the ledger.
     */
    recordLine: (t: NewTransaction, tx: Executor) => repo.insertTransaction(t, tx),
    /** Updates the lines of a wallet that describe one record (`relatedId`) of a type. */
    updateLines: (walletId: string, relatedId: string, type: TransactionType, patch: Partial<NewTransaction>, tx: Executor) => repo.updateRelated(walletId, relatedId, type, patch, tx),

    async history(actor: Actor, currency: string, q: PageQuery & Omit<HistoryFilter, 'before' | 'limit'>): Promise<Page<Transaction>> {
      const w = await ownWallet(actor, currency);
      return toPage(await repo.history(w.wallet.id, { ...q, before: decodeCursor(q.cursor) }), q.limit);
    },

    /** The whole filtered history as CSV (amounts in major units), streamed page by page. */
    async *historyCsv(actor: Actor, currency: string, f: Omit<HistoryFilter, 'before' | 'limit'>): AsyncGenerator<string> {
      const w = await ownWallet(actor, currency);
      yield 'id,created_at,type,direction,status,amount,currency,description,payment_method,transfer_id,completed_at\n';
      let before: string | undefined;
      for (;;) {
        const rows = await repo.history(w.wallet.id, { ...f, before, limit: 500 });
        const page = rows.slice(0, 500);
        yield page
          .map((t) =>
            [t.id, t.createdAt, t.type, t.direction, t.status, toMajor(t.amount, t.currency), t.currency, t.description, t.paymentMethod, t.transferId, t.completedAt].map(csvCell).join(',') + '\n',
          )
          .join('');
        if (rows.length <= 500) return;
        before = page.at(-1)!.id;
      }
    },

    async getAutoTopUp(actor: Actor, currency: string): Promise<AutoTopUp | { walletId: string; enabled: false; threshold: number; amount: number; paymentMethodId: null; lastTriggeredAt: null }> {
      const w = await ownWallet(actor, currency);
      return (await repo.autoTopUp(w.wallet.id)) ?? { walletId: w.wallet.id, enabled: false, threshold: 1000, amount: 2500, paymentMethodId: null, lastTriggeredAt: null };
    },

    async setAutoTopUp(actor: Actor, currency: string, input: { enabled: boolean; threshold: number; amount: number; paymentMethodId?: string | null | undefined }): Promise<AutoTopUp> {
      const user = access.requireUser(actor);
      if (input.enabled && !input.paymentMethodId) {
        throw new AppError('bad_request', 'An enabled auto top-up needs a payment method', { fields: [{ path: 'body.paymentMethodId', message: 'required when enabled' }] });
      }
      const w = await ownWallet(actor, currency);
      return repo.upsertAutoTopUp({ walletId: w.wallet.id, userId: user.userId, enabled: input.enabled, threshold: input.threshold, amount: input.amount, paymentMethodId: input.paymentMethodId ?? null });
    },

    /**
     * The auto top-up job: buys the configured amount when the wallet is still under its
     * threshold. The database lets one auto top-up be in flight per wallet; a second is skipped.
     */
    async runAutoTopUp(walletId: string): Promise<Payment | null> {
      const settings = await repo.autoTopUp(walletId);
      if (!settings?.enabled || !settings.paymentMethodId) return null;
      const w = (await ledger.walletById(walletId))!;
      if ((await ledger.balance(w.available)) >= settings.threshold) return null;
      try {
        const created = await payments.create({
          userId: w.wallet.userId,
          organizationId: w.wallet.organizationId,
          walletId,
          purpose: 'auto_topup',
          amount: settings.amount,
          currency: w.wallet.currency,
          paymentMethod: settings.paymentMethodId,
          description: 'Fanfare automatic top-up',
        });
        await repo.markAutoTopUpTriggered(walletId);
        return created.payment;
      } catch (err) {
        if (isUniqueViolation(err, 'payments_one_auto_topup_in_flight')) return null;
        throw err;
      }
    },

    /** Outbox: a debit left the wallet under its auto top-up threshold. */
    async onDebited(e: { walletId: string; balance: number }): Promise<void> {
      const settings = await repo.autoTopUp(e.walletId);
      if (settings?.enabled && e.balance < settings.threshold) {
        await jobs.send('wallets.auto-topup', { walletId: e.walletId }, { key: `auto-topup:${e.walletId}` });
      }
    },
  };
  deps.outbox.subscribe('wallet.debited', 'wallets.auto-topup', async (event) => service.onDebited(event.payload));
  jobs.register('wallets.auto-topup', async ({ walletId }) => {
    const p = await service.runAutoTopUp(walletId);
    if (p) log.info({ walletId, paymentId: p.id }, 'auto top-up started');
  });
  return service;
}
export type WalletService = ReturnType<typeof createWalletService>;
