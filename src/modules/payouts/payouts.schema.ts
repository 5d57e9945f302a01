import { sql } from 'drizzle-orm';
import { bigint, check, index, jsonb, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { ledgerTransfers, wallets } from '../ledger/ledger.schema.ts';

export const payoutMethods = ['bank', 'paypal', 'crypto'] as const;
export type PayoutMethod = (typeof payoutMethods)[number];
export const payoutStatuses = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type PayoutStatus = (typeof payoutStatuses)[number];

/**
 * One mechanism for the marketplace's payouts and Pay as Play's withdrawals. The money leaves the
 * wallet when the payout is requested (held in payout clearing) and comes back if it fails or is
 * cancelled.
 */
export const payouts = pgTable(
  'payouts',
  {
    id: id(),
    userId: uuid().references(() => users.id, { onDelete: 'set null' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'set null' }),
    walletId: uuid()
      .notNull()
      .references(() => wallets.id, { onDelete: 'restrict' }),
    amount: bigint({ mode: 'number' }).notNull(),
    currency: varchar({ length: 3 }).notNull(),
    method: varchar({ length: 10 }).notNull().$type<PayoutMethod>(),
    /** The marketplace's provider rail: stripe for bank payouts, paypal for PayPal. */
    payoutMethod: varchar({ length: 20 }).notNull(),
    bankDetails: jsonb().$type<Record<string, string>>(),
    paypalEmail: varchar({ length: 255 }),
    cryptoAddress: varchar({ length: 255 }),
    cryptoNetwork: varchar({ length: 20 }),
    status: varchar({ length: 20 }).notNull().default('pending').$type<PayoutStatus>(),
    stripePayoutId: varchar({ length: 255 }),
    paypalBatchId: varchar({ length: 255 }),
    providerPayoutId: varchar({ length: 255 }),
    requestedAt: tz().notNull().defaultNow(),
    approvedAt: tz(),
    approvedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    processedAt: tz(),
    completedAt: tz(),
    failedAt: tz(),
    cancelledAt: tz(),
    failureReason: text(),
    holdTransferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    settleTransferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    ...timestamps(),
  },
  (t) => [
    index('idx_payouts_user').on(t.userId),
    index('idx_payouts_wallet').on(t.walletId, t.id),
    index('idx_payouts_status').on(t.status),
    index('idx_payouts_requested_at').on(t.requestedAt),
    check('payouts_method_check', oneOf(t.method, payoutMethods)),
    check('payouts_payout_method_check', oneOf(t.payoutMethod, ['stripe', 'paypal', 'crypto'])),
    check('payouts_status_check', oneOf(t.status, payoutStatuses)),
    check('payouts_amount_positive', sql`${t.amount} > 0`),
  ],
);
