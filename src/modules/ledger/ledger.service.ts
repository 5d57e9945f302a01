import { AppError, isCheckViolation } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Logger } from '../../core/logger.ts';
import { allocate, currencies } from '../../core/money.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { LedgerRepository, LedgerTransfer, Wallet, WalletSettingsPatch } from './ledger.repository.ts';
import type { AccountKind, TransferKind } from './ledger.schema.ts';

/** One leg of a transfer: a signed amount in minor units; positive raises the account's balance. */
export interface Leg {
  accountId: string;
  amount: number;
}

export interface TransferInput {
  /** Unique per business event: a second transfer with the same key is a replay, not a new movement. */
  key: string;
  kind: TransferKind;
  currency: string;
  legs: Leg[];
  reference?: { type: string; id: string } | undefined;
  reversesTransferId?: string | undefined;
  description?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface TransferResult {
  transferId: string;
  /** True when the key had been used: nothing moved this time. */
  replayed: boolean;
}

export interface WalletAccounts {
  wallet: Wallet;
  available: string;
  pending: string;
}

/** Platform accounts that may go negative: they mirror money outside Fanfare. */
const platformAllowsNegative: Record<string, boolean> = {
  provider_clearing: true,
  payout_sent: false,
  provider_fees: false,
  platform_revenue: true,
  payout_clearing: false,
  credits: true,
  adjustments: true,
};

export function insufficientFunds(): AppError {
  return new AppError('payment_required', 'Insufficient funds', { code: 'insufficient_funds' });
}

export function createLedgerService(deps: { db: Db; repo: LedgerRepository; log: Logger }) {
  const { db, repo, log } = deps;
  // Account ids never change once created, so the platform's are cached per process.
  const platformIds = new Map<string, string>();

  const validate = (input: TransferInput) => {
    if (!(input.currency in currencies)) throw new AppError('bad_request', `Unknown currency ${input.currency}`);
    if (input.legs.length < 2) throw new Error('a transfer needs at least two legs');
    let sum = 0;
    for (const leg of input.legs) {
      if (!Number.isSafeInteger(leg.amount) || leg.amount === 0) throw new Error(`transfer leg amount must be a non-zero integer, got ${leg.amount}`);
      sum += leg.amount;
    }
    if (sum !== 0) throw new Error(`transfer ${input.key} does not balance (sum ${sum})`);
  };

  const service = {
    /**
     * Posts a balanced transfer in one statement (inside `tx` when given). Refuses an overdraft of
     * an account that may not go negative with 402 insufficient_funds; a reused key answers the
     * first transfer without moving anything.
     */
    async transfer(input: TransferInput, tx: Executor = db): Promise<TransferResult> {
      validate(input);
      let id: string | null;
      try {
        id = await repo.insertTransfer(
          {
            id: newId(),
            idempotencyKey: input.key,
            kind: input.kind,
            currency: input.currency,
            referenceType: input.reference?.type,
            referenceId: input.reference?.id,
            reversesTransferId: input.reversesTransferId,
            description: input.description,
            metadata: input.metadata,
            entries: input.legs.map((l) => ({ id: newId(), accountId: l.accountId, amount: l.amount })),
          },
          tx,
        );
      } catch (err) {
        if (isCheckViolation(err, 'ledger_accounts_no_overdraft') || isCheckViolation(err, 'wallets_balance_non_negative')) throw insufficientFunds();
        throw err;
      }
      if (id) return { transferId: id, replayed: false };
      const existing = await repo.transferByKey(input.key, tx);
      if (!existing) throw new Error(`transfer key ${input.key} conflicted but no transfer holds it`);
      if (existing.kind !== input.kind || existing.currency !== input.currency) {
        throw new AppError('conflict', `Transfer key ${input.key} was used for a different transfer`, { code: 'transfer_key_reused' });
      }
      return { transferId: existing.id, replayed: true };
    },

    async platformAccount(kind: AccountKind, currency: string, tx: Executor = db): Promise<string> {
      const cacheKey = `${kind}:${currency}`;
      const cached = platformIds.get(cacheKey);
      if (cached) return cached;
      const account = await repo.platformAccount(kind, currency, platformAllowsNegative[kind] ?? false, tx);
      // Only an id read outside a transaction is known to be committed.
      if (tx === db) platformIds.set(cacheKey, account.id);
      return account.id;
    },

    /** The wallet of a user or organization in a currency, with its ledger accounts. */
    async wallet(owner: { userId?: string | null; organizationId?: string | null }, currency: string, tx: Executor = db): Promise<WalletAccounts> {
      const wallet = await repo.ensureWallet(owner, currency, tx);
      return service.accountsOf(wallet, tx);
    },

    async accountsOf(wallet: Wallet, tx: Executor = db): Promise<WalletAccounts> {
      const accounts = await repo.walletAccounts(wallet.id, tx);
      const find = (k: AccountKind) => accounts.find((a) => a.kind === k)!.id;
      return { wallet, available: find('wallet_available'), pending: find('wallet_pending') };
    },

    async walletById(walletId: string, tx: Executor = db): Promise<WalletAccounts | undefined> {
      const wallet = await repo.wallet(walletId, tx);
      return wallet ? service.accountsOf(wallet, tx) : undefined;
    },

    walletsOf: (...a: Parameters<LedgerRepository['walletsOf']>) => repo.walletsOf(...a),
    bumpWalletTotals: (...a: Parameters<LedgerRepository['bumpWalletTotals']>) => repo.bumpWalletTotals(...a),
    /** The wallet row locked for a change of its payout settings (inside `tx`). */
    lockWallet: (walletId: string, tx: Executor) => repo.lockWallet(walletId, tx),
    async updateWalletSettings(walletId: string, patch: WalletSettingsPatch, tx: Executor = db): Promise<Wallet> {
      return (await repo.updateWalletSettings(walletId, patch, tx))!;
    },

    async balance(accountId: string, tx: Executor = db): Promise<number> {
      return (await repo.account(accountId, tx))?.balance ?? 0;
    },

    /** Records that a transfer's credit to a wallet's pending account is held until `releaseAt`. */
    async hold(input: { walletId: string; transferId: string; amount: number; currency: string; releaseAt: Date }, tx: Executor = db) {
      return repo.createHold(input, tx);
    },

    /** The hold on a transfer's pending credit, if it has one (locked when inside `tx`). */
    async holdOf(transferId: string, tx: Executor) {
      return repo.holdOfTransfer(transferId, tx);
    },

    /** Moves a due hold from pending to available; safe to run twice. */
    async releaseHold(holdId: string, now = new Date()): Promise<boolean> {
      return db.transaction(async (tx) => {
        const hold = await repo.lockHold(holdId, tx);
        if (!hold || hold.status !== 'held' || hold.releaseAt > now) return false;
        const w = await service.walletById(hold.walletId, tx);
        let releaseTransferId: string | null = null;
        if (hold.amount > 0) {
          const r = await service.transfer(
            {
              key: `hold:${hold.id}:release`,
              kind: 'hold_release',
              currency: hold.currency,
              legs: [
                { accountId: w!.pending, amount: -hold.amount },
                { accountId: w!.available, amount: hold.amount },
              ],
              reference: { type: 'ledger_hold', id: hold.id },
              description: 'Escrow released',
            },
            tx,
          );
          releaseTransferId = r.transferId;
        }
        await repo.setHold(hold.id, { status: 'released', releasedAt: now, releaseTransferId }, tx);
        return true;
      });
    },

    /** The release job: every hold due by `now`. */
    async releaseDueHolds(now = new Date(), batch = 200): Promise<number> {
      let released = 0;
      for (;;) {
        const ids = await repo.dueHoldIds(now, batch);
        for (const id of ids) {
          try {
            if (await service.releaseHold(id, now)) released++;
          } catch (err) {
            log.error({ err, holdId: id }, 'hold release failed');
          }
        }
        if (ids.length < batch) return released;
      }
    },

    /**
     * Gives back `amount` of a transfer that moved `gross` from outside (a payment) to its credit
     * legs, as one new transfer: each credited account returns its share in proportion to what it
     * received (largest remainder), the part of `gross` the legs never received (the provider's
     * fee, which providers keep) comes from `shortfallFrom`, and `refundTo` receives the whole
     * amount. A leg that credited a wallet's pending account takes the money back from the hold
     * while it lasts, and from the available balance once released. The caller makes sure the
     * total given back never exceeds `gross`.
     */
    async reverse(
      input: {
        transferId: string;
        amount: number;
        gross: number;
        refundTo: string;
        shortfallFrom: string;
        key: string;
        kind?: TransferKind;
        description?: string;
        reference?: { type: string; id: string };
      },
      tx: Executor,
    ): Promise<TransferResult> {
      const original = await repo.transfer(input.transferId, tx);
      if (!original) throw new Error(`transfer ${input.transferId} not found`);
      const credits = (await repo.entriesOf(original.id, tx)).filter((e) => e.amount > 0 && e.accountId !== input.refundTo);
      const creditTotal = credits.reduce((a, e) => a + e.amount, 0);
      // Earlier partial refunds count: each share gives back its part of everything refunded so
      // far, less what it gave back before, so over many partial refunds no share returns more
      // (or less) than its proportion of the total, and a full refund in parts equals one in whole.
      const before = await repo.reversedAmount(original.id, tx);
      if (input.amount <= 0 || before + input.amount > input.gross || creditTotal > input.gross) {
        throw new AppError('unprocessable', `Cannot give back ${input.amount} of a payment of ${input.gross} (${before} given back already)`, {
          code: 'refund_exceeds_payment',
        });
      }
      const weights = credits.map((e) => e.amount);
      if (input.gross > creditTotal) weights.push(input.gross - creditTotal);
      const previously = before > 0 ? allocate(before, weights) : weights.map(() => 0);
      const parts = allocate(before + input.amount, weights).map((part, i) => part - previously[i]!);
      // Largest-remainder rounding can give a share one unit less at a larger total (the Alabama
      // paradox); such a share gives back nothing this time and the last shares cover its unit.
      let deficit = parts.reduce((a, p) => a + (p < 0 ? -p : 0), 0);
      for (let i = 0; i < parts.length; i++) if (parts[i]! < 0) parts[i] = 0;
      for (let i = parts.length - 1; deficit > 0 && i >= 0; i--) {
        const take = Math.min(deficit, parts[i]!);
        parts[i]! -= take;
        deficit -= take;
      }
      const legs: Leg[] = [{ accountId: input.refundTo, amount: input.amount }];
      if (input.gross > creditTotal && parts.at(-1)) legs.push({ accountId: input.shortfallFrom, amount: -parts.at(-1)! });
      const hold = await repo.holdOfTransfer(original.id, tx);
      for (const [i, e] of credits.entries()) {
        const amount = parts[i]!;
        if (!amount) continue;
        if (e.kind === 'wallet_pending' && e.walletId) {
          const w = await service.walletById(e.walletId, tx);
          const fromHold = hold && hold.status === 'held' ? Math.min(amount, hold.amount) : 0;
          if (fromHold) {
            legs.push({ accountId: w!.pending, amount: -fromHold });
            await repo.setHold(hold!.id, { amount: hold!.amount - fromHold }, tx);
            hold!.amount -= fromHold;
          }
          if (amount > fromHold) legs.push({ accountId: w!.available, amount: -(amount - fromHold) });
        } else {
          legs.push({ accountId: e.accountId, amount: -amount });
        }
      }
      return service.transfer(
        {
          key: input.key,
          kind: input.kind ?? 'refund',
          currency: original.currency,
          legs,
          reference: input.reference ?? (original.referenceType && original.referenceId ? { type: original.referenceType, id: original.referenceId } : undefined),
          reversesTransferId: original.id,
          description: input.description ?? `Refund of ${original.kind}`,
        },
        tx,
      );
    },

    async transferWithEntries(id: string, tx: Executor = db): Promise<{ transfer: LedgerTransfer; entries: Awaited<ReturnType<LedgerRepository['entriesOf']>> } | undefined> {
      const transfer = await repo.transfer(id, tx);
      if (!transfer) return undefined;
      return { transfer, entries: await repo.entriesOf(id, tx) };
    },
  };
  return service;
}
export type LedgerService = ReturnType<typeof createLedgerService>;
