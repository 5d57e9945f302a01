import type { Access } from '../../core/access.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError, isUniqueViolation, notFound } from '../../core/errors.ts';
import type { JobQueue } from '../../core/jobs.ts';
import type { Logger } from '../../core/logger.ts';
import { bps, formatMoney, platformFeeBps } from '../../core/money.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { Leg, LedgerService } from '../ledger/index.ts';
import type { NotificationService } from '../notifications/index.ts';
import type { Payment, PaymentService, Refund, Settled } from '../payments/index.ts';
import type { AccessType, PurchaseStatus } from './content.schema.ts';
import type { ContentAccessRow, ContentRepository, Purchase } from './content.repository.ts';

export interface CheckoutResult {
  purchase: Purchase;
  payment: Payment | null;
  clientSecret: string | null;
  nextActionUrl: string | null;
  /** False when an unpaid checkout of the same item already existed and is answered again. */
  created: boolean;
}

export function createPurchaseService(deps: {
  db: Db;
  repo: ContentRepository;
  access: Access;
  ledger: LedgerService;
  payments: PaymentService;
  notifications: NotificationService;
  jobs: JobQueue;
  log: Logger;
  config: { platformFeeBps: number; checkoutExpiryHours: number };
}) {
  const { repo, access, ledger, payments, notifications, jobs, log, config } = deps;

  const titleOf = async (p: Purchase, tx?: Executor): Promise<string> => {
    if (p.contentId) return (await repo.getContent(p.contentId, tx))?.title ?? 'content';
    return (await repo.getSeries(p.seriesId!, tx))?.title ?? 'series';
  };

  /**
   * A payment that arrived for a purchase no longer pending and that cannot be completed (another
   * purchase of the item is live, or this one was completed or refunded already): the money is
   * not the seller's. It is held on the platform's adjustments account and refunded in full by
   * the payments module; the platform bears the processing fee, as it does on every sale.
   */
  const refundLate = async (purchase: Purchase, payment: Payment, tx: Executor): Promise<Settled> => {
    const held = await ledger.platformAccount('adjustments', purchase.currency, tx);
    const clearing = await ledger.platformAccount('provider_clearing', purchase.currency, tx);
    const net = payment.amount - payment.feeAmount;
    const { transferId } = await ledger.transfer(
      {
        key: `payment:${payment.id}:captured`,
        kind: 'payment',
        currency: purchase.currency,
        legs: [
          { accountId: clearing, amount: -net },
          { accountId: held, amount: net },
        ],
        reference: { type: 'purchase', id: purchase.id },
        description: `Payment for a ${purchase.status} checkout: held for its refund`,
        metadata: { purchaseId: purchase.id, autoRefundReason: 'checkout_expired' },
      },
      tx,
    );
    await repo.recordEvent(
      {
        userId: purchase.customerId,
        eventType: 'purchase_late_payment_refunded',
        eventData: { purchaseId: purchase.id, paymentId: payment.id, status: purchase.status, amountCents: payment.amount, currency: purchase.currency },
      },
      tx,
    );
    const title = await titleOf(purchase, tx);
    await notifications.notify(
      {
        userId: purchase.customerId,
        type: 'refund',
        title: `Refunded: ${title}`,
        message: `Your payment for ${title} arrived after its checkout had ended, so it is being refunded in full (${formatMoney(payment.amount, purchase.currency)}).`,
        relatedId: purchase.id,
        organizationId: purchase.organizationId,
      },
      tx,
    );
    log.warn({ purchaseId: purchase.id, paymentId: payment.id, status: purchase.status }, 'a payment arrived for a checkout that cannot be completed; refunding it');
    return { transferId, receiptUrl: null, refund: { reason: 'checkout_expired' } };
  };

  /**
   * The verified webhook said the money arrived: split it in one transfer, grant access, send the
   * receipt. A checkout that expired (or failed) while the customer was still paying is honoured
   * when it can be: when no other purchase of the item is live for the customer, it is completed
   * as if it had not expired, since that is what the customer paid for. When one is (the customer
   * started a new checkout, or bought it), completing it would break the one-live-purchase rule,
   * so the late payment is refunded instead. Either way the webhook is acknowledged.
   */
  const succeeded = async (payment: Payment, tx: Executor): Promise<string | Settled> => {
    const purchase = await repo.lockPurchase(payment.referenceId!, tx);
    if (!purchase) throw new Error(`payment ${payment.id} has no purchase`);
    const patch = {
      status: 'completed' as const,
      purchasedAt: new Date(),
      stripePaymentIntentId: purchase.stripePaymentIntentId ?? payment.gatewayPaymentId,
      paymentId: payment.id,
    };
    let done: Purchase | undefined;
    if (purchase.status === 'pending') {
      done = await repo.updatePurchase(purchase.id, patch, tx, ['pending']);
    } else if (purchase.status === 'expired' || purchase.status === 'failed') {
      // In a savepoint: the partial unique index refuses a second live purchase of the item.
      try {
        done = await tx.transaction((sp) => repo.updatePurchase(purchase.id, patch, sp, ['expired', 'failed']));
      } catch (err) {
        if (!isUniqueViolation(err, 'purchases_one_live_per_content') && !isUniqueViolation(err, 'purchases_one_live_per_series')) throw err;
      }
    }
    if (!done) return refundLate(purchase, payment, tx);
    const seller = purchase.organizationId
      ? await ledger.wallet({ organizationId: purchase.organizationId }, purchase.currency, tx)
      : await ledger.wallet({ userId: purchase.creatorId }, purchase.currency, tx);
    const clearing = await ledger.platformAccount('provider_clearing', purchase.currency, tx);
    const revenue = await ledger.platformAccount('platform_revenue', purchase.currency, tx);
    // The platform keeps its fee and bears the provider's processing fee, as it does for top-ups.
    const legs: Leg[] = [{ accountId: clearing, amount: -(payment.amount - payment.feeAmount) }];
    if (purchase.creatorPayoutCents)
      {legs.push({ accountId: seller.available, amount: purchase.creatorPayoutCents });}
    const platformNet = purchase.platformFeeCents - payment.feeAmount;
    if (platformNet) legs.push({ accountId: revenue, amount: platformNet });
    const { transferId } = await ledger.transfer(
      {
        key: `payment:${payment.id}:captured`,
        kind: 'sale',
        currency: purchase.currency,
        legs,
        reference: { type: 'purchase', id: purchase.id },
        description: 'Content sale',
        metadata: {
          purchaseId: purchase.id,
          platformFeeBps: purchase.platformFeeBps,
          platformFeeSource: purchase.platformFeeSource,
        },
      },
      tx,
    );
    if (done.contentId) {
      await repo.grant(
        {
          userId: done.customerId,
          contentId: done.contentId,
          organizationId: done.organizationId,
          accessType: 'purchased',
          purchaseId: done.id,
        },
        tx,
      );
      await repo.bumpPurchaseCount(done.contentId, 1, tx);
    } else {
      const series = await repo.getSeries(done.seriesId!, tx);
      for (const cid of series?.contentOrder ?? []) await repo.bumpPurchaseCount(cid, 1, tx);
    }
    await repo.recordEvent({ userId: done.customerId, eventType: 'purchase_completed', eventData: { purchaseId: done.id, contentId: done.contentId, seriesId: done.seriesId, amountCents: done.amountPaidCents, currency: done.currency } }, tx);
    const title = await titleOf(done, tx);
    const amount = formatMoney(done.amountPaidCents, done.currency);
    await notifications.notify(
      {
        userId: done.customerId,
        type: 'purchase',
        title: `Receipt: ${title}`,
        message: `You bought ${title} for ${amount}. It is yours to watch now.`,
        actionUrl: done.contentId
          ? `/v1/content/${done.contentId}/playback`
          : `/v1/catalog/series/${done.seriesId}`,
        relatedId: done.id,
        organizationId: done.organizationId,
        email: {
          type: 'purchase_receipt',
          subject: `Your receipt for ${title}`,
          text: `Thank you for your purchase.\n\nItem: ${title}\nAmount: ${amount}\nPurchase: ${done.id}\nDate: ${done.purchasedAt!.toISOString()}\n`,
        },
      },
      tx,
    );
    return transferId;
  };

  const handler = {
    succeeded,
    async refunded(payment: Payment, refund: Refund, tx: Executor) {
      const purchase = await repo.lockPurchase(payment.referenceId!, tx);
      if (!purchase || purchase.status !== 'completed') return;
      // A partial refund is a goodwill gesture: access stays until the whole amount is back.
      if (payment.refundAmount < payment.amount) return;
      const reason = refund.reason;
      const done = (await repo.updatePurchase(
        purchase.id,
        { status: 'refunded', refundedAt: new Date(), refundReason: reason },
        tx,
      ))!;
      await repo.revokeGrantsOfPurchase(done.id, tx);
      if (done.contentId) {
        await repo.bumpPurchaseCount(done.contentId, -1, tx);
      } else {
        const series = await repo.getSeries(done.seriesId!, tx);
        for (const cid of series?.contentOrder ?? []) await repo.bumpPurchaseCount(cid, -1, tx);
      }
      await repo.recordEvent({ userId: done.customerId, eventType: 'purchase_refunded', eventData: { purchaseId: done.id, amountCents: refund.amount, currency: done.currency } }, tx);
      const title = await titleOf(done, tx);
      const amount = formatMoney(refund.amount, done.currency);
      await notifications.notify(
        {
          userId: done.customerId,
          type: 'refund',
          title: `Refunded: ${title}`,
          message: `Your purchase of ${title} was refunded (${amount}). Access to it has ended.`,
          relatedId: done.id,
          organizationId: done.organizationId,
          email: {
            type: 'refund_notice',
            subject: `Your refund for ${title}`,
            text: `Your purchase of ${title} was refunded.\n\nAmount: ${amount}\nPurchase: ${done.id}\n${reason ? `Reason: ${reason}\n` : ''}`,
          },
        },
        tx,
      );
    },
    async failed(payment: Payment, tx: Executor) {
      if (payment.referenceId)
        {await repo.updatePurchase(payment.referenceId, { status: 'failed' }, tx, ['pending']);}
    },
  };
  payments.register('purchase', handler);

  /** The seller's view of a purchase: its organization's sales managers, or the creator for personal sales. */
  const requireSeller = async (
    actor: Actor,
    purchase: Purchase | undefined,
    permission: 'sales.read' | 'sales.manage',
  ): Promise<Purchase> => {
    const user = access.requireUser(actor);
    if (!purchase) throw notFound('Purchase');
    if (purchase.organizationId) {
      try {
        await access.requireOrg(actor, purchase.organizationId, permission);
      } catch (err) {
        if (err instanceof AppError && err.kind === 'not_found') throw notFound('Purchase');
        throw err;
      }
    } else if (purchase.creatorId !== user.userId) throw notFound('Purchase');
    return purchase;
  };

  const service = {
    /**
     * Starts a checkout. The partial unique index on live purchases lets one pending or completed
     * purchase exist per customer and item, so parallel requests make one purchase and one charge;
     * the others get that checkout back (or 409 while its intent is still being created).
     */
    async checkout(
      actor: Actor,
      input: { contentId?: string | undefined; seriesId?: string | undefined; paymentMethod: string },
    ): Promise<CheckoutResult> {
      const user = access.requireUser(actor);
      let item: {
        creatorId: string;
        organizationId: string | null;
        priceCents: number | null;
        currency: string;
        title: string;
      };
      let target: { contentId: string } | { seriesId: string };
      if (input.contentId) {
        const c = await repo.getContent(input.contentId);
        if (!c || c.status !== 'published' || c.visibility === 'private') throw notFound('Content');
        item = c;
        target = { contentId: c.id };
      } else {
        const s = await repo.getSeries(input.seriesId!);
        if (!s || s.status !== 'published') throw notFound('Series');
        item = s;
        target = { seriesId: s.id };
      }
      if (item.priceCents === null)
        {throw new AppError('unprocessable', 'This is not for sale', { code: 'not_for_sale' });}
      if (item.creatorId === user.userId)
        {throw new AppError('conflict', 'You cannot buy your own content', { code: 'own_content' });}
      const rates = await repo.feeRates(item.creatorId, item.organizationId);
      const fee = platformFeeBps({
        creator: rates.creator,
        organization: rates.organization,
        platformDefault: rates.platform ?? config.platformFeeBps,
      });
      const platformFee = bps(item.priceCents, fee.bps);
      const existing = async (): Promise<CheckoutResult> => {
        const live = await repo.livePurchase(user.userId, target);
        if (!live)
          {throw new AppError('conflict', 'A checkout of this item is being processed; try again', {
            code: 'checkout_in_progress',
          });}
        if (live.status === 'completed')
          {throw new AppError('conflict', 'You already bought this', { code: 'already_purchased' });}
        if (!live.paymentId)
          {throw new AppError('conflict', 'A checkout of this item is being started; try again', {
            code: 'checkout_in_progress',
          });}
        const payment = await payments.get(actor, live.paymentId);
        return { purchase: live, payment, clientSecret: null, nextActionUrl: null, created: false };
      };
      let purchase: Purchase;
      try {
        purchase = await repo.insertPurchase({
          customerId: user.userId,
          ...('contentId' in target ? { contentId: target.contentId } : { seriesId: target.seriesId }),
          creatorId: item.creatorId,
          organizationId: item.organizationId,
          amountPaidCents: item.priceCents,
          currency: item.currency,
          platformFeeCents: platformFee,
          creatorPayoutCents: item.priceCents - platformFee,
          platformFeeBps: fee.bps,
          platformFeeSource: fee.source,
          expiresAt: new Date(Date.now() + config.checkoutExpiryHours * 3600_000),
        });
      } catch (err) {
        if (
          isUniqueViolation(err, 'purchases_one_live_per_content') ||
          isUniqueViolation(err, 'purchases_one_live_per_series')
        )
          {return existing();}
        throw err;
      }
      let created;
      try {
        created = await payments.create({
          userId: user.userId,
          organizationId: item.organizationId,
          purpose: 'purchase',
          amount: item.priceCents,
          currency: item.currency,
          paymentMethod: input.paymentMethod,
          reference: { type: 'purchase', id: purchase.id },
          description: `Fanfare: ${item.title}`,
          metadata: { purchaseId: purchase.id },
        });
      } catch (err) {
        await repo.updatePurchase(purchase.id, { status: 'failed' }, undefined, ['pending']);
        throw err;
      }
      const p = created.payment;
      await repo.recordEvent({
        userId: user.userId,
        sessionId: user.sessionId,
        eventType: 'purchase_start',
        eventData: { purchaseId: purchase.id, ...target, amountCents: item.priceCents, currency: item.currency },
        ipAddress: user.meta.ip?.slice(0, 45) ?? null,
        userAgent: user.meta.userAgent,
      });
      const failed = p.status === 'failed' || p.status === 'cancelled';
      purchase =
        (await repo.updatePurchase(
          purchase.id,
          {
            paymentId: p.id,
            stripePaymentIntentId: p.gatewayPaymentId,
            ...(failed ? { status: 'failed' as const } : {}),
          },
          undefined,
          failed ? ['pending'] : undefined,
        )) ?? (await repo.getPurchase(purchase.id))!;
      return {
        purchase,
        payment: p,
        clientSecret: created.clientSecret,
        nextActionUrl: created.nextActionUrl,
        created: true,
      };
    },

    async get(actor: Actor, id: string): Promise<Purchase> {
      const user = access.requireUser(actor);
      const p = await repo.getPurchase(id);
      if (p && p.customerId === user.userId) return p;
      return requireSeller(actor, p, 'sales.read');
    },

    async mine(actor: Actor, q: PageQuery): Promise<Page<Purchase>> {
      const user = access.requireUser(actor);
      return toPage(
        await repo.listPurchasesOfCustomer(user.userId, { before: decodeCursor(q.cursor), limit: q.limit }),
        q.limit,
      );
    },

    /** Sales of the creator's personal content, or of an organization, with totals per currency. */
    async sales(
      actor: Actor,
      q: PageQuery & { organizationId?: string | undefined; status?: PurchaseStatus | undefined },
    ) {
      const user = access.requireUser(actor);
      if (q.organizationId) await access.requireOrg(actor, q.organizationId, 'sales.read');
      const scope = q.organizationId ? { organizationId: q.organizationId } : { creatorId: user.userId };
      const page = toPage(
        await repo.sales({ ...scope, status: q.status, before: decodeCursor(q.cursor), limit: q.limit }),
        q.limit,
      );
      return { ...page, totals: await repo.salesTotals({ ...scope, status: q.status }) };
    },

    /** The seller refunds a completed purchase in full through the provider; the refunded hook revokes access. */
    async refund(actor: Actor, id: string, input: { reason?: string | undefined }) {
      const purchase = await requireSeller(actor, await repo.getPurchase(id), 'sales.manage');
      if (purchase.status !== 'completed' || !purchase.paymentId)
        {throw new AppError('conflict', `A ${purchase.status} purchase cannot be refunded`, {
          code: 'not_refundable',
        });}
      const refund = await payments.refund(
        actor,
        purchase.paymentId,
        { reason: input.reason },
        { authorized: true },
      );
      return { refund, purchase: (await repo.getPurchase(id))! };
    },

    /** Complimentary or preview access, optionally until `expiresAt`. */
    async grant(
      actor: Actor,
      contentId: string,
      input: {
        userId?: string | undefined;
        email?: string | undefined;
        accessType: Extract<AccessType, 'complimentary' | 'preview'>;
        expiresAt?: Date | null | undefined;
      },
    ): Promise<ContentAccessRow> {
      const user = access.requireUser(actor);
      const c = await repo.getContent(contentId);
      if (!c) throw notFound('Content');
      if (c.organizationId) {
        await access.requireOrg(actor, c.organizationId, 'content.manage').catch((err: unknown) => {
          throw err instanceof AppError && err.kind === 'not_found' ? notFound('Content') : err;
        });
      } else if (c.creatorId !== user.userId) throw notFound('Content');
      const userId = input.userId ?? (input.email ? await repo.userIdByEmail(input.email) : undefined);
      if (!userId)
        {throw new AppError('unprocessable', 'No such user', {
          fields: [{ path: input.email ? 'body.email' : 'body.userId', message: 'no such user' }],
        });}
      if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
        {throw new AppError('bad_request', 'expiresAt must be in the future', {
          fields: [{ path: 'body.expiresAt', message: 'in the past' }],
        });}
      try {
        return await repo.grant({
          userId,
          contentId,
          organizationId: c.organizationId,
          accessType: input.accessType,
          grantedBy: user.userId,
          expiresAt: input.expiresAt ?? null,
        });
      } catch (err) {
        if ((err as { cause?: { code?: string } }).cause?.code === '23503')
          {throw new AppError('unprocessable', 'No such user', {
            fields: [{ path: 'body.userId', message: 'no such user' }],
          });}
        throw err;
      }
    },

    async revoke(actor: Actor, contentId: string, userId: string): Promise<void> {
      const user = access.requireUser(actor);
      const c = await repo.getContent(contentId);
      if (!c) throw notFound('Content');
      if (c.organizationId) await access.requireOrg(actor, c.organizationId, 'content.manage');
      else if (c.creatorId !== user.userId) throw notFound('Content');
      if (!(await repo.revokeGrant(contentId, userId))) throw notFound('Grant');
    },

    /** The expiry job: unpaid checkouts older than the checkout lifetime stop blocking a new one. */
    async expireCheckouts(now = new Date()): Promise<number> {
      const expired = await repo.expirePending(now);
      if (expired.length) log.info({ count: expired.length }, 'expired unpaid checkouts');
      // Their intents stop being payable; one that succeeded meanwhile is settled by its webhook.
      for (const p of expired) if (p.paymentId) await payments.cancel(p.paymentId, 'checkout_expired');
      return expired.length;
    },
  };
  jobs.register('content.expire-checkouts', async () => {
    await service.expireCheckouts();
  });
  return service;
}
export type PurchaseService = ReturnType<typeof createPurchaseService>;
