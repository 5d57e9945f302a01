import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { ledgerTransfers, wallets } from '../ledger/ledger.schema.ts';

const money = () => bigint({ mode: 'number' });

export const paymentPurposes = ['wallet_topup', 'auto_topup', 'purchase', 'invoice', 'order', 'subscription'] as const;
export type PaymentPurpose = (typeof paymentPurposes)[number];
export const paymentStatuses = ['pending', 'requires_action', 'processing', 'success', 'failed', 'cancelled', 'refunded', 'partially_refunded'] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];
export const paymentGateways = ['sandbox', 'stripe'] as const;
export type PaymentGateway = (typeof paymentGateways)[number];

/**
 * Money coming in from a payment provider (the repurposing studio's `payments`, generalised):
 * one row per payment intent. It is credited in the ledger only when the provider's verified
 * webhook says it succeeded; `transfer_id` is that credit.
 */
export const payments = pgTable(
  'payments',
  {
    id: id(),
    userId: uuid().references(() => users.id, { onDelete: 'set null' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'set null' }),
    walletId: uuid().references(() => wallets.id, { onDelete: 'restrict' }),
    purpose: varchar({ length: 30 }).notNull().$type<PaymentPurpose>(),
    referenceType: varchar({ length: 50 }),
    referenceId: uuid(),
    amount: money().notNull(),
    currency: varchar({ length: 3 }).notNull(),
    status: varchar({ length: 30 }).notNull().default('pending').$type<PaymentStatus>(),
    paymentGateway: varchar({ length: 20 }).notNull().$type<PaymentGateway>(),
    paymentMethod: varchar({ length: 20 }).notNull().default('card'),
    gatewayPaymentId: varchar({ length: 255 }),
    gatewayOrderId: varchar({ length: 255 }),
    gatewayResponse: jsonb().$type<Record<string, unknown>>(),
    /** Processing fee and its rule, snapshotted when the payment was created. */
    feeAmount: money().notNull().default(0),
    fees: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    invoiceUrl: text(),
    receiptUrl: text(),
    failureReason: text(),
    paidAt: tz(),
    refundedAt: tz(),
    refundAmount: money().notNull().default(0),
    transferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('payments_gateway_payment_id_unique').on(t.paymentGateway, t.gatewayPaymentId),
    // At most one auto top-up in flight per wallet, whoever races to start one.
    uniqueIndex('payments_one_auto_topup_in_flight')
      .on(t.walletId)
      .where(sql`${t.purpose} = 'auto_topup' and ${t.status} in ('pending', 'requires_action', 'processing')`),
    // At most one payment of an invoice in flight, so two tabs cannot both charge the customer.
    uniqueIndex('payments_one_invoice_payment_in_flight')
      .on(t.referenceId)
      .where(sql`${t.purpose} = 'invoice' and ${t.status} in ('pending', 'processing')`),
    index('idx_payments_user').on(t.userId, t.id),
    index('idx_payments_org').on(t.organizationId),
    index('idx_payments_status').on(t.status),
    index('idx_payments_reference').on(t.referenceType, t.referenceId),
    check('payments_purpose_check', oneOf(t.purpose, paymentPurposes)),
    check('payments_status_check', oneOf(t.status, paymentStatuses)),
    check('payments_gateway_check', oneOf(t.paymentGateway, paymentGateways)),
    check('payments_method_check', oneOf(t.paymentMethod, ['card', 'paypal'])),
    check('payments_amount_positive', sql`${t.amount} > 0`),
    check('payments_refund_not_more_than_paid', sql`${t.refundAmount} >= 0 and ${t.refundAmount} <= ${t.amount}`),
  ],
);

export const refundStatuses = ['pending', 'succeeded', 'failed'] as const;
export type RefundStatus = (typeof refundStatuses)[number];

/** A full or partial refund of a payment; the ledger reversal is `transfer_id`. */
export const refunds = pgTable(
  'refunds',
  {
    id: id(),
    paymentId: uuid()
      .notNull()
      .references(() => payments.id, { onDelete: 'restrict' }),
    amount: money().notNull(),
    currency: varchar({ length: 3 }).notNull(),
    reason: text(),
    status: varchar({ length: 20 }).notNull().default('pending').$type<RefundStatus>(),
    gatewayRefundId: varchar({ length: 255 }),
    transferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    requestedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    ...timestamps(),
  },
  (t) => [
    index('idx_refunds_payment').on(t.paymentId),
    uniqueIndex('refunds_gateway_refund_id_unique').on(t.gatewayRefundId),
    check('refunds_status_check', oneOf(t.status, refundStatuses)),
    check('refunds_amount_positive', sql`${t.amount} > 0`),
  ],
);

/** Every webhook a provider sent us, verified and stored before it is processed, exactly once. */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: id(),
    provider: varchar({ length: 20 }).notNull(),
    eventId: varchar({ length: 255 }).notNull(),
    type: varchar({ length: 100 }).notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    status: varchar({ length: 20 }).notNull().default('received'),
    attempts: integer().notNull().default(0),
    lastError: text(),
    receivedAt: tz().notNull().defaultNow(),
    processedAt: tz(),
  },
  (t) => [
    uniqueIndex('webhook_events_provider_event').on(t.provider, t.eventId),
    check('webhook_events_status_check', oneOf(t.status, ['received', 'processed', 'failed', 'ignored'])),
  ],
);

// --- The sandbox provider's own books: what Stripe would keep on its side. --------------------

export const sandboxIntentStatuses = ['requires_payment_method', 'requires_action', 'processing', 'succeeded', 'canceled'] as const;

export const sandboxPaymentIntents = pgTable(
  'sandbox_payment_intents',
  {
    id: varchar({ length: 64 }).primaryKey(),
    amount: money().notNull(),
    currency: varchar({ length: 3 }).notNull(),
    status: varchar({ length: 30 }).notNull(),
    paymentMethod: varchar({ length: 100 }),
    clientSecret: varchar({ length: 128 }).notNull(),
    amountRefunded: money().notNull().default(0),
    lastError: text(),
    metadata: jsonb().$type<Record<string, string>>().notNull().default({}),
    ...timestamps(),
  },
  (t) => [check('sandbox_payment_intents_status_check', oneOf(t.status, sandboxIntentStatuses))],
);

export const sandboxEvents = pgTable(
  'sandbox_events',
  {
    id: varchar({ length: 64 }).primaryKey(),
    type: varchar({ length: 100 }).notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    attempts: integer().notNull().default(0),
    deliveredAt: tz(),
    lastStatus: integer(),
    lastError: text(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [index('idx_sandbox_events_undelivered').on(t.createdAt).where(sql`${t.deliveredAt} is null`)],
);
