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
 * cancelled. `user_id` is who asked for it: the wallet's owner, or for an organization's wallet
 * (`organization_id` set) the member who asked.
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
    /** The payout provider adapter that sent it (`sandbox`, later `stripe_connect`, `paypal_payouts`). */
    provider: varchar({ length: 30 }),
    requestedAt: tz().notNull().defaultNow(),
    approvedAt: tz(),
    approvedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    processedAt: tz(),
    completedAt: tz(),
    failedAt: tz(),
    cancelledAt: tz(),
    failureReason: text(),
    holdTransferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    /** Payout clearing → payout sent, when the provider paid it out. */
    settleTransferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    /** Payout clearing → the wallet again, when it failed or was cancelled. */
    returnTransferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    ...timestamps(),
  },
  (t) => [
    // Keyset pages: a user's own payouts, an organization's, and the operator's queue by status.
    index('idx_payouts_user').on(t.userId, t.id),
    index('idx_payouts_organization').on(t.organizationId, t.id),
    index('idx_payouts_wallet').on(t.walletId, t.id),
    index('idx_payouts_status').on(t.status, t.id),
    index('idx_payouts_requested_at').on(t.requestedAt),
    check('payouts_method_check', oneOf(t.method, payoutMethods)),
    check('payouts_payout_method_check', oneOf(t.payoutMethod, ['stripe', 'paypal', 'crypto'])),
    check('payouts_status_check', oneOf(t.status, payoutStatuses)),
    check('payouts_amount_positive', sql`${t.amount} > 0`),
    check('payouts_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    // Each method carries its own destination.
    check(
      'payouts_destination_check',
      sql`(${t.method} <> 'bank' or ${t.bankDetails} is not null) and (${t.method} <> 'paypal' or ${t.paypalEmail} is not null) and (${t.method} <> 'crypto' or (${t.cryptoAddress} is not null and ${t.cryptoNetwork} is not null))`,
    ),
    // The money moved with the status: held at request, then sent or returned.
    check(
      'payouts_transfers_check',
      sql`${t.holdTransferId} is not null and (${t.status} <> 'completed' or ${t.settleTransferId} is not null) and (${t.status} not in ('failed', 'cancelled') or ${t.returnTransferId} is not null)`,
    ),
  ],
);
