import type { TaxRate } from '../../config.ts';
import type { Access } from '../../core/access.ts';
import type { Actor, UserActor } from '../../core/actor.ts';
import { AppError, isUniqueViolation, notFound, type FieldProblem } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { bps, formatMoney, MAX_AMOUNT } from '../../core/money.ts';
import { publish } from '../../core/outbox.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db, Executor } from '../../db/client.ts';
import type { AuditService } from '../audit/index.ts';
import { escapeHtml, type IdentityRepository } from '../identity/index.ts';
import type { Leg, LedgerService } from '../ledger/index.ts';
import type { InvariantCheck } from '../ledger/reconcile.ts';
import type { MailService } from '../mail/index.ts';
import type { OrganizationRepository } from '../organizations/index.ts';
import type { CreatedPayment, Payment, PaymentService, Settled } from '../payments/index.ts';
import type {
  Invoice,
  InvoiceLine,
  InvoiceRepository,
  ListScope,
  NewInvoice,
  NewInvoiceLine,
} from './invoices.repository.ts';
import type { BillingAddress, InvoiceStatus, OfflineMethod, TaxLine } from './invoices.schema.ts';

export type Issuer = { kind: 'platform' } | { kind: 'organization'; organizationId: string };

export interface LineInput {
  description: string;
  quantity: number;
  unitAmount: number;
}

export interface CustomerInput {
  /** Where the invoice is mailed; links it to the Fanfare user with this e-mail, if there is one. */
  email: string;
  name?: string | undefined;
  organizationId?: string | null | undefined;
  address?: BillingAddress | null | undefined;
  /** ISO 3166 alpha-2; decides the taxes. Defaults to the linked user's country. */
  country?: string | null | undefined;
  taxId?: string | null | undefined;
}

export interface IssuerDetailsInput {
  name?: string | undefined;
  address?: BillingAddress | null | undefined;
  country?: string | null | undefined;
  taxId?: string | null | undefined;
  email?: string | null | undefined;
}

export interface DraftInput {
  currency: string;
  customer: CustomerInput;
  lines: LineInput[];
  dueAt?: Date | null | undefined;
  notes?: string | null | undefined;
  issuerDetails?: IssuerDetailsInput | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export type DraftPatch = Partial<DraftInput>;

export interface InvoiceWithLines {
  invoice: Invoice;
  lines: InvoiceLine[];
}

/** What the viewer may do with an invoice: it is theirs as issuer, as customer, or both. */
interface Standing {
  invoice: Invoice;
  issuer: 'manage' | 'read' | null;
  customer: 'manage' | 'read' | null;
  user: UserActor | null;
}

export const PLATFORM_ISSUER_NAME = 'Fanfare';
/** Net 30 when the issuer names no due date. */
export const DEFAULT_DUE_DAYS = 30;
const DAY = 24 * 60 * 60 * 1000;

/**
 * Prices an invoice: each line is quantity × unit amount, the subtotal their sum, each tax of the
 * customer's country `bps(subtotal, rate)` (rounded half up once per tax), and the total exactly
 * subtotal + taxes.
 */
export function priceInvoice(lines: readonly LineInput[], rates: readonly TaxRate[], country: string | null) {
  const priced = lines.map((l) => ({ ...l, amount: l.quantity * l.unitAmount }));
  const problems: FieldProblem[] = [];
  priced.forEach((l, i) => {
    if (!Number.isSafeInteger(l.amount) || l.amount > MAX_AMOUNT) {
      problems.push({ path: `body.lines.${i}`, message: `quantity × unitAmount exceeds ${MAX_AMOUNT}` });
    }
  });
  const subtotal = priced.reduce((a, l) => a + l.amount, 0);
  if (!problems.length && subtotal > MAX_AMOUNT) {
    problems.push({ path: 'body.lines', message: `the lines add up to more than ${MAX_AMOUNT}` });
  }
  if (problems.length) {
    throw new AppError('unprocessable', 'The invoice lines are too large', { fields: problems });
  }
  const taxLines: TaxLine[] = country
    ? rates.map((r) => ({ name: r.name, country, rateBps: r.bps, amount: bps(subtotal, r.bps) }))
    : [];
  const taxAmount = taxLines.reduce((a, t) => a + t.amount, 0);
  return { lines: priced, subtotal, taxLines, taxAmount, totalAmount: subtotal + taxAmount };
}

export function formatInvoiceNumber(year: number, sequence: number): string {
  return `INV-${year}-${String(sequence).padStart(6, '0')}`;
}

const statusConflict = (invoice: Invoice, doing: string): AppError => {
  const name = invoice.invoiceNumber ? `Invoice ${invoice.invoiceNumber}` : 'This draft invoice';
  const why: Record<InvoiceStatus, string> = {
    draft: `${name} is still a draft; send it first`,
    sent: `${name} has been sent and can no longer be changed`,
    paid: `${name} is already paid`,
    void: `${name} is void`,
  };
  return new AppError('conflict', `Cannot ${doing}: ${why[invoice.status]}`, {
    code: `invoice_${invoice.status}`,
  });
};

export function createInvoiceService(deps: {
  db: Db;
  repo: InvoiceRepository;
  payments: PaymentService;
  ledger: LedgerService;
  users: IdentityRepository;
  organizations: OrganizationRepository;
  access: Access;
  audit: AuditService;
  mail: MailService;
  log: Logger;
  publicUrl: string;
  taxRates: Readonly<Record<string, readonly TaxRate[]>>;
}) {
  const { db, repo, payments, ledger, access, audit, mail, log, publicUrl, taxRates } = deps;

  const ratesFor = (country: string | null) => (country ? (taxRates[country] ?? []) : []);
  const urlOf = (id: string) => `${publicUrl}/v1/invoices/${id}/html`;

  /** The organization check, as an answer rather than an error: 'none' when the actor is not in it. */
  const orgStanding = async (actor: Actor, organizationId: string): Promise<'manage' | 'read' | null> => {
    for (const permission of ['invoices.manage', 'invoices.read'] as const) {
      try {
        await access.requireOrg(actor, organizationId, permission);
        return permission === 'invoices.manage' ? 'manage' : 'read';
      } catch (err) {
        if (!(err instanceof AppError) || !['forbidden', 'not_found'].includes(err.kind)) throw err;
      }
    }
    return null;
  };

  /**
   * The one authorization step for an existing invoice: who the actor is to it. An invoice the
   * actor may not see (a draft, for its customer) answers 404, so ids leak nothing.
   */
  const standing = async (actor: Actor, id: string, tx: Executor = db): Promise<Standing> => {
    const user = actor.kind === 'api_key' ? null : access.requireUser(actor);
    const invoice = await repo.get(id, tx);
    if (!invoice) throw notFound('Invoice');
    let issuer: Standing['issuer'] = null;
    if (invoice.issuerType === 'platform') issuer = user?.role === 'admin' ? 'manage' : null;
    else issuer = await orgStanding(actor, invoice.organizationId!);
    let customer: Standing['customer'] = null;
    if (invoice.status !== 'draft' && user) {
      if (
        invoice.userId === user.userId ||
        (!invoice.userId && user.emailVerified && invoice.billingEmail === user.email.toLowerCase())
      ) {
        customer = 'manage';
      } else if (invoice.customerOrganizationId) {
        customer = await orgStanding(actor, invoice.customerOrganizationId);
      }
    }
    if (!issuer && !customer) throw notFound('Invoice');
    return { invoice, issuer, customer, user };
  };

  const requireIssuer = (s: Standing): void => {
    if (s.issuer === 'manage') return;
    throw new AppError(
      'forbidden',
      s.issuer === 'read'
        ? 'Your role may read but not change invoices (needs invoices.manage)'
        : 'Only the issuer can do this',
    );
  };

  const authorizeIssuer = async (actor: Actor, issuer: Issuer): Promise<string | null> => {
    if (issuer.kind === 'platform') return access.requirePlatformAdmin(actor).userId;
    await access.requireOrg(actor, issuer.organizationId, 'invoices.manage');
    return actor.kind === 'user' ? actor.userId : null;
  };

  /** The customer's snapshot: linked to the Fanfare user with the billing e-mail, if any. */
  const resolveCustomer = async (c: CustomerInput, tx: Executor) => {
    const email = c.email.trim().toLowerCase();
    const user = await deps.users.getByEmail(email, tx);
    if (c.organizationId && !(await deps.organizations.getById(c.organizationId, tx))) {
      throw new AppError('unprocessable', 'No such customer organization', {
        fields: [{ path: 'body.customer.organizationId', message: 'no such organization' }],
      });
    }
    const name = c.name?.trim() || user?.name;
    if (!name) {
      throw new AppError(
        'unprocessable',
        'The customer needs a billing name (no Fanfare user has this e-mail)',
        { fields: [{ path: 'body.customer.name', message: 'required' }] },
      );
    }
    // users.country_code is free text (the seeds default it to 'IN'): only a two-letter code counts.
    const userCountry = user?.countryCode?.trim().toUpperCase();
    const country =
      c.country !== undefined
        ? c.country
        : userCountry && /^[A-Z]{2}$/.test(userCountry)
          ? userCountry
          : null;
    return {
      userId: user?.id ?? null,
      customerOrganizationId: c.organizationId ?? null,
      billingName: name,
      billingEmail: email,
      billingAddress: c.address ?? null,
      billingCountry: country ?? null,
      customerTaxId: c.taxId ?? null,
    };
  };

  const issuerSnapshot = async (issuer: Issuer, d: IssuerDetailsInput | undefined, tx: Executor) => {
    let name = d?.name;
    if (!name) {
      name =
        issuer.kind === 'platform'
          ? PLATFORM_ISSUER_NAME
          : (await deps.organizations.getById(issuer.organizationId, tx))?.name;
    }
    if (!name) throw notFound('Organization');
    return {
      issuerName: name,
      issuerAddress: d?.address ?? null,
      issuerCountry: d?.country ?? null,
      issuerTaxId: d?.taxId ?? null,
      issuerEmail: d?.email ?? null,
    };
  };

  const pricedFields = (lines: LineInput[], country: string | null) => {
    const p = priceInvoice(lines, ratesFor(country), country);
    const rows: NewInvoiceLine[] = p.lines.map((l) => ({
      description: l.description,
      quantity: l.quantity,
      unitAmount: l.unitAmount,
      amount: l.amount,
    }));
    return {
      rows,
      totals: {
        subtotal: p.subtotal,
        taxLines: p.taxLines,
        taxAmount: p.taxAmount,
        totalAmount: p.totalAmount,
      },
    };
  };

  const writeDraft = async (
    issuer: Issuer,
    input: DraftInput,
    extra: { createdBy: string | null; sourceKey?: string | undefined },
    tx: Executor,
  ): Promise<InvoiceWithLines | undefined> => {
    const customer = await resolveCustomer(input.customer, tx);
    const { rows, totals } = pricedFields(input.lines, customer.billingCountry);
    const row: NewInvoice = {
      issuerType: issuer.kind,
      organizationId: issuer.kind === 'organization' ? issuer.organizationId : null,
      ...(await issuerSnapshot(issuer, input.issuerDetails, tx)),
      ...customer,
      currency: input.currency,
      ...totals,
      notes: input.notes ?? null,
      dueAt: input.dueAt ?? null,
      createdBy: extra.createdBy,
      sourceKey: extra.sourceKey ?? null,
      metadata: input.metadata ?? {},
    };
    const invoice = extra.sourceKey ? await repo.insertUnlessSource(row, tx) : await repo.insert(row, tx);
    if (!invoice) return undefined;
    return { invoice, lines: await repo.replaceLines(invoice.id, rows, tx) };
  };

  /** Finalizes a draft: a gapless number from the issuer's counter, frozen taxes, and the mail. */
  const finalize = async (
    id: string,
    input: { dueAt?: Date | undefined },
    by: { userId: string | null; meta?: Actor['meta'] },
    tx: Executor,
  ): Promise<InvoiceWithLines> => {
    const invoice = (await repo.lock(id, tx))!;
    if (invoice.status !== 'draft') throw statusConflict(invoice, 'send this invoice');
    const lines = await repo.lines(id, tx);
    if (!lines.length) {
      throw new AppError('unprocessable', 'An invoice needs at least one line before it is sent', {
        code: 'invoice_empty',
        fields: [{ path: 'body.lines', message: 'at least one line' }],
      });
    }
    const { totals } = pricedFields(lines, invoice.billingCountry);
    if (totals.totalAmount <= 0) {
      throw new AppError('unprocessable', 'An invoice must total more than zero to be sent', {
        code: 'invoice_zero',
        fields: [{ path: 'body.lines', message: 'total is zero' }],
      });
    }
    const issuedAt = new Date();
    const dueAt = input.dueAt ?? invoice.dueAt ?? new Date(issuedAt.getTime() + DEFAULT_DUE_DAYS * DAY);
    if (dueAt < issuedAt) {
      throw new AppError('unprocessable', 'The due date is before the issue date', {
        fields: [{ path: 'body.dueAt', message: 'must not be in the past' }],
      });
    }
    const year = issuedAt.getUTCFullYear();
    const sequence = await repo.nextNumber(invoice.organizationId ?? 'platform', year, tx);
    const invoiceNumber = formatInvoiceNumber(year, sequence);
    const sent = await repo.update(
      id,
      {
        ...totals,
        status: 'sent',
        invoiceNumber,
        numberYear: year,
        numberSequence: sequence,
        issuedAt,
        dueAt,
        invoiceUrl: urlOf(id),
      },
      tx,
    );
    const total = formatMoney(sent.totalAmount, sent.currency);
    const due = dueAt.toISOString().slice(0, 10);
    await mail.queue(
      {
        to: sent.billingEmail,
        userId: sent.userId,
        type: 'invoice',
        subject: `Invoice ${invoiceNumber} from ${sent.issuerName}: ${total} due ${due}`,
        text: `Hello ${sent.billingName},\n\n${sent.issuerName} sent you invoice ${invoiceNumber} for ${total}, due on ${due}.\n\nView and pay it here: ${sent.invoiceUrl}\n`,
        html: `<p>Hello ${escapeHtml(sent.billingName)},</p><p>${escapeHtml(sent.issuerName)} sent you invoice <strong>${invoiceNumber}</strong> for <strong>${escapeHtml(total)}</strong>, due on ${due}.</p><p><a href="${escapeHtml(sent.invoiceUrl!)}">View and pay the invoice</a></p>`,
      },
      tx,
    );
    await audit.record(
      {
        action: 'invoice.sent',
        userId: by.userId,
        organizationId: sent.organizationId,
        resourceType: 'invoice',
        resourceId: id,
        ...(by.meta ? { meta: by.meta } : {}),
        metadata: { invoiceNumber, totalAmount: sent.totalAmount, currency: sent.currency },
      },
      tx,
    );
    await publish(tx, 'invoice.sent', { invoiceId: id });
    return { invoice: sent, lines };
  };

  /**
   * An invoice's payment settled: the issuer is credited with what the customer paid, and bears
   * the processing fee (the gross and the fee are two entries on its account). A payment that
   * lands on an invoice no longer open (voided while the intent was in flight, or paid meanwhile
   * offline) is not the issuer's: it is held on the platform's adjustments account, which bears
   * the processing fee, and refunded to the customer in full automatically; the invoice stays as
   * it is.
   */
  const settle = async (payment: Payment, tx: Executor): Promise<Settled> => {
    const invoice = payment.referenceId ? await repo.lock(payment.referenceId, tx) : undefined;
    if (!invoice) throw new Error(`payment ${payment.id} names no invoice`);
    if (invoice.status !== 'sent') return refundLate(invoice, payment, tx);
    const issuerAccount = invoice.organizationId
      ? await ledger.wallet({ organizationId: invoice.organizationId }, payment.currency, tx)
      : null;
    const to = issuerAccount
      ? issuerAccount.available
      : await ledger.platformAccount('platform_revenue', payment.currency, tx);
    const transferId = await capture(payment, to, `Invoice ${invoice.invoiceNumber ?? invoice.id} paid`, { invoiceId: invoice.id }, tx);
    if (issuerAccount) {
      await ledger.bumpWalletTotals(
        issuerAccount.wallet.id,
        { totalEarned: payment.amount - payment.feeAmount },
        tx,
      );
    }
    // Under the invoice's row lock, so this cannot fail: it was 'sent' above.
    await repo.transition(
      invoice.id,
      ['sent'],
      {
        status: 'paid',
        paidAt: new Date(),
        paidVia: 'payment',
        paymentId: payment.id,
        transferId,
        userId: invoice.userId ?? payment.userId,
      },
      tx,
    );
    await publish(tx, 'invoice.paid', { invoiceId: invoice.id });
    // The paid invoice's page is the payer's receipt.
    return { transferId, receiptUrl: urlOf(invoice.id) };
  };

  /**
   * The captured payment in one transfer: provider clearing (net of the processor's fee) → `to`,
   * which bears the fee. Keyed by the payment, so a replayed webhook moves nothing.
   */
  const capture = async (payment: Payment, to: string, description: string, metadata: Record<string, unknown>, tx: Executor): Promise<string> => {
    const legs: Leg[] = [{ accountId: to, amount: payment.amount }];
    if (payment.feeAmount) legs.push({ accountId: to, amount: -payment.feeAmount });
    if (payment.amount > payment.feeAmount) {
      legs.push({
        accountId: await ledger.platformAccount('provider_clearing', payment.currency, tx),
        amount: -(payment.amount - payment.feeAmount),
      });
    }
    const { transferId } = await ledger.transfer(
      { key: `payment:${payment.id}:captured`, kind: 'payment', currency: payment.currency, legs, reference: { type: 'payment', id: payment.id }, description, metadata },
      tx,
    );
    return transferId;
  };

  /** A payment of an invoice no longer open: captured away from the issuer, then refunded. */
  const refundLate = async (invoice: Invoice, payment: Payment, tx: Executor): Promise<Settled> => {
    const reason = invoice.status === 'void' ? 'invoice_void' : 'invoice_already_paid';
    const held = await ledger.platformAccount('adjustments', payment.currency, tx);
    const transferId = await capture(
      payment,
      held,
      `Payment of invoice ${invoice.invoiceNumber ?? invoice.id} after it was ${invoice.status === 'void' ? 'voided' : 'paid'}: held for its refund`,
      { invoiceId: invoice.id, autoRefundReason: reason },
      tx,
    );
    await audit.record(
      {
        action: 'invoice.payment_refunded',
        userId: null,
        organizationId: invoice.organizationId,
        resourceType: 'invoice',
        resourceId: invoice.id,
        metadata: {
          invoiceNumber: invoice.invoiceNumber,
          paymentId: payment.id,
          amount: payment.amount,
          currency: payment.currency,
          reason,
        },
      },
      tx,
    );
    log.warn(
      { invoiceId: invoice.id, paymentId: payment.id, status: invoice.status },
      'a payment settled an invoice no longer open; it is refunded, the issuer was not credited',
    );
    return { transferId, receiptUrl: null, refund: { reason } };
  };
  payments.register('invoice', { succeeded: settle });

  const withLines = async (invoice: Invoice): Promise<InvoiceWithLines> => ({
    invoice,
    lines: await repo.lines(invoice.id),
  });

  const service = {
    priceInvoice,

    async create(actor: Actor, issuer: Issuer, input: DraftInput): Promise<InvoiceWithLines> {
      const createdBy = await authorizeIssuer(actor, issuer);
      return db.transaction(async (tx) => (await writeDraft(issuer, input, { createdBy }, tx))!);
    },

    /**
     * For the billing engine: writes (and by default sends) an invoice without an actor, once per
     * `sourceKey` (e.g. `subscription:<id>:<period>`); a repeat answers the invoice made first.
     */
    async createFromSource(
      issuer: Issuer,
      input: DraftInput & { sourceKey: string; send?: boolean },
    ): Promise<InvoiceWithLines> {
      return db.transaction(async (tx) => {
        const written = await writeDraft(issuer, input, { createdBy: null, sourceKey: input.sourceKey }, tx);
        if (!written) {
          const existing = (await repo.bySourceKey(input.sourceKey, tx))!;
          return { invoice: existing, lines: await repo.lines(existing.id, tx) };
        }
        return input.send === false ? written : finalize(written.invoice.id, {}, { userId: null }, tx);
      });
    },

    async update(actor: Actor, id: string, patch: DraftPatch): Promise<InvoiceWithLines> {
      requireIssuer(await standing(actor, id));
      return db.transaction(async (tx) => {
        const invoice = (await repo.lock(id, tx))!;
        if (invoice.status !== 'draft') throw statusConflict(invoice, 'change this invoice');
        const fields: Partial<NewInvoice> = {};
        if (patch.customer) Object.assign(fields, await resolveCustomer(patch.customer, tx));
        if (patch.issuerDetails) {
          const issuer: Issuer = invoice.organizationId
            ? { kind: 'organization', organizationId: invoice.organizationId }
            : { kind: 'platform' };
          Object.assign(
            fields,
            await issuerSnapshot(
              issuer,
              { ...patch.issuerDetails, name: patch.issuerDetails.name ?? invoice.issuerName },
              tx,
            ),
          );
        }
        if (patch.currency) fields.currency = patch.currency;
        if (patch.dueAt !== undefined) fields.dueAt = patch.dueAt;
        if (patch.notes !== undefined) fields.notes = patch.notes;
        if (patch.metadata) fields.metadata = patch.metadata;
        const country = fields.billingCountry !== undefined ? fields.billingCountry : invoice.billingCountry;
        const lines: LineInput[] = patch.lines ?? (await repo.lines(id, tx));
        const { rows, totals } = pricedFields(lines, country ?? null);
        const updated = await repo.update(id, { ...fields, ...totals }, tx);
        return {
          invoice: updated,
          lines: patch.lines ? await repo.replaceLines(id, rows, tx) : await repo.lines(id, tx),
        };
      });
    },

    async get(
      actor: Actor,
      id: string,
    ): Promise<InvoiceWithLines & { viewer: { issuer: boolean; customer: boolean } }> {
      const s = await standing(actor, id);
      return { ...(await withLines(s.invoice)), viewer: { issuer: !!s.issuer, customer: !!s.customer } };
    },

    /** Invoices an issuer sent (or drafted), newest first. */
    async listIssued(
      actor: Actor,
      issuer: Issuer,
      q: PageQuery & { status?: InvoiceStatus | undefined },
    ): Promise<Page<Invoice>> {
      if (issuer.kind === 'platform') access.requirePlatformAdmin(actor);
      else await access.requireOrg(actor, issuer.organizationId, 'invoices.read');
      const scope: ListScope =
        issuer.kind === 'platform'
          ? { issuer: 'platform' }
          : { issuer: 'organization', organizationId: issuer.organizationId };
      return toPage(
        await repo.list(scope, { before: decodeCursor(q.cursor), limit: q.limit, status: q.status }),
        q.limit,
      );
    },

    /** Invoices addressed to me, or to an organization I read invoices of; never drafts. */
    async listReceived(
      actor: Actor,
      q: PageQuery & { status?: InvoiceStatus | undefined; organizationId?: string | undefined },
    ): Promise<Page<Invoice>> {
      let scope: ListScope;
      if (q.organizationId) {
        await access.requireOrg(actor, q.organizationId, 'invoices.read');
        scope = { customerOrganizationId: q.organizationId };
      } else {
        const user = access.requireUser(actor);
        scope = {
          customerUserId: user.userId,
          customerEmail: user.emailVerified ? user.email.toLowerCase() : null,
        };
      }
      if (q.status === 'draft') return { items: [], nextCursor: null };
      return toPage(
        await repo.list(scope, {
          before: decodeCursor(q.cursor),
          limit: q.limit,
          status: q.status,
          excludeDrafts: true,
        }),
        q.limit,
      );
    },

    async send(actor: Actor, id: string, input: { dueAt?: Date | undefined }): Promise<InvoiceWithLines> {
      const s = await standing(actor, id);
      requireIssuer(s);
      return db.transaction((tx) =>
        finalize(id, input, { userId: s.user?.userId ?? null, meta: actor.meta }, tx),
      );
    },

    /**
     * Voids a draft or a sent invoice; a sent one keeps its number, so the sequence has no gap. A
     * paid invoice cannot be voided: its payment is refunded instead, and it stays as issued. A
     * payment of it still in flight is cancelled at the provider after the void commits; one that
     * cannot be (it had already succeeded) is refunded automatically when its webhook arrives.
     */
    async void(actor: Actor, id: string, input: { reason?: string | undefined }): Promise<Invoice> {
      const s = await standing(actor, id);
      requireIssuer(s);
      const { voided, open } = await db.transaction(async (tx) => {
        const invoice = (await repo.lock(id, tx))!;
        if (invoice.status === 'paid') {
          throw new AppError(
            'conflict',
            `Cannot void invoice ${invoice.invoiceNumber}: it is paid. A paid invoice stays as issued; refund its payment instead${invoice.paymentId ? ` (operators: POST /v1/admin/payments/${invoice.paymentId}/refunds)` : ' (it was paid offline: return the money the way it came)'}`,
            { code: 'invoice_paid' },
          );
        }
        if (invoice.status === 'void') throw statusConflict(invoice, 'void this invoice');
        // Under the row lock: a payment started before this void is seen here, none starts after.
        const open = await payments.openFor({ type: 'invoice', id }, tx);
        const voided = await repo.transition(
          id,
          ['draft', 'sent'],
          { status: 'void', voidedAt: new Date(), voidReason: input.reason ?? null },
          tx,
        );
        await audit.record(
          {
            action: 'invoice.voided',
            userId: s.user?.userId ?? null,
            organizationId: invoice.organizationId,
            resourceType: 'invoice',
            resourceId: id,
            meta: actor.meta,
            metadata: {
              invoiceNumber: invoice.invoiceNumber,
              reason: input.reason ?? null,
              from: invoice.status,
              paymentsInFlight: open.map((p) => p.id),
            },
          },
          tx,
        );
        return { voided: voided!, open };
      });
      for (const p of open) await payments.cancel(p.id, 'invoice_void');
      return voided;
    },

    /** The customer pays a sent invoice through the payment provider; the webhook marks it paid. */
    async pay(actor: Actor, id: string, input: { paymentMethod: string }): Promise<CreatedPayment> {
      const s = await standing(actor, id);
      if (s.customer !== 'manage') {
        throw new AppError(
          'forbidden',
          s.customer
            ? 'Your role may read but not pay invoices (needs invoices.manage)'
            : 'Only the customer can pay this invoice',
        );
      }
      const invoice = s.invoice;
      if (invoice.status !== 'sent') throw statusConflict(invoice, 'pay this invoice');
      // Checked again under the row lock in the payment's own transaction: a void or a mark-paid
      // either lands before (and the payment is refused) or after (and sees the payment).
      const stillOpen = async (tx: Executor) => {
        const locked = (await repo.lock(id, tx))!;
        if (locked.status !== 'sent') throw statusConflict(locked, 'pay this invoice');
      };
      try {
        return await payments.create({
          userId: s.user!.userId,
          organizationId: invoice.customerOrganizationId,
          purpose: 'invoice',
          amount: invoice.totalAmount,
          currency: invoice.currency,
          paymentMethod: input.paymentMethod,
          reference: { type: 'invoice', id: invoice.id },
          description: `Invoice ${invoice.invoiceNumber} from ${invoice.issuerName}`,
          invoiceUrl: invoice.invoiceUrl ?? urlOf(invoice.id),
          metadata: { invoiceId: invoice.id, invoiceNumber: invoice.invoiceNumber },
        }, { guard: stillOpen });
      } catch (err) {
        if (isUniqueViolation(err, 'payments_one_invoice_payment_in_flight')) {
          throw new AppError('conflict', 'A payment of this invoice is already in progress', {
            code: 'payment_in_progress',
          });
        }
        throw err;
      }
    },

    /** The issuer records a payment made outside Fanfare (bank transfer, cash …); audited. */
    async markPaid(
      actor: Actor,
      id: string,
      input: {
        method: OfflineMethod;
        reference?: string | undefined;
        paidAt?: Date | undefined;
        note?: string | undefined;
      },
    ): Promise<Invoice> {
      const s = await standing(actor, id);
      requireIssuer(s);
      const { paid, open } = await db.transaction(async (tx) => {
        const invoice = (await repo.lock(id, tx))!;
        if (invoice.status !== 'sent') throw statusConflict(invoice, 'mark this invoice paid');
        const now = new Date();
        const paidAt = input.paidAt ?? now;
        if (paidAt > now || (invoice.issuedAt && paidAt.getTime() < invoice.issuedAt.getTime() - DAY)) {
          throw new AppError('unprocessable', 'paidAt must be between the issue date and now', {
            fields: [{ path: 'body.paidAt', message: 'out of range' }],
          });
        }
        if (await payments.inFlightFor({ type: 'invoice', id }, tx)) {
          throw new AppError(
            'conflict',
            'Cannot mark this invoice paid: a card payment of it is in progress',
            { code: 'payment_in_progress' },
          );
        }
        const paid = await repo.transition(
          id,
          ['sent'],
          {
            status: 'paid',
            paidAt,
            paidVia: 'offline',
            offlinePaymentMethod: input.method,
            offlinePaymentReference: input.reference ?? null,
            markedPaidBy: s.user?.userId ?? null,
          },
          tx,
        );
        await audit.record(
          {
            action: 'invoice.marked_paid',
            userId: s.user?.userId ?? null,
            organizationId: invoice.organizationId,
            resourceType: 'invoice',
            resourceId: id,
            meta: actor.meta,
            metadata: {
              invoiceNumber: invoice.invoiceNumber,
              method: input.method,
              reference: input.reference ?? null,
              note: input.note ?? null,
              paidAt: paidAt.toISOString(),
              totalAmount: invoice.totalAmount,
              currency: invoice.currency,
            },
          },
          tx,
        );
        await publish(tx, 'invoice.paid', { invoiceId: id });
        // A card payment waiting on the customer's 3-D Secure step is cancelled: it would pay twice.
        return { paid: paid!, open: await payments.openFor({ type: 'invoice', id }, tx) };
      });
      for (const p of open) await payments.cancel(p.id, 'invoice_paid_offline');
      return paid;
    },

    /** For rendering: the invoice and its lines, to its issuer or its customer. */
    async document(actor: Actor, id: string): Promise<InvoiceWithLines> {
      return withLines((await standing(actor, id)).invoice);
    },

    invariants(): InvariantCheck[] {
      return [
        {
          name: 'invoice numbers have no gaps or repeats',
          run: async () =>
            (await repo.numberingGaps()).map(
              (r) =>
                `issuer ${r.issuer} ${r.year}: ${r.count} distinct numbers up to ${r.max}, counter at ${r.counter ?? 'none'}`,
            ),
        },
        {
          name: 'every invoice total is its lines plus taxes',
          run: async () =>
            (await repo.totalMismatches()).map(
              (r) => `invoice ${r.id} totals do not match its lines and taxes`,
            ),
        },
      ];
    },
  };
  return service;
}
export type InvoiceService = ReturnType<typeof createInvoiceService>;
