import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, jsonb, pgTable, primaryKey, text, unique, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { newId } from '../../core/ids.ts';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';

const money = () => bigint({ mode: 'number' });

/**
 * A wallet is what people see of their money: per owner (a user or an organization) and currency.
 * Its balances are not written by code: each is the projection of a ledger account
 * (`wallet_available`, `wallet_pending`), kept by the entry trigger in the same transaction.
 * Lifetime totals are statistics the wallet service bumps alongside the transfer.
 */
export const wallets = pgTable(
  'wallets',
  {
    id: id(),
    userId: uuid().references(() => users.id, { onDelete: 'restrict' }),
    organizationId: uuid().references(() => organizations.id, { onDelete: 'restrict' }),
    currency: varchar({ length: 3 }).notNull(),
    /** Pay as Play's `balance`: the spendable balance, equal to balance_available. */
    balance: money().notNull().default(0),
    balanceAvailable: money().notNull().default(0),
    /** Money in escrow (the marketplace's 7-day hold). */
    balancePending: money().notNull().default(0),
    totalEarned: money().notNull().default(0),
    totalEarnedStripe: money().notNull().default(0),
    totalEarnedPaypal: money().notNull().default(0),
    totalWithdrawn: money().notNull().default(0),
    totalWithdrawnStripe: money().notNull().default(0),
    totalWithdrawnPaypal: money().notNull().default(0),
    totalSpentOnPlatform: money().notNull().default(0),
    totalToppedUp: money().notNull().default(0),
    /** Pay as Play: what a minute of play has cost this wallet on average (minor units), kept at each session end. */
    averageMinuteCost: money(),
    stripeAccountId: varchar({ length: 255 }),
    stripeAccountStatus: varchar({ length: 20 }),
    paypalEmail: varchar({ length: 255 }),
    paypalVerified: boolean().notNull().default(false),
    /**
     * Whether the owner may request payouts: kept by the payouts service, true only while the
     * wallet has a verified payout destination and no operator has disabled its payouts.
     */
    payoutsEnabled: boolean().notNull().default(false),
    /** An operator disabled payouts (with the reason): they stay off until an operator re-enables them. */
    payoutsDisabledAt: tz(),
    payoutsDisabledReason: text(),
    payoutsDisabledBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    lastUpdated: tz().notNull().defaultNow(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('wallets_user_currency_unique').on(t.userId, t.currency).where(sql`${t.userId} is not null`),
    uniqueIndex('wallets_org_currency_unique').on(t.organizationId, t.currency).where(sql`${t.organizationId} is not null`),
    check('wallets_one_owner', sql`(${t.userId} is null) <> (${t.organizationId} is null)`),
    check('wallets_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('wallets_balance_non_negative', sql`${t.balance} >= 0 and ${t.balanceAvailable} >= 0 and ${t.balancePending} >= 0`),
    check('wallets_payouts_disabled_reason', sql`(${t.payoutsDisabledAt} is null) = (${t.payoutsDisabledReason} is null)`),
    // The database refuses enabled payouts without a verified destination or under an operator's block.
    // (`is not distinct from`: a null status must not make the condition null, which a CHECK lets pass).
    check('wallets_payouts_enabled_check', sql`not ${t.payoutsEnabled} or (${t.payoutsDisabledAt} is null and (${t.paypalVerified} or ${t.stripeAccountStatus} is not distinct from 'enabled'))`),
    check('wallets_stripe_account_status_check', sql`${t.stripeAccountStatus} is null or ${oneOf(t.stripeAccountStatus, ['enabled', 'pending', 'disabled'])}`),
  ],
);

export const accountKinds = [
  /** A wallet's spendable money (a customer's prepaid balance, a seller's available earnings). */
  'wallet_available',
  /** A wallet's money on hold (escrow) until its release time. */
  'wallet_pending',
  /** The platform's commission and fees earned. */
  'platform_revenue',
  /** Money at the payment provider: goes negative as customers pay in. */
  'provider_clearing',
  /** Processing fees owed to the payment provider. */
  'provider_fees',
  /** Payouts requested and not yet sent or returned. */
  'payout_clearing',
  /** Money paid out through the payout provider. */
  'payout_sent',
  /** Credits granted by the platform (creator platform credits). */
  'credits',
  /** Corrections by an operator. */
  'adjustments',
] as const;
export type AccountKind = (typeof accountKinds)[number];

/**
 * Every balance is an account. `balance` is a projection of the account's entries, written only by
 * the ledger_entries trigger; a CHECK makes an account that may not go negative refuse to.
 */
export const ledgerAccounts = pgTable(
  'ledger_accounts',
  {
    id: id(),
    ownerType: varchar({ length: 20 }).notNull(),
    walletId: uuid().references(() => wallets.id, { onDelete: 'restrict' }),
    kind: varchar({ length: 30 }).notNull().$type<AccountKind>(),
    currency: varchar({ length: 3 }).notNull(),
    allowNegative: boolean().notNull().default(false),
    balance: money().notNull().default(0),
    ...timestamps(),
  },
  (t) => [
    unique('ledger_accounts_owner_kind_currency').on(t.walletId, t.kind, t.currency).nullsNotDistinct(),
    check('ledger_accounts_kind_check', oneOf(t.kind, accountKinds)),
    check('ledger_accounts_owner_check', sql`(${t.ownerType} = 'wallet') = (${t.walletId} is not null) and ${oneOf(t.ownerType, ['wallet', 'platform'])}`),
    check('ledger_accounts_no_overdraft', sql`${t.allowNegative} or ${t.balance} >= 0`),
    check('ledger_accounts_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
);

export const transferKinds = [
  'topup',
  'payment',
  'sale',
  'usage',
  'refund',
  'hold_release',
  'payout_request',
  'payout_sent',
  'payout_returned',
  'adjustment',
  'transfer',
] as const;
export type TransferKind = (typeof transferKinds)[number];

/** One movement of money: its entries sum to zero (enforced by the entry trigger). Append-only. */
export const ledgerTransfers = pgTable(
  'ledger_transfers',
  {
    id: id(),
    idempotencyKey: varchar({ length: 255 }).notNull(),
    kind: varchar({ length: 30 }).notNull().$type<TransferKind>(),
    currency: varchar({ length: 3 }).notNull(),
    referenceType: varchar({ length: 50 }),
    referenceId: uuid(),
    reversesTransferId: uuid(),
    description: text(),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('ledger_transfers_idempotency_key').on(t.idempotencyKey),
    // Partial: a transfer without a reference (or that reverses nothing) is never looked up by it,
    // so it writes no entry into these indexes.
    index('idx_ledger_transfers_reference').on(t.referenceType, t.referenceId).where(sql`${t.referenceId} is not null`),
    index('idx_ledger_transfers_reverses').on(t.reversesTransferId).where(sql`${t.reversesTransferId} is not null`),
    check('ledger_transfers_kind_check', oneOf(t.kind, transferKinds)),
  ],
);

/**
 * Signed amounts: positive raises the account's balance. Append-only, enforced by a trigger.
 * Keyed by (transfer, entry): entries are only ever read by their transfer or their account, so
 * the primary key doubles as the transfer index and a posting writes two index entries per leg,
 * not three.
 */
export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: uuid().notNull().$defaultFn(newId),
    transferId: uuid()
      .notNull()
      .references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    accountId: uuid()
      .notNull()
      .references(() => ledgerAccounts.id, { onDelete: 'restrict' }),
    amount: money().notNull(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'ledger_entries_pkey', columns: [t.transferId, t.id] }),
    index('idx_ledger_entries_account').on(t.accountId, t.id),
    check('ledger_entries_amount_non_zero', sql`${t.amount} <> 0`),
  ],
);

export const holdStatuses = ['held', 'released', 'reversed'] as const;
export type HoldStatus = (typeof holdStatuses)[number];

/**
 * Money parked in a wallet's pending account until `release_at` (the marketplace's 7-day escrow),
 * then moved to its available account by the release job. `amount` shrinks when a refund takes
 * back part of it before release.
 */
export const ledgerHolds = pgTable(
  'ledger_holds',
  {
    id: id(),
    walletId: uuid()
      .notNull()
      .references(() => wallets.id, { onDelete: 'restrict' }),
    transferId: uuid()
      .notNull()
      .references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    amount: money().notNull(),
    currency: varchar({ length: 3 }).notNull(),
    status: varchar({ length: 20 }).notNull().default('held').$type<HoldStatus>(),
    releaseAt: tz().notNull(),
    releasedAt: tz(),
    releaseTransferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    ...timestamps(),
  },
  (t) => [
    index('idx_ledger_holds_due').on(t.releaseAt).where(sql`${t.status} = 'held'`),
    index('idx_ledger_holds_wallet').on(t.walletId),
    uniqueIndex('ledger_holds_transfer_unique').on(t.transferId),
    check('ledger_holds_status_check', oneOf(t.status, holdStatuses)),
    check('ledger_holds_amount_non_negative', sql`${t.amount} >= 0`),
  ],
);
