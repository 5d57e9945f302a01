import type { Access } from '../../core/access.ts';
import type { Actor, UserActor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import { assertAmount, currencies, formatMoney } from '../../core/money.ts';
import { publish, type Outbox } from '../../core/outbox.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import type { LedgerService, Wallet } from '../ledger/index.ts';
import type { InvariantCheck } from '../ledger/reconcile.ts';
import type { NotificationService } from '../notifications/index.ts';
import type { WalletService } from '../wallets/index.ts';
import { maskDestination, normalizeDestination, type DestinationInput } from './destinations.ts';
import type { PayoutDestination, PayoutProvider } from './payouts.provider.ts';
import type { Payout, PayoutRepository } from './payouts.repository.ts';
import type { PayoutStatus } from './payouts.schema.ts';

export type RequestPayoutInput = { amount: number; currency: string } & DestinationInput;

export type ListQuery = PageQuery & {
  status?: PayoutStatus | undefined;
  /** Operators: only payouts processing for longer than this many hours (stuck at the provider). */
  processingForHours?: number | undefined;
};

/** Why a wallet's payouts are off, or null when they are on. */
export type PayoutsBlockedBy = 'no_verified_destination' | 'disabled_by_operator';

/** What the wallet/payout-settings API shows of a wallet's payout state. */
export interface PayoutSettings {
  wallet: Wallet;
  blockedBy: PayoutsBlockedBy | null;
  /** What the owner (or the operator) has to do for payouts to be enabled; null when they are. */
  nextStep: string | null;
}

/**
 * Payouts are enabled while the wallet has a verified destination and no operator block. The same
 * rule is a CHECK on the wallets table (wallets_payouts_enabled_check). A Stripe Connect account
 * would count once an adapter records `stripe_account_status = 'enabled'`; none does yet.
 */
const hasVerifiedDestination = (w: Pick<Wallet, 'paypalVerified' | 'stripeAccountStatus'>) =>
  w.paypalVerified || w.stripeAccountStatus === 'enabled';
const payoutsAllowed = (w: Pick<Wallet, 'paypalVerified' | 'stripeAccountStatus' | 'payoutsDisabledAt'>) =>
  !w.payoutsDisabledAt && hasVerifiedDestination(w);

const blockOf = (w: Wallet): PayoutsBlockedBy | null =>
  w.payoutsDisabledAt ? 'disabled_by_operator' : hasVerifiedDestination(w) ? null : 'no_verified_destination';

const settingsPath = (w: Wallet) =>
  w.organizationId
    ? `/v1/orgs/${w.organizationId}/wallets/${w.currency}/payout-settings`
    : `/v1/wallets/${w.currency}/payout-settings`;

const nextStepOf = (w: Wallet): string | null => {
  switch (blockOf(w)) {
    case null:
      return null;
    case 'disabled_by_operator':
      return `The platform operator disabled payouts for this wallet (${w.payoutsDisabledReason ?? 'no reason given'}); they stay off until the operator re-enables them: contact the platform's support.`;
    case 'no_verified_destination':
      return w.paypalEmail
        ? `The PayPal address on file (${w.paypalEmail}) is not verified. Fanfare can verify the e-mail address of your account once it is verified itself: set paypalEmail to it with PUT ${settingsPath(w)}.`
        : `Add a verified payout destination first: PUT ${settingsPath(w)} with paypalEmail set to the verified e-mail address of your account.`;
  }
};

const toSettings = (w: Wallet): PayoutSettings => ({
  wallet: w,
  blockedBy: blockOf(w),
  nextStep: nextStepOf(w),
});

/** The refusal of a payout from a wallet whose payouts are off: 403 naming why and what to do. */
const payoutsNotEnabled = (w: Wallet, kind: 'forbidden' | 'conflict' = 'forbidden') =>
  new AppError(kind, `Payouts are not enabled for this wallet. ${nextStepOf(w) ?? ''}`, {
    code: 'payouts_not_enabled',
  });

/** The history line of a payout in the wallet: Pay as Play's `withdrawal` transaction type. */
const LINE = 'withdrawal' as const;

export function createPayoutService(deps: {
  db: Db;
  repo: PayoutRepository;
  ledger: LedgerService;
  wallets: WalletService;
  notifications: NotificationService;
  access: Access;
  jobs: JobQueue;
  outbox: Outbox;
  provider: PayoutProvider;
  log: Logger;
  /** PAYOUT_MINIMUM_CENTS: the smallest payout, in minor units. */
  minimum: number;
  /** Operator actions (blocking payouts, closing a stuck payout) are audited. */
  audit: AuditService;
  /** A payout processing longer than this is reported by reconciliation as stuck (default 48). */
  stuckAfterHours?: number;
}) {
  const { db, repo, ledger, wallets, notifications, access, jobs, provider, log, minimum, audit } = deps;
  const stuckAfterHours = deps.stuckAfterHours ?? 48;
  const HOUR = 3_600_000;

  /** A payout the actor may see: their own, or an organization's when they hold payouts.manage. 404 otherwise. */
  const visible = async (
    actor: Actor,
    id: string,
    tx: Executor,
    opts: { operator: boolean },
  ): Promise<{ user: UserActor; payout: Payout }> => {
    const user = access.requireUser(actor);
    const payout = await repo.get(id, tx);
    if (!payout) throw notFound('Payout');
    if (opts.operator && user.role === 'admin') return { user, payout };
    if (payout.organizationId) {
      await access.requireOrg(actor, payout.organizationId, 'payouts.manage');
    } else if (payout.userId !== user.userId) {
      throw notFound('Payout');
    }
    return { user, payout };
  };

  const notPending = (p: Payout) =>
    new AppError('conflict', `The payout is ${p.status}, not pending`, { code: 'payout_not_pending' });
  const notProcessing = (p: Payout) =>
    new AppError(
      'conflict',
      `The payout is ${p.status}, not processing: ${p.status === 'pending' ? 'approve or reject it instead' : 'it is closed already'}`,
      { code: 'payout_not_processing' },
    );

  /** The wallet a payout-settings call is about: the actor's own, or an organization's (payouts.manage). */
  const ownedWallet = async (actor: Actor, currency: string, organizationId?: string) => {
    const user = access.requireUser(actor);
    if (organizationId) await access.requireOrg(actor, organizationId, 'payouts.manage');
    if (!(currency in currencies)) throw new AppError('bad_request', `Unknown currency ${currency}`);
    const w = await ledger.wallet(organizationId ? { organizationId } : { userId: user.userId }, currency);
    return { user, wallet: w.wallet };
  };

  const destinationOf = (p: Payout): PayoutDestination => {
    switch (p.method) {
      case 'bank':
        return { method: 'bank', bankDetails: p.bankDetails ?? {} };
      case 'paypal':
        return { method: 'paypal', paypalEmail: p.paypalEmail! };
      case 'crypto':
        return { method: 'crypto', network: p.cryptoNetwork as never, address: p.cryptoAddress! };
    }
  };

  const tell = async (p: Payout, outcome: 'completed' | 'failed', tx: Executor) => {
    if (!p.userId) return;
    const amount = formatMoney(p.amount, p.currency);
    const where = maskDestination(p);
    await notifications.notify(
      outcome === 'completed'
        ? {
            userId: p.userId,
            type: 'payout',
            title: 'Your payout was sent',
            message: `${amount} was paid out to ${where}.`,
            actionUrl: `/v1/payouts/${p.id}`,
            relatedId: p.id,
            organizationId: p.organizationId,
          }
        : {
            userId: p.userId,
            type: 'payout',
            title: 'Your payout failed',
            message: `The payout of ${amount} to ${where} failed: ${p.failureReason ?? 'no reason given'}. The money is back in your wallet.`,
            actionUrl: `/v1/payouts/${p.id}`,
            relatedId: p.id,
            organizationId: p.organizationId,
          },
      tx,
    );
  };

  /** Gives the held money back to the wallet and closes the payout as failed or cancelled. */
  const giveBack = async (
    p: Payout,
    status: 'failed' | 'cancelled',
    reason: string | null,
    tx: Executor,
  ): Promise<Payout> => {
    const w = (await ledger.walletById(p.walletId, tx))!;
    const clearing = await ledger.platformAccount('payout_clearing', p.currency, tx);
    const back = await ledger.transfer(
      {
        key: `payout:${p.id}:returned`,
        kind: 'payout_returned',
        currency: p.currency,
        legs: [
          { accountId: clearing, amount: -p.amount },
          { accountId: w.available, amount: p.amount },
        ],
        reference: { type: 'payout', id: p.id },
        reversesTransferId: p.holdTransferId ?? undefined,
        description:
          status === 'cancelled' ? 'Payout cancelled: money returned' : 'Payout failed: money returned',
      },
      tx,
    );
    const now = new Date();
    const updated = await repo.update(
      p.id,
      status === 'cancelled'
        ? { status, cancelledAt: now, returnTransferId: back.transferId }
        : { status, failedAt: now, failureReason: reason, returnTransferId: back.transferId },
      tx,
    );
    await wallets.updateLines(
      p.walletId,
      p.id,
      LINE,
      {
        status,
        metadata: {
          payoutId: p.id,
          returnTransferId: back.transferId,
          ...(reason ? { failureReason: reason } : {}),
        },
      },
      tx,
    );
    if (status === 'failed') {
      await tell(updated, 'failed', tx);
      await publish(tx, 'payout.failed', { payoutId: p.id });
    }
    return updated;
  };

  /** The provider paid it out: clearing → payout sent, lifetime withdrawn raised. */
  const complete = async (p: Payout, providerPayoutId: string, tx: Executor): Promise<Payout> => {
    const clearing = await ledger.platformAccount('payout_clearing', p.currency, tx);
    const sent = await ledger.platformAccount('payout_sent', p.currency, tx);
    const settle = await ledger.transfer(
      {
        key: `payout:${p.id}:sent`,
        kind: 'payout_sent',
        currency: p.currency,
        legs: [
          { accountId: clearing, amount: -p.amount },
          { accountId: sent, amount: p.amount },
        ],
        reference: { type: 'payout', id: p.id },
        description: `Paid out through ${p.provider ?? provider.name}`,
      },
      tx,
    );
    const updated = await repo.update(
      p.id,
      {
        status: 'completed',
        completedAt: new Date(),
        settleTransferId: settle.transferId,
        providerPayoutId,
        // The marketplace's own columns for its two rails.
        ...(p.provider === 'stripe_connect' ? { stripePayoutId: providerPayoutId } : {}),
        ...(p.provider === 'paypal_payouts' ? { paypalBatchId: providerPayoutId } : {}),
      },
      tx,
    );
    await ledger.bumpWalletTotals(
      p.walletId,
      {
        totalWithdrawn: p.amount,
        ...(p.payoutMethod === 'stripe'
          ? { totalWithdrawnStripe: p.amount }
          : p.payoutMethod === 'paypal'
            ? { totalWithdrawnPaypal: p.amount }
            : {}),
      },
      tx,
    );
    await wallets.updateLines(p.walletId, p.id, LINE, { status: 'completed', completedAt: new Date() }, tx);
    await tell(updated, 'completed', tx);
    await publish(tx, 'payout.completed', { payoutId: p.id });
    return updated;
  };

  /**
   * The provider's word on a payout closed already (by an operator, or an earlier answer) changes
   * nothing. When it contradicts the close (paid out, but the money was returned), someone has to
   * look: that is logged as an error.
   */
  const lateAnswer = (p: Payout, said: 'completed' | 'failed' | 'in_transit') => {
    const contradicts =
      (said === 'completed' && p.status !== 'completed') || (said === 'failed' && p.status === 'completed');
    if (contradicts) {
      log.error(
        { payoutId: p.id, status: p.status, provider: p.provider, said },
        'the payout provider contradicts a closed payout: check it with the provider',
      );
    } else {
      log.info({ payoutId: p.id, status: p.status, said }, 'late payout provider answer ignored');
    }
  };

  const service = {
    minimum,
    provider,

    /**
     * Requests a payout from a wallet's available balance (the user's own, or an organization's
     * for a member holding payouts.manage). The money is held in payout clearing in the same
     * transaction as the payout row; 402 when the balance cannot cover it, and then nothing exists.
     */
    async request(actor: Actor, input: RequestPayoutInput, organizationId?: string): Promise<Payout> {
      const user = access.requireUser(actor);
      if (organizationId) await access.requireOrg(actor, organizationId, 'payouts.manage');
      assertAmount(input.amount, 'body.amount');
      if (!(input.currency in currencies)) {
        throw new AppError('bad_request', `Unknown currency ${input.currency}`, {
          fields: [{ path: 'body.currency', message: 'unknown currency' }],
        });
      }
      if (input.amount < minimum) {
        throw new AppError(
          'unprocessable',
          `The smallest payout is ${formatMoney(minimum, input.currency)}`,
          {
            code: 'payout_below_minimum',
            fields: [{ path: 'body.amount', message: `at least ${minimum}` }],
          },
        );
      }
      const destination = normalizeDestination(input);
      return db.transaction(async (tx) => {
        const w = await ledger.wallet(
          organizationId ? { organizationId } : { userId: user.userId },
          input.currency,
          tx,
        );
        // Refused before anything moves; the throw rolls back a wallet created just now too.
        if (!w.wallet.payoutsEnabled) throw payoutsNotEnabled(w.wallet);
        const id = newId();
        const clearing = await ledger.platformAccount('payout_clearing', input.currency, tx);
        const hold = await ledger.transfer(
          {
            key: `payout:${id}:hold`,
            kind: 'payout_request',
            currency: input.currency,
            legs: [
              { accountId: w.available, amount: -input.amount },
              { accountId: clearing, amount: input.amount },
            ],
            reference: { type: 'payout', id },
            description: 'Payout requested',
          },
          tx,
        );
        const payout = await repo.insert(
          {
            id,
            userId: user.userId,
            organizationId: organizationId ?? null,
            walletId: w.wallet.id,
            amount: input.amount,
            currency: input.currency,
            ...destination,
            status: 'pending',
            holdTransferId: hold.transferId,
          },
          tx,
        );
        await wallets.recordLine(
          {
            walletId: w.wallet.id,
            userId: user.userId,
            organizationId: organizationId ?? null,
            transferId: hold.transferId,
            type: LINE,
            direction: 'debit',
            amount: input.amount,
            currency: input.currency,
            status: 'pending',
            paymentMethod: destination.method,
            paymentProcessor: destination.payoutMethod,
            description: `Payout to ${maskDestination(payout)}`,
            relatedId: id,
            metadata: { payoutId: id },
          },
          tx,
        );
        return payout;
      });
    },

    async get(actor: Actor, id: string): Promise<Payout> {
      return (await visible(actor, id, db, { operator: true })).payout;
    },

    async listMine(actor: Actor, q: ListQuery): Promise<Page<Payout>> {
      const user = access.requireUser(actor);
      return toPage(
        await repo.listForUser(user.userId, {
          before: decodeCursor(q.cursor),
          limit: q.limit,
          status: q.status,
        }),
        q.limit,
      );
    },

    async listForOrganization(actor: Actor, organizationId: string, q: ListQuery): Promise<Page<Payout>> {
      await access.requireOrg(actor, organizationId, 'payouts.manage');
      return toPage(
        await repo.listForOrganization(organizationId, {
          before: decodeCursor(q.cursor),
          limit: q.limit,
          status: q.status,
        }),
        q.limit,
      );
    },

    /** The requester takes a payout back while it waits for approval; the money returns at once. */
    async cancel(actor: Actor, id: string): Promise<Payout> {
      // Who may see it is checked before the transaction: the membership lookup reads outside it,
      // and on the embedded engine a read outside a running transaction waits for it to end.
      await visible(actor, id, db, { operator: false });
      return db.transaction(async (tx) => {
        const payout = (await repo.lock(id, tx))!;
        if (payout.status !== 'pending') throw notPending(payout);
        return giveBack(payout, 'cancelled', null, tx);
      });
    },

    // --- operator --------------------------------------------------------------------------------

    async listAll(actor: Actor, q: ListQuery): Promise<Page<Payout>> {
      access.requirePlatformAdmin(actor);
      return toPage(
        await repo.listAll({
          before: decodeCursor(q.cursor),
          limit: q.limit,
          status: q.processingForHours !== undefined ? 'processing' : q.status,
          processedBefore:
            q.processingForHours !== undefined
              ? new Date(Date.now() - q.processingForHours * HOUR)
              : undefined,
        }),
        q.limit,
      );
    },

    /** pending → processing; the send job hands it to the payout provider. */
    async approve(actor: Actor, id: string): Promise<Payout> {
      const admin = access.requirePlatformAdmin(actor);
      return db.transaction(async (tx) => {
        const payout = await repo.lock(id, tx);
        if (!payout) throw notFound('Payout');
        if (payout.status !== 'pending') throw notPending(payout);
        // A block set after the request holds the payout back too: the operator rejects it or
        // re-enables the wallet's payouts first.
        const w = (await ledger.walletById(payout.walletId, tx))!.wallet;
        if (!w.payoutsEnabled) throw payoutsNotEnabled(w, 'conflict');
        const now = new Date();
        const updated = await repo.update(
          id,
          {
            status: 'processing',
            approvedAt: now,
            approvedBy: admin.userId,
            processedAt: now,
            provider: provider.name,
          },
          tx,
        );
        await publish(tx, 'payout.approved', { payoutId: id });
        return updated;
      });
    },

    /** The operator refuses a pending payout: it fails with the reason and the money returns. */
    async reject(actor: Actor, id: string, reason: string): Promise<Payout> {
      access.requirePlatformAdmin(actor);
      return db.transaction(async (tx) => {
        const payout = await repo.lock(id, tx);
        if (!payout) throw notFound('Payout');
        if (payout.status !== 'pending') throw notPending(payout);
        return giveBack(payout, 'failed', `Rejected by the operator: ${reason}`, tx);
      });
    },

    /**
     * The operator closes a payout stuck in processing as paid, with the provider's reference:
     * exactly what the provider's own completion does (clearing → payout sent, once). Marking a
     * completed payout again with the same reference answers it unchanged.
     */
    async markCompleted(actor: Actor, id: string, providerPayoutId: string): Promise<Payout> {
      const admin = access.requirePlatformAdmin(actor);
      return db.transaction(async (tx) => {
        const payout = await repo.lock(id, tx);
        if (!payout) throw notFound('Payout');
        if (payout.status === 'completed' && payout.providerPayoutId === providerPayoutId) return payout;
        if (payout.status !== 'processing') throw notProcessing(payout);
        if (payout.providerPayoutId && payout.providerPayoutId !== providerPayoutId) {
          throw new AppError(
            'conflict',
            `The provider answered this payout as ${payout.providerPayoutId}, not ${providerPayoutId}`,
            { code: 'provider_reference_mismatch' },
          );
        }
        const done = await complete(payout, providerPayoutId, tx);
        await audit.record(
          {
            action: 'payout.marked_completed',
            userId: admin.userId,
            organizationId: payout.organizationId,
            resourceType: 'payout',
            resourceId: payout.id,
            meta: admin.meta,
            metadata: {
              providerPayoutId,
              provider: payout.provider,
              amount: payout.amount,
              currency: payout.currency,
            },
          },
          tx,
        );
        return done;
      });
    },

    /**
     * The operator closes a payout stuck in processing as failed: exactly what the provider's own
     * failure does (the held money returns to the wallet, once). A late word from the provider
     * afterwards is ignored (and logged). Marking a failed payout again answers it unchanged.
     */
    async markFailed(actor: Actor, id: string, reason: string): Promise<Payout> {
      const admin = access.requirePlatformAdmin(actor);
      return db.transaction(async (tx) => {
        const payout = await repo.lock(id, tx);
        if (!payout) throw notFound('Payout');
        if (payout.status === 'failed') return payout;
        if (payout.status !== 'processing') throw notProcessing(payout);
        const failed = await giveBack(payout, 'failed', `Marked failed by the operator: ${reason}`, tx);
        await audit.record(
          {
            action: 'payout.marked_failed',
            userId: admin.userId,
            organizationId: payout.organizationId,
            resourceType: 'payout',
            resourceId: payout.id,
            meta: admin.meta,
            metadata: {
              reason,
              provider: payout.provider,
              providerPayoutId: payout.providerPayoutId,
              amount: payout.amount,
              currency: payout.currency,
            },
          },
          tx,
        );
        return failed;
      });
    },

    // --- payout settings ---------------------------------------------------------------------

    /** A wallet's payout state, for its owner (or an organization member with payouts.manage). */
    async settings(actor: Actor, currency: string, organizationId?: string): Promise<PayoutSettings> {
      return toSettings((await ownedWallet(actor, currency, organizationId)).wallet);
    },

    /**
     * Sets (or with null removes) the wallet's PayPal destination. It is verified when it is the
     * e-mail address of the actor's own account and Fanfare has verified that address: the one
     * proof of ownership Fanfare holds. Payouts follow: enabled with a verified destination unless
     * an operator blocked them.
     */
    async setPayPal(
      actor: Actor,
      currency: string,
      paypalEmail: string | null,
      organizationId?: string,
    ): Promise<PayoutSettings> {
      const email =
        paypalEmail === null ? null : normalizeDestination({ method: 'paypal', paypalEmail }).paypalEmail!;
      const { user, wallet } = await ownedWallet(actor, currency, organizationId);
      const verified = email !== null && user.emailVerified && email === user.email.trim().toLowerCase();
      return db.transaction(async (tx) => {
        const w = (await ledger.lockWallet(wallet.id, tx))!;
        const next = { ...w, paypalEmail: email, paypalVerified: verified };
        const updated = await ledger.updateWalletSettings(
          w.id,
          { paypalEmail: email, paypalVerified: verified, payoutsEnabled: payoutsAllowed(next) },
          tx,
        );
        if (w.paypalEmail !== email || w.paypalVerified !== verified) {
          await audit.record(
            {
              action: 'wallet.payout_destination_changed',
              userId: user.userId,
              organizationId: w.organizationId,
              resourceType: 'wallet',
              resourceId: w.id,
              meta: user.meta,
              metadata: {
                method: 'paypal',
                removed: email === null,
                paypalVerified: verified,
                payoutsEnabled: updated.payoutsEnabled,
              },
            },
            tx,
          );
        }
        return toSettings(updated);
      });
    },

    /** Operators: any wallet's payout state. */
    async walletSettings(actor: Actor, walletId: string): Promise<PayoutSettings> {
      access.requirePlatformAdmin(actor);
      const w = await ledger.walletById(walletId);
      if (!w) throw notFound('Wallet');
      return toSettings(w.wallet);
    },

    /**
     * Operators block a wallet's payouts with a reason: requests are refused and pending payouts
     * cannot be approved until an operator re-enables them, whatever destination is verified
     * meanwhile. Blocking a blocked wallet changes nothing.
     */
    async disablePayouts(actor: Actor, walletId: string, reason: string): Promise<PayoutSettings> {
      const admin = access.requirePlatformAdmin(actor);
      return db.transaction(async (tx) => {
        const w = await ledger.lockWallet(walletId, tx);
        if (!w) throw notFound('Wallet');
        if (w.payoutsDisabledAt) return toSettings(w);
        const updated = await ledger.updateWalletSettings(
          w.id,
          {
            payoutsEnabled: false,
            payoutsDisabledAt: new Date(),
            payoutsDisabledReason: reason,
            payoutsDisabledBy: admin.userId,
          },
          tx,
        );
        await audit.record(
          {
            action: 'wallet.payouts_disabled',
            userId: admin.userId,
            organizationId: w.organizationId,
            resourceType: 'wallet',
            resourceId: w.id,
            meta: admin.meta,
            metadata: { reason, ownerUserId: w.userId, wasEnabled: w.payoutsEnabled },
          },
          tx,
        );
        return toSettings(updated);
      });
    },

    /**
     * Operators lift their block. Payouts are enabled again only with a verified destination
     * (otherwise the answer says that one is missing). Re-enabling an unblocked wallet changes nothing.
     */
    async enablePayouts(actor: Actor, walletId: string, reason: string): Promise<PayoutSettings> {
      const admin = access.requirePlatformAdmin(actor);
      return db.transaction(async (tx) => {
        const w = await ledger.lockWallet(walletId, tx);
        if (!w) throw notFound('Wallet');
        if (!w.payoutsDisabledAt) return toSettings(w);
        const next = { ...w, payoutsDisabledAt: null };
        const updated = await ledger.updateWalletSettings(
          w.id,
          {
            payoutsEnabled: payoutsAllowed(next),
            payoutsDisabledAt: null,
            payoutsDisabledReason: null,
            payoutsDisabledBy: null,
          },
          tx,
        );
        await audit.record(
          {
            action: 'wallet.payouts_enabled',
            userId: admin.userId,
            organizationId: w.organizationId,
            resourceType: 'wallet',
            resourceId: w.id,
            meta: admin.meta,
            metadata: {
              reason,
              ownerUserId: w.userId,
              disabledReason: w.payoutsDisabledReason,
              disabledBy: w.payoutsDisabledBy,
              payoutsEnabled: updated.payoutsEnabled,
            },
          },
          tx,
        );
        return toSettings(updated);
      });
    },

    /**
     * The send job: hands a processing payout to the provider (outside any transaction, with an
     * idempotency key of the payout) and applies the answer under the payout's lock. Safe to run
     * twice: a payout already answered is left alone.
     */
    async send(payoutId: string): Promise<Payout | undefined> {
      const payout = await repo.get(payoutId);
      if (!payout || payout.status !== 'processing' || payout.providerPayoutId) return payout;
      const result = await provider.send({
        payoutId,
        amount: payout.amount,
        currency: payout.currency,
        destination: destinationOf(payout),
        idempotencyKey: `payout:${payoutId}`,
      });
      return db.transaction(async (tx) => {
        const p = (await repo.lock(payoutId, tx))!;
        if (p.status !== 'processing') {
          lateAnswer(p, result.status);
          return p;
        }
        switch (result.status) {
          case 'completed':
            return complete(p, result.providerPayoutId, tx);
          case 'failed': {
            const withId = result.providerPayoutId
              ? await repo.update(p.id, { providerPayoutId: result.providerPayoutId }, tx)
              : p;
            return giveBack(withId, 'failed', result.reason, tx);
          }
          case 'in_transit':
            return repo.update(p.id, { providerPayoutId: result.providerPayoutId }, tx);
        }
      });
    },

    /** A provider's later word on a payout it answered `in_transit` (its webhook handler calls this). */
    async settleFromProvider(
      providerName: string,
      providerPayoutId: string,
      outcome: { status: 'completed' } | { status: 'failed'; reason: string },
    ): Promise<'processed' | 'ignored'> {
      const found = await repo.byProviderId(providerName, providerPayoutId);
      if (!found) throw notFound('Payout');
      return db.transaction(async (tx) => {
        const p = (await repo.lock(found.id, tx))!;
        if (p.status !== 'processing') {
          lateAnswer(p, outcome.status);
          return 'ignored';
        }
        if (outcome.status === 'completed') await complete(p, providerPayoutId, tx);
        else await giveBack(p, 'failed', outcome.reason, tx);
        return 'processed';
      });
    },

    invariants(): InvariantCheck[] {
      return [
        {
          name: 'every open payout holds its amount in payout clearing, every closed one nothing',
          run: async () =>
            (await repo.clearingMismatches()).map(
              (r) => `payout ${r.id} (${r.status}, ${r.amount}) keeps ${r.clearing} in payout clearing`,
            ),
        },
        {
          name: 'every payout has its hold, every completed one its settle transfer, every failed or cancelled one its return',
          run: async () =>
            (await repo.transferMismatches()).map((r) => `payout ${r.id} (${r.status}): ${r.problem}`),
        },
        {
          name: `no payout has been processing for longer than ${stuckAfterHours} hours`,
          run: async () =>
            (await repo.stuckProcessing(new Date(Date.now() - stuckAfterHours * HOUR))).map(
              (r) =>
                `payout ${r.id} has been processing since ${r.processedAt?.toISOString() ?? '?'} (${r.provider ?? 'no provider'}${r.providerPayoutId ? ` ${r.providerPayoutId}` : ', no provider answer'}): check it with the provider, then mark it completed or failed`,
            ),
        },
        {
          name: 'payout clearing equals the open payouts',
          run: async () =>
            (await repo.clearingTotals()).map(
              (r) => `payout clearing in ${r.currency} holds ${r.clearing} but open payouts total ${r.open}`,
            ),
        },
      ];
    },
  };

  deps.outbox.subscribe('payout.approved', 'payouts.send', async ({ payload }) => {
    await jobs.send('payouts.send', payload, { key: `payout:${payload.payoutId}`, retryLimit: 5 });
  });
  jobs.register('payouts.send', async ({ payoutId }) => {
    const p = await service.send(payoutId);
    if (p) log.info({ payoutId, status: p.status }, 'payout sent to the provider');
  });
  return service;
}
export type PayoutService = ReturnType<typeof createPayoutService>;
