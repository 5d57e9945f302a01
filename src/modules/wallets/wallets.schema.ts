import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, jsonb, numeric, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { ledgerTransfers, wallets } from '../ledger/ledger.schema.ts';

const money = () => bigint({ mode: 'number' });

/** The union of Pay as Play's and the marketplace's transaction types. */
export const transactionTypes = [
  'topup',
  'payment',
  'refund',
  'withdrawal',
  'usage',
  'product_purchase',
  'service_purchase',
  'webinar_registration',
  'subscription_payment',
  'content_purchase',
  'sale',
  'payout',
  'hold_release',
  'adjustment',
] as const;
export type TransactionType = (typeof transactionTypes)[number];
export const transactionStatuses = ['pending', 'completed', 'failed', 'cancelled', 'refunded', 'disputed'] as const;
export type TransactionStatus = (typeof transactionStatuses)[number];

/**
 * The history line people see for a movement of one wallet's money (both seeds' `transactions`).
 * Money itself moves in the ledger; `transfer_id` links the line to its transfer once it exists
 * (a pending withdrawal's line has its hold transfer, a failed top-up has none).
 */
export const transactions = pgTable(
  'transactions',
  {
    id: id(),
    walletId: uuid()
      .notNull()
      .references(() => wallets.id, { onDelete: 'restrict' }),
    userId: uuid().references(() => users.id, { onDelete: 'set null' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'set null' }),
    transferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    type: varchar({ length: 30 }).notNull().$type<TransactionType>(),
    direction: varchar({ length: 6 }).notNull().$type<'credit' | 'debit'>(),
    amount: money().notNull(),
    currency: varchar({ length: 3 }).notNull(),
    status: varchar({ length: 20 }).notNull().default('pending').$type<TransactionStatus>(),
    paymentMethod: varchar({ length: 50 }),
    paymentProcessor: varchar({ length: 20 }),
    description: text(),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    // The marketplace's sale breakdown (all in minor units), snapshotted at the time of sale.
    buyerId: uuid().references(() => users.id, { onDelete: 'set null' }),
    sellerId: uuid().references(() => users.id, { onDelete: 'set null' }),
    relatedId: uuid(),
    amountTotal: money(),
    amountFees: money(),
    amountCommission: money(),
    amountSeller: money(),
    commissionRate: numeric({ precision: 5, scale: 2 }),
    sellerTier: varchar({ length: 30 }),
    stripePaymentIntentId: varchar({ length: 255 }),
    stripeChargeId: varchar({ length: 255 }),
    paypalTransactionId: varchar({ length: 255 }),
    paypalOrderId: varchar({ length: 255 }),
    completedAt: tz(),
    refundedAt: tz(),
    ...timestamps(),
  },
  (t) => [
    index('idx_transactions_wallet').on(t.walletId, t.id),
    index('idx_transactions_user').on(t.userId),
    index('idx_transactions_type').on(t.type),
    index('idx_transactions_status').on(t.status),
    index('idx_transactions_created_at').on(t.createdAt),
    index('idx_transactions_buyer').on(t.buyerId),
    index('idx_transactions_seller').on(t.sellerId),
    index('idx_transactions_transfer').on(t.transferId),
    index('idx_transactions_stripe_pi').on(t.stripePaymentIntentId),
    check('transactions_type_check', oneOf(t.type, transactionTypes)),
    check('transactions_status_check', oneOf(t.status, transactionStatuses)),
    check('transactions_direction_check', oneOf(t.direction, ['credit', 'debit'])),
    check('transactions_amount_positive', sql`${t.amount} > 0`),
  ],
);

/** Pay as Play's auto top-up: when a debit leaves the wallet under `threshold`, buy `amount`. */
export const autoTopUpSettings = pgTable(
  'auto_top_up_settings',
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    walletId: uuid()
      .notNull()
      .references(() => wallets.id, { onDelete: 'cascade' }),
    enabled: boolean().notNull().default(false),
    threshold: money().notNull().default(1000),
    amount: money().notNull().default(2500),
    paymentMethodId: varchar({ length: 255 }),
    lastTriggeredAt: tz(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('auto_top_up_settings_wallet_unique').on(t.walletId),
    index('idx_auto_topup_settings_user_id').on(t.userId),
    check('auto_top_up_amounts', sql`${t.threshold} >= 0 and ${t.amount} > 0`),
  ],
);
