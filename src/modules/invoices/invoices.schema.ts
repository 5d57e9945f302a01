import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { id, oneOf, timestamps, tz } from '../../db/columns.ts';
import { users } from '../identity/identity.schema.ts';
import { organizations } from '../organizations/organizations.schema.ts';
import { ledgerTransfers } from '../ledger/ledger.schema.ts';
import { payments } from '../payments/payments.schema.ts';

const money = () => bigint({ mode: 'number' });

export const invoiceStatuses = ['draft', 'sent', 'paid', 'void'] as const;
export type InvoiceStatus = (typeof invoiceStatuses)[number];
export const issuerTypes = ['organization', 'platform'] as const;
export type IssuerType = (typeof issuerTypes)[number];
/** How a paid invoice was paid: through a payment here, or recorded by the issuer (offline). */
export const paidVia = ['payment', 'offline'] as const;
export type PaidVia = (typeof paidVia)[number];
export const offlineMethods = ['bank_transfer', 'cash', 'cheque', 'upi', 'other'] as const;
export type OfflineMethod = (typeof offlineMethods)[number];

export interface BillingAddress {
  line1?: string | undefined;
  line2?: string | undefined;
  city?: string | undefined;
  state?: string | undefined;
  postalCode?: string | undefined;
}

/** One tax applied to the subtotal, frozen when the invoice is finalized. */
export interface TaxLine {
  name: string;
  country: string;
  rateBps: number;
  amount: number;
}

/**
 * The repurposing studio's `invoices`, generalised: issued by an organization, or by the platform
 * (`issuer_type = 'platform'`, no organization) for its own plans, to a customer user and/or
 * organization. Customer and issuer details are snapshots taken from what was known when the
 * invoice was written, so a later change of an address never rewrites an issued invoice.
 * `invoice_number` is given when the invoice is sent, gaplessly per issuer and year
 * (`invoice_number_counters`); drafts have none.
 */
export const invoices = pgTable(
  'invoices',
  {
    id: id(),
    issuerType: varchar({ length: 20 }).notNull().$type<IssuerType>(),
    /** The issuing organization; null for platform invoices. */
    organizationId: uuid().references(() => organizations.id, { onDelete: 'restrict' }),
    issuerName: varchar({ length: 255 }).notNull(),
    issuerAddress: jsonb().$type<BillingAddress>(),
    issuerCountry: varchar({ length: 2 }),
    issuerTaxId: varchar({ length: 50 }),
    issuerEmail: varchar({ length: 255 }),
    /** The customer: a user of Fanfare (when one is known by the billing e-mail) … */
    userId: uuid().references(() => users.id, { onDelete: 'set null' }),
    /** … and/or an organization that is billed (a studio on a plan). */
    customerOrganizationId: uuid().references(() => organizations.id, { onDelete: 'set null' }),
    billingName: varchar({ length: 255 }).notNull(),
    billingEmail: varchar({ length: 255 }).notNull(),
    billingAddress: jsonb().$type<BillingAddress>(),
    billingCountry: varchar({ length: 2 }),
    /** The customer's tax id (the seed's gst_number: GSTIN in India, VAT number elsewhere). */
    customerTaxId: varchar({ length: 50 }),
    invoiceNumber: varchar({ length: 50 }),
    /** The year the number was counted in (the counter resets each year). */
    numberYear: integer(),
    /** The sequence value inside `number_year`; 1, 2, 3 … without gaps. */
    numberSequence: integer(),
    currency: varchar({ length: 3 }).notNull(),
    /** The sum of the line amounts, before tax (the seed's `amount`). */
    subtotal: money().notNull().default(0),
    taxAmount: money().notNull().default(0),
    totalAmount: money().notNull().default(0),
    taxLines: jsonb().$type<TaxLine[]>().notNull().default([]),
    notes: text(),
    status: varchar({ length: 20 }).notNull().default('draft').$type<InvoiceStatus>(),
    /** The printable page (GET /v1/invoices/:id/html), set when the invoice is sent. */
    invoiceUrl: text(),
    issuedAt: tz(),
    dueAt: tz(),
    paidAt: tz(),
    paidVia: varchar({ length: 20 }).$type<PaidVia>(),
    /** The payment that settled it (paid_via = 'payment'). */
    paymentId: uuid().references(() => payments.id, { onDelete: 'restrict' }),
    /** The ledger transfer that credited the issuer for that payment. */
    transferId: uuid().references(() => ledgerTransfers.id, { onDelete: 'restrict' }),
    offlinePaymentMethod: varchar({ length: 20 }).$type<OfflineMethod>(),
    offlinePaymentReference: varchar({ length: 255 }),
    markedPaidBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    voidedAt: tz(),
    voidReason: text(),
    /** Who made it: a user, or null for the billing engine. */
    createdBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    /**
     * What made it, for the billing engine: unique, so a subscription period is invoiced once
     * (e.g. `subscription:<id>:2026-12`).
     */
    sourceKey: varchar({ length: 255 }),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps(),
  },
  (t) => [
    // One number once per issuer; the platform is the issuer without an organization.
    uniqueIndex('invoices_issuer_number_unique').on(
      sql`coalesce(${t.organizationId}::text, 'platform')`,
      t.invoiceNumber,
    ),
    uniqueIndex('invoices_source_key_unique').on(t.sourceKey),
    index('idx_invoices_user').on(t.userId, t.id),
    index('idx_invoices_issuer').on(t.organizationId, t.id),
    index('idx_invoices_customer_org').on(t.customerOrganizationId, t.id),
    index('idx_invoices_billing_email').on(t.billingEmail, t.id),
    check('invoices_status_check', oneOf(t.status, invoiceStatuses)),
    check('invoices_issuer_type_check', oneOf(t.issuerType, issuerTypes)),
    check('invoices_issuer_check', sql`(${t.issuerType} = 'platform') = (${t.organizationId} is null)`),
    check('invoices_paid_via_check', sql`${t.paidVia} is null or ${oneOf(t.paidVia, paidVia)}`),
    check(
      'invoices_offline_method_check',
      sql`${t.offlinePaymentMethod} is null or ${oneOf(t.offlinePaymentMethod, offlineMethods)}`,
    ),
    check('invoices_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('invoices_amounts_non_negative', sql`${t.subtotal} >= 0 and ${t.taxAmount} >= 0`),
    check('invoices_total_is_sum', sql`${t.totalAmount} = ${t.subtotal} + ${t.taxAmount}`),
    // A draft has no number; a sent or paid invoice has one and an issue date; a voided one has a
    // number only if it had been sent.
    check(
      'invoices_number_by_status',
      sql`(${t.status} = 'draft' and ${t.invoiceNumber} is null) or (${t.status} in ('sent', 'paid') and ${t.invoiceNumber} is not null and ${t.issuedAt} is not null) or ${t.status} = 'void'`,
    ),
    check(
      'invoices_number_parts',
      sql`(${t.invoiceNumber} is null) = (${t.numberSequence} is null) and (${t.numberSequence} is null) = (${t.numberYear} is null)`,
    ),
    check(
      'invoices_paid_check',
      sql`(${t.status} = 'paid') = (${t.paidAt} is not null and ${t.paidVia} is not null)`,
    ),
    check(
      'invoices_paid_by_payment',
      sql`${t.paidVia} is distinct from 'payment' or (${t.paymentId} is not null and ${t.transferId} is not null)`,
    ),
    check('invoices_void_check', sql`(${t.status} = 'void') = (${t.voidedAt} is not null)`),
  ],
);

/** The lines of an invoice, in order; `amount` = quantity × unit amount. */
export const invoiceLineItems = pgTable(
  'invoice_line_items',
  {
    id: id(),
    invoiceId: uuid()
      .notNull()
      .references(() => invoices.id, { onDelete: 'cascade' }),
    position: integer().notNull(),
    description: text().notNull(),
    quantity: integer().notNull(),
    unitAmount: money().notNull(),
    amount: money().notNull(),
    ...timestamps(),
  },
  (t) => [
    uniqueIndex('invoice_line_items_position_unique').on(t.invoiceId, t.position),
    check('invoice_line_items_quantity_positive', sql`${t.quantity} > 0`),
    check('invoice_line_items_unit_amount_non_negative', sql`${t.unitAmount} >= 0`),
    check('invoice_line_items_amount_is_product', sql`${t.amount} = ${t.quantity} * ${t.unitAmount}`),
  ],
);

/**
 * The last number given per issuer and year. Finalizing an invoice increments its row inside the
 * finalizing transaction, which holds the row lock until commit: concurrent finalizations queue,
 * and a rolled-back one gives its number back, so numbers never gap or repeat (a sequence would
 * gap).
 */
export const invoiceNumberCounters = pgTable(
  'invoice_number_counters',
  {
    /** The issuing organization's id, or 'platform'. */
    issuerKey: varchar({ length: 64 }).notNull(),
    year: integer().notNull(),
    lastNumber: integer().notNull().default(0),
    ...timestamps(),
  },
  (t) => [
    primaryKey({ columns: [t.issuerKey, t.year] }),
    check('invoice_number_counters_non_negative', sql`${t.lastNumber} >= 0`),
  ],
);
