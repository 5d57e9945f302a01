import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError, notFound } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Outbox } from '../../core/outbox.ts';
import { processingFee, processingFeeRules } from '../../core/money.ts';
import { publish } from '../../core/outbox.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { LedgerService } from '../ledger/index.ts';
import type { InvariantCheck } from '../ledger/reconcile.ts';
import type { Payment, PaymentRepository, Refund } from './payments.repository.ts';
import type { PaymentPurpose, PaymentStatus } from './payments.schema.ts';
import { WebhookSignatureError, type PaymentProvider, type ProviderEvent } from './provider.ts';

/**
 * What the module that sold something does when its payment settles. `succeeded` posts the
 * ledger transfer that credits whoever the money is for (key `payment:<id>:captured`) and returns
 * its id (and, when it has one, where the payer's receipt is); `refunded` takes back what was
 * granted (access, credits) after a refund succeeded.
 */
export interface PurposeHandler {
  succeeded(payment: Payment, tx: Executor): Promise<string | Settled>;
  refunded?(payment: Payment, refund: Refund, tx: Executor): Promise<void>;
  failed?(payment: Payment, tx: Executor): Promise<void>;
}

/**
 * What a succeeded hook answers. With `refund`, what was paid for can no longer be delivered (the
 * invoice was voided, the checkout expired and was replaced): the hook credited nobody who could
 * spend it, and the payments module refunds the payment in full, automatically, after the webhook
 * is acknowledged (through the outbox, so a crash or a provider outage only delays it).
 */
export interface Settled {
  transferId: string;
  receiptUrl?: string | null;
  refund?: { reason: string };
}

export interface CreatePaymentInput {
  userId: string | null;
  organizationId?: string | null | undefined;
  walletId?: string | null | undefined;
  purpose: PaymentPurpose;
  amount: number;
  currency: string;
  paymentMethod: string;
  reference?: { type: string; id: string } | undefined;
  description?: string | undefined;
  /** The invoice this payment settles, for the payer's records (the seed's payments.invoice_url). */
  invoiceUrl?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface CreatedPayment {
  payment: Payment;
  clientSecret: string | null;
  nextActionUrl: string | null;
}

const SETTLED: PaymentStatus[] = ['success', 'partially_refunded', 'refunded'];
/** Waiting on the provider or on the customer: the intent may still take the money. */
const OPEN: PaymentStatus[] = ['pending', 'processing', 'requires_action'];

export function createPaymentService(deps: {
  db: Db;
  repo: PaymentRepository;
  ledger: LedgerService;
  provider: PaymentProvider;
  access: Access;
  outbox: Outbox;
  log: Logger;
}) {
  const { db, repo, ledger, provider, access, outbox, log } = deps;
  const handlers = new Map<PaymentPurpose, PurposeHandler>();

  const methodOf = (pm: string): 'card' | 'paypal' => (pm.includes('paypal') ? 'paypal' : 'card');

  /** Payment and refund events, applied under the payment's row lock; each change happens once. */
  async function apply(event: ProviderEvent, tx: Executor): Promise<'processed' | 'ignored'> {
    if (event.kind === 'ignored') return 'ignored';
    let payment = event.intentId ? await repo.lockByGatewayId(provider.name, event.intentId, tx) : undefined;
    // An event may overtake the write of the intent id: our id travels in the metadata.
    if (!payment && event.metadata.payment_id) payment = await repo.lock(event.metadata.payment_id, tx);
    if (!payment) throw new Error(`no payment for ${event.type} ${event.intentId ?? ''}`);
    switch (event.kind) {
      case 'payment.succeeded': {
        if (SETTLED.includes(payment.status)) return 'ignored';
        const handler = handlers.get(payment.purpose);
        if (!handler) throw new Error(`no handler for payments of purpose ${payment.purpose}`);
        const settled = await handler.succeeded(payment, tx);
        const { transferId, receiptUrl = payment.receiptUrl, refund } = typeof settled === 'string' ? { transferId: settled } : settled;
        const updated = await repo.update(
          payment.id,
          {
            status: 'success',
            paidAt: new Date(),
            transferId,
            receiptUrl,
            failureReason: null,
            gatewayPaymentId: payment.gatewayPaymentId ?? event.intentId,
            ...(refund ? { metadata: { ...payment.metadata, autoRefundReason: refund.reason } } : {}),
          },
          tx,
        );
        await publish(tx, 'payment.succeeded', { paymentId: updated!.id });
        if (refund) {
          log.warn({ paymentId: payment.id, reason: refund.reason }, 'a payment succeeded for something no longer deliverable; refunding it');
          await publish(tx, 'payment.refund_due', { paymentId: payment.id, reason: refund.reason });
        }
        return 'processed';
      }
      case 'payment.failed':
      case 'payment.canceled': {
        const next = await repo.transition(
          payment.id,
          ['pending', 'processing', 'requires_action'],
          { status: event.kind === 'payment.failed' ? 'failed' : 'cancelled', failureReason: event.failureReason ?? 'The payment did not go through' },
          tx,
        );
        if (!next) return 'ignored';
        await handlers.get(payment.purpose)?.failed?.(next, tx);
        await publish(tx, 'payment.failed', { paymentId: next.id });
        return 'processed';
      }
      case 'payment.requires_action': {
        const next = await repo.transition(payment.id, ['pending', 'processing'], { status: 'requires_action' }, tx);
        return next ? 'processed' : 'ignored';
      }
      case 'refund.succeeded':
      case 'refund.failed': {
        const refund = event.refundId ? await repo.lockRefundByGatewayId(event.refundId, tx) : undefined;
        const byMeta = !refund && event.metadata.refund_id ? await repo.lockRefund(event.metadata.refund_id, tx) : undefined;
        const r = refund ?? byMeta;
        if (!r) throw new Error(`no refund for ${event.type} ${event.refundId ?? ''}`);
        return (await settleRefund(payment, r, event.kind === 'refund.succeeded', event.refundId, tx)) ? 'processed' : 'ignored';
      }
    }
  }

  /** A refund's outcome: on failure the money taken back is returned to its holders. */
  async function settleRefund(payment: Payment, refund: Refund, succeeded: boolean, gatewayRefundId: string | null, tx: Executor): Promise<boolean> {
    if (refund.status !== 'pending') return false;
    if (succeeded) {
      const done = await repo.updateRefund(refund.id, { status: 'succeeded', gatewayRefundId: refund.gatewayRefundId ?? gatewayRefundId }, tx);
      await handlers.get(payment.purpose)?.refunded?.(payment, done!, tx);
      await publish(tx, 'payment.refunded', { paymentId: payment.id, refundId: refund.id });
      return true;
    }
    await repo.updateRefund(refund.id, { status: 'failed' }, tx);
    if (refund.transferId) {
      const { entries } = (await ledger.transferWithEntries(refund.transferId, tx))!;
      await ledger.transfer(
        {
          key: `refund:${refund.id}:returned`,
          kind: 'adjustment',
          currency: refund.currency,
          legs: entries.map((e) => ({ accountId: e.accountId, amount: -e.amount })),
          reference: { type: 'refund', id: refund.id },
          reversesTransferId: refund.transferId,
          description: 'Refund failed at the provider: money returned',
        },
        tx,
      );
    }
    const refundAmount = payment.refundAmount - refund.amount;
    await repo.update(payment.id, { refundAmount, status: refundAmount === 0 ? 'success' : 'partially_refunded', refundedAt: refundAmount === 0 ? null : payment.refundedAt }, tx);
    return true;
  }

  const core = {
    provider,

    register(purpose: PaymentPurpose, handler: PurposeHandler): void {
      if (handlers.has(purpose)) throw new Error(`payments of purpose ${purpose} already have a handler`);
      handlers.set(purpose, handler);
    },

    /**
     * Creates a payment and its provider intent. The row is written first, so an early webhook
     * finds it; nothing is credited until the verified webhook says the payment succeeded.
     * `guard` runs in the transaction that writes the row, before it (and may refuse).
     */
    async create(input: CreatePaymentInput, opts: { guard?: (tx: Executor) => Promise<void> } = {}): Promise<CreatedPayment> {
      // Never inside a caller's transaction: the provider is called between two writes.
      const tx = db;
      const method = methodOf(input.paymentMethod);
      const fee = processingFee(input.amount, method);
      const insert = (itx: Executor) => repo.insert(
        {
          userId: input.userId,
          organizationId: input.organizationId ?? null,
          walletId: input.walletId ?? null,
          purpose: input.purpose,
          referenceType: input.reference?.type ?? null,
          referenceId: input.reference?.id ?? null,
          amount: input.amount,
          currency: input.currency,
          paymentGateway: provider.name,
          paymentMethod: method,
          feeAmount: fee,
          fees: { method, rule: processingFeeRules[method], fee },
          invoiceUrl: input.invoiceUrl ?? null,
          metadata: input.metadata ?? {},
        },
        itx,
      );
      // The guard (e.g. "the invoice is still open", under its row lock) and the row commit
      // together: whatever the guard serializes with sees this payment once it can proceed.
      const payment = opts.guard
        ? await db.transaction(async (gtx) => {
            await opts.guard!(gtx);
            return insert(gtx);
          })
        : await insert(tx);
      let intent;
      try {
        intent = await provider.createIntent({
          amount: input.amount,
          currency: input.currency,
          paymentMethod: input.paymentMethod,
          metadata: { payment_id: payment.id, purpose: input.purpose },
          idempotencyKey: `payment:${payment.id}`,
          ...(input.description ? { description: input.description } : {}),
        });
      } catch (err) {
        await repo.update(payment.id, { status: 'failed', failureReason: err instanceof Error ? err.message : 'provider error' }, tx);
        if (err instanceof AppError) throw err;
        log.error({ err, paymentId: payment.id }, 'payment provider refused to create an intent');
        throw new AppError('unavailable', 'The payment provider is not reachable; try again', { code: 'provider_unavailable' });
      }
      const status: PaymentStatus =
        intent.status === 'requires_action' ? 'requires_action' : intent.status === 'requires_payment_method' ? 'failed' : intent.status === 'canceled' ? 'cancelled' : 'processing';
      // Only from pending: the webhook may already have settled it.
      const moved = await repo.transition(
        payment.id,
        ['pending'],
        { status, gatewayPaymentId: intent.id, gatewayResponse: intent.raw, failureReason: intent.failureReason },
        tx,
      );
      const current = moved ?? (await repo.update(payment.id, { gatewayPaymentId: intent.id, gatewayResponse: intent.raw }, tx))!;
      return { payment: current, clientSecret: intent.clientSecret, nextActionUrl: intent.nextActionUrl };
    },

    /** Verifies, stores and processes one webhook delivery; duplicates and replays do nothing. */
    async handleWebhook(providerName: string, rawBody: string, headers: Record<string, string | string[] | undefined>): Promise<{ status: string }> {
      if (providerName !== provider.name) throw new AppError('not_found', `No ${providerName} provider is configured`);
      let event: ProviderEvent;
      try {
        event = provider.verifyWebhook(rawBody, headers);
      } catch (err) {
        if (err instanceof WebhookSignatureError || err instanceof SyntaxError) {
          throw new AppError('bad_request', `Webhook refused: ${err.message}`, { code: 'invalid_signature' });
        }
        throw err;
      }
      const stored = await repo.storeEvent({ provider: provider.name, eventId: event.id, type: event.type, payload: event.payload });
      if (stored.status === 'processed' || stored.status === 'ignored') return { status: 'duplicate' };
      try {
        const outcome = await db.transaction(async (tx) => {
          if (!(await repo.claimEvent(stored.id, tx))) return 'in_progress';
          const result = await apply(event, tx);
          await repo.finishEvent(stored.id, result, tx);
          return result;
        });
        return { status: outcome };
      } catch (err) {
        await repo.failEvent(stored.id, err instanceof Error ? err.message : String(err));
        log.warn({ err, eventId: event.id }, 'webhook processing failed; the provider will retry');
        throw new AppError('unavailable', 'The event could not be processed now; retry later', { code: 'webhook_retry' });
      }
    },

    /**
     * Refunds all or part of a settled payment. The money is taken back from whoever received it
     * (in proportion) in the same transaction that records the refund, so a refund the ledger
     * cannot cover is refused before the provider is asked; if the provider then fails, the money
     * goes back.
     */
    async refund(actor: Actor, paymentId: string, input: { amount?: number | undefined; reason?: string | undefined }, opts: { authorized?: boolean } = {}): Promise<Refund> {
      const user = opts.authorized ? null : access.requirePlatformAdmin(actor);
      return refundPayment(paymentId, input, user?.userId ?? null);
    },

    /**
     * Cancels a payment's intent at the provider if it may still take money, and records it
     * cancelled. Best effort: when the provider cannot cancel (too late: it succeeded, or it is
     * unreachable) the payment stays as it is and its webhook decides; answers whether it was
     * cancelled.
     */
    async cancel(paymentId: string, reason: string): Promise<boolean> {
      const payment = await repo.get(paymentId);
      if (!payment || !OPEN.includes(payment.status) || !payment.gatewayPaymentId || !provider.cancel) return false;
      let intent;
      try {
        intent = await provider.cancel({ intentId: payment.gatewayPaymentId, idempotencyKey: `cancel:${payment.id}` });
      } catch (err) {
        log.warn({ err, paymentId }, 'the provider did not cancel the payment intent; its webhook will settle it');
        return false;
      }
      if (intent.status !== 'canceled') return false;
      await db.transaction(async (tx) => {
        const next = await repo.transition(payment.id, OPEN, { status: 'cancelled', failureReason: `Cancelled: ${reason}` }, tx);
        if (!next) return;
        await handlers.get(payment.purpose)?.failed?.(next, tx);
        await publish(tx, 'payment.failed', { paymentId: next.id });
      });
      return true;
    },

    /** For the module that sold something: its payments that may still take the customer's money. */
    openFor: (reference: { type: string; id: string }, tx?: Executor) => repo.openFor(reference.type, reference.id, OPEN, tx),
  };

  /** A refund of a settled payment; `requestedBy` null for the platform's own (automatic) refunds. */
  async function refundPayment(paymentId: string, input: { amount?: number | undefined; reason?: string | undefined }, requestedBy: string | null): Promise<Refund> {
    const { refund, payment } = await db.transaction(async (tx) => {
      const payment = await repo.lock(paymentId, tx);
      if (!payment) throw notFound('Payment');
      if (!['success', 'partially_refunded'].includes(payment.status) || !payment.transferId) {
        throw new AppError('conflict', `A ${payment.status} payment cannot be refunded`, { code: 'not_refundable' });
      }
      const left = payment.amount - payment.refundAmount;
      const amount = input.amount ?? left;
      if (amount <= 0 || amount > left) {
        throw new AppError('unprocessable', `At most ${left} can still be refunded on this payment`, { code: 'refund_exceeds_payment', fields: [{ path: 'body.amount', message: `at most ${left}` }] });
      }
      const refund = await repo.insertRefund({ paymentId, amount, currency: payment.currency, reason: input.reason ?? null, requestedBy }, tx);
      const clearing = await ledger.platformAccount('provider_clearing', payment.currency, tx);
      const revenue = await ledger.platformAccount('platform_revenue', payment.currency, tx);
      const reversal = await ledger.reverse(
        { transferId: payment.transferId, amount, gross: payment.amount, refundTo: clearing, shortfallFrom: revenue, key: `refund:${refund.id}`, reference: { type: 'refund', id: refund.id } },
        tx,
      );
      await repo.updateRefund(refund.id, { transferId: reversal.transferId }, tx);
      const refundAmount = payment.refundAmount + amount;
      const updated = await repo.update(
        payment.id,
        { refundAmount, refundedAt: new Date(), status: refundAmount === payment.amount ? 'refunded' : 'partially_refunded' },
        tx,
      );
      return { refund: { ...refund, transferId: reversal.transferId }, payment: updated! };
    });
    let outcome;
    try {
      outcome = await provider.refund({ intentId: payment.gatewayPaymentId!, amount: refund.amount, idempotencyKey: `refund:${refund.id}`, metadata: { refund_id: refund.id, payment_id: payment.id } });
    } catch (err) {
      log.warn({ err, refundId: refund.id }, 'provider refused the refund; returning the money');
      await db.transaction(async (tx) => settleRefund((await repo.lock(payment.id, tx))!, (await repo.lockRefund(refund.id, tx))!, false, null, tx));
      if (err instanceof AppError) throw err;
      throw new AppError('unavailable', 'The payment provider did not accept the refund; nothing was refunded', { code: 'provider_unavailable' });
    }
    return db.transaction(async (tx) => {
      const locked = (await repo.lockRefund(refund.id, tx))!;
      if (!locked.gatewayRefundId) await repo.updateRefund(refund.id, { gatewayRefundId: outcome.id }, tx);
      if (outcome.status !== 'pending') await settleRefund((await repo.lock(payment.id, tx))!, { ...locked, gatewayRefundId: outcome.id }, outcome.status === 'succeeded', outcome.id, tx);
      return (await repo.lockRefund(refund.id, tx))!;
    });
  }

  // The automatic refund. Runs after the webhook's commit; a payment no longer fully `success`
  // (refunded already, by this or an operator) is left alone, so a rerun refunds nothing twice.
  outbox.subscribe('payment.refund_due', 'payments.auto-refund', async ({ payload }) => {
    const payment = await repo.get(payload.paymentId);
    if (!payment || payment.status !== 'success' || payment.refundAmount > 0) return;
    try {
      await refundPayment(payment.id, { reason: payload.reason }, null);
    } catch (err) {
      // Refunded meanwhile: nothing left to do. Anything else retries with the outbox.
      if (err instanceof AppError && (err.details.code === 'not_refundable' || err.details.code === 'refund_exceeds_payment')) return;
      throw err;
    }
  });

  const rest = {
    /** For the module that sold something: a payment of it still waiting on the provider. */
    inFlightFor: (reference: { type: string; id: string }, tx?: Executor) => repo.inFlightFor(reference.type, reference.id, tx),

    async get(actor: Actor, id: string): Promise<Payment> {
      const user = access.requireUser(actor);
      const p = await repo.get(id);
      if (!p || (p.userId !== user.userId && user.role !== 'admin')) throw notFound('Payment');
      return p;
    },

    async listMine(actor: Actor, q: PageQuery & { status?: PaymentStatus | undefined }): Promise<Page<Payment>> {
      const user = access.requireUser(actor);
      return toPage(await repo.listForUser(user.userId, { before: decodeCursor(q.cursor), limit: q.limit, status: q.status }), q.limit);
    },

    async listAll(actor: Actor, q: PageQuery & { status?: PaymentStatus | undefined }): Promise<Page<Payment>> {
      access.requirePlatformAdmin(actor);
      return toPage(await repo.listAll({ before: decodeCursor(q.cursor), limit: q.limit, status: q.status }), q.limit);
    },

    async refundsOf(actor: Actor, paymentId: string): Promise<Refund[]> {
      await service.get(actor, paymentId);
      return repo.refundsOf(paymentId);
    },

    invariants(): InvariantCheck[] {
      return [
        { name: 'every succeeded payment has its transfer', run: async () => (await repo.succeededWithoutTransfer()).map((r) => `payment ${r.id} succeeded without a ledger transfer`) },
        {
          name: 'every automatic refund went out (grace 1 h)',
          run: async () =>
            (await repo.overdueAutoRefunds(3600)).map((r) => `payment ${r.id} is due an automatic refund (${r.reason}) that has not gone out; refund it`),
        },
        {
          name: 'every refunded amount matches its refunds',
          run: async () => (await repo.refundMismatches()).map((r) => `payment ${r.id} records ${r.refund_amount} refunded but its refunds hold ${r.refunds}`),
        },
      ];
    },
  };
  const service = { ...core, ...rest };
  return service;
}
export type PaymentService = ReturnType<typeof createPaymentService>;
