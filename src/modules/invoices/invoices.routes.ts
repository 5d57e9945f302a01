import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { currencySchema, MAX_AMOUNT } from '../../core/money.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { paymentSchema, toPaymentDto } from '../payments/index.ts';
import { renderInvoiceHtml, renderInvoicePdf } from './invoices.render.ts';
import type { Invoice, InvoiceLine } from './invoices.repository.ts';
import { invoiceStatuses, issuerTypes, offlineMethods, paidVia } from './invoices.schema.ts';
import type { InvoiceService, InvoiceWithLines } from './invoices.service.ts';

const text = (max: number) => z.string().trim().min(1).max(max);
const addressSchema = z
  .object({
    line1: text(200).optional(),
    line2: text(200).optional(),
    city: text(100).optional(),
    state: text(100).optional(),
    postalCode: text(20).optional(),
  })
  .strict();
const countrySchema = z
  .string()
  .regex(/^[A-Za-z]{2}$/, 'must be a two-letter country code (ISO 3166)')
  .transform((s) => s.toUpperCase());
const dateSchema = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((s) => new Date(s));

const customerSchema = z
  .object({
    email: z.email().max(255),
    name: text(255).optional(),
    organizationId: z.uuid().nullable().optional(),
    address: addressSchema.nullable().optional(),
    country: countrySchema
      .nullable()
      .optional()
      .describe('Decides the taxes (TAX_RATES); defaults to the linked user’s country'),
    taxId: text(50).nullable().optional().describe('GSTIN, VAT number …'),
  })
  .strict();
const issuerDetailsSchema = z
  .object({
    name: text(255).optional(),
    address: addressSchema.nullable().optional(),
    country: countrySchema.nullable().optional(),
    taxId: text(50).nullable().optional(),
    email: z.email().max(255).nullable().optional(),
  })
  .strict();
const lineSchema = z
  .object({
    description: text(1000),
    quantity: z.number().int().min(1).max(1_000_000),
    unitAmount: z.number().int().min(0).max(MAX_AMOUNT).describe('Minor units: 1999 is 19.99'),
  })
  .strict();
const draftBody = z
  .object({
    currency: currencySchema,
    customer: customerSchema,
    lines: z.array(lineSchema).max(200).default([]),
    dueAt: dateSchema.nullable().optional(),
    notes: z.string().trim().max(5000).nullable().optional(),
    issuerDetails: issuerDetailsSchema.optional(),
  })
  .strict();
const patchBody = z
  .object({
    currency: currencySchema.optional(),
    customer: customerSchema.optional(),
    lines: z.array(lineSchema).max(200).optional(),
    dueAt: dateSchema.nullable().optional(),
    notes: z.string().trim().max(5000).nullable().optional(),
    issuerDetails: issuerDetailsSchema.optional(),
  })
  .strict();

const taxLineSchema = z.object({
  name: z.string(),
  country: z.string(),
  rateBps: z.number().int(),
  amount: z.number().int(),
});
const lineDto = z.object({
  id: z.uuid(),
  position: z.number().int(),
  description: z.string(),
  quantity: z.number().int(),
  unitAmount: z.number().int(),
  amount: z.number().int(),
});
const addressDto = z
  .object({
    line1: z.string().optional(),
    line2: z.string().optional(),
    city: z.string().optional(),
    state: z.string().optional(),
    postalCode: z.string().optional(),
  })
  .nullable();
const invoiceDto = z.object({
  id: z.uuid(),
  status: z.enum(invoiceStatuses),
  invoiceNumber: z.string().nullable(),
  issuerType: z.enum(issuerTypes),
  organizationId: z.uuid().nullable(),
  issuer: z.object({
    name: z.string(),
    address: addressDto,
    country: z.string().nullable(),
    taxId: z.string().nullable(),
    email: z.string().nullable(),
  }),
  customer: z.object({
    userId: z.uuid().nullable(),
    organizationId: z.uuid().nullable(),
    name: z.string(),
    email: z.string(),
    address: addressDto,
    country: z.string().nullable(),
    taxId: z.string().nullable(),
  }),
  currency: z.string(),
  subtotal: z.number().int(),
  taxLines: z.array(taxLineSchema),
  taxAmount: z.number().int(),
  totalAmount: z.number().int(),
  notes: z.string().nullable(),
  invoiceUrl: z.string().nullable(),
  issuedAt: z.date().nullable(),
  dueAt: z.date().nullable(),
  paidAt: z.date().nullable(),
  paidVia: z.enum(paidVia).nullable(),
  paymentId: z.uuid().nullable(),
  offlinePaymentMethod: z.enum(offlineMethods).nullable(),
  offlinePaymentReference: z.string().nullable(),
  voidedAt: z.date().nullable(),
  voidReason: z.string().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const withLinesDto = invoiceDto.extend({ lines: z.array(lineDto) });

export const toInvoiceDto = (i: Invoice): z.infer<typeof invoiceDto> => ({
  id: i.id,
  status: i.status,
  invoiceNumber: i.invoiceNumber,
  issuerType: i.issuerType,
  organizationId: i.organizationId,
  issuer: {
    name: i.issuerName,
    address: i.issuerAddress,
    country: i.issuerCountry,
    taxId: i.issuerTaxId,
    email: i.issuerEmail,
  },
  customer: {
    userId: i.userId,
    organizationId: i.customerOrganizationId,
    name: i.billingName,
    email: i.billingEmail,
    address: i.billingAddress,
    country: i.billingCountry,
    taxId: i.customerTaxId,
  },
  currency: i.currency,
  subtotal: i.subtotal,
  taxLines: i.taxLines,
  taxAmount: i.taxAmount,
  totalAmount: i.totalAmount,
  notes: i.notes,
  invoiceUrl: i.invoiceUrl,
  issuedAt: i.issuedAt,
  dueAt: i.dueAt,
  paidAt: i.paidAt,
  paidVia: i.paidVia,
  paymentId: i.paymentId,
  offlinePaymentMethod: i.offlinePaymentMethod,
  offlinePaymentReference: i.offlinePaymentReference,
  voidedAt: i.voidedAt,
  voidReason: i.voidReason,
  createdAt: i.createdAt,
  updatedAt: i.updatedAt,
});
const toLineDto = (l: InvoiceLine) => ({
  id: l.id,
  position: l.position,
  description: l.description,
  quantity: l.quantity,
  unitAmount: l.unitAmount,
  amount: l.amount,
});
const toWithLines = (d: InvoiceWithLines) => ({ ...toInvoiceDto(d.invoice), lines: d.lines.map(toLineDto) });

export const invoiceRoutes =
  (invoices: InvoiceService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['invoices'];
    const idParams = z.object({ id: z.uuid() });
    const orgParams = z.object({ orgId: z.uuid() });
    const listQuery = pageQuery.extend({ status: z.enum(invoiceStatuses).optional() });
    const taxNote =
      'Taxes follow the customer’s billing country (TAX_RATES; GST 18 % for IN by default), each rounded half up on the subtotal; the total is subtotal + taxes.';

    app.post(
      '/v1/orgs/:orgId/invoices',
      {
        schema: {
          tags,
          summary: 'Write a draft invoice from an organization',
          description: `Drafts have no number; sending gives one (INV-YYYY-NNNNNN, without gaps per issuer and year). ${taxNote}`,
          params: orgParams,
          body: draftBody,
          response: { 201: withLinesDto, ...errorResponses(400, 401, 403, 404, 422) },
        },
      },
      async (req, reply) =>
        reply
          .status(201)
          .send(
            toWithLines(
              await invoices.create(
                req.actor,
                { kind: 'organization', organizationId: req.params.orgId },
                req.body,
              ),
            ),
          ),
    );
    app.get(
      '/v1/orgs/:orgId/invoices',
      {
        schema: {
          tags,
          summary: 'Invoices an organization issued',
          params: orgParams,
          querystring: listQuery,
          response: { 200: pageSchema(invoiceDto), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const page = await invoices.listIssued(
          req.actor,
          { kind: 'organization', organizationId: req.params.orgId },
          req.query,
        );
        return { items: page.items.map(toInvoiceDto), nextCursor: page.nextCursor };
      },
    );
    app.post(
      '/v1/admin/invoices',
      {
        schema: {
          tags,
          summary: 'Write a draft platform invoice (operators)',
          description: `The platform is the issuer (e.g. studio plans), numbered on its own sequence. ${taxNote}`,
          body: draftBody,
          response: { 201: withLinesDto, ...errorResponses(400, 401, 403, 422) },
        },
      },
      async (req, reply) =>
        reply.status(201).send(toWithLines(await invoices.create(req.actor, { kind: 'platform' }, req.body))),
    );
    app.get(
      '/v1/admin/invoices',
      {
        schema: {
          tags,
          summary: 'Platform invoices (operators)',
          querystring: listQuery,
          response: { 200: pageSchema(invoiceDto), ...errorResponses(400, 401, 403) },
        },
      },
      async (req) => {
        const page = await invoices.listIssued(req.actor, { kind: 'platform' }, req.query);
        return { items: page.items.map(toInvoiceDto), nextCursor: page.nextCursor };
      },
    );
    app.get(
      '/v1/invoices',
      {
        schema: {
          tags,
          summary: 'Invoices addressed to me (or to an organization of mine)',
          description:
            'Mine by user, or by my verified e-mail address; with `organizationId`, those billed to that organization.',
          querystring: listQuery.extend({ organizationId: z.uuid().optional() }),
          response: { 200: pageSchema(invoiceDto), ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const page = await invoices.listReceived(req.actor, req.query);
        return { items: page.items.map(toInvoiceDto), nextCursor: page.nextCursor };
      },
    );
    app.get(
      '/v1/invoices/:id',
      {
        schema: {
          tags,
          summary: 'An invoice (its issuer or its customer)',
          params: idParams,
          response: { 200: withLinesDto, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => toWithLines(await invoices.get(req.actor, req.params.id)),
    );
    app.patch(
      '/v1/invoices/:id',
      {
        schema: {
          tags,
          summary: 'Change a draft invoice',
          description: `\`lines\`, when given, replaces every line; \`customer\`, when given, replaces the customer’s details. Only drafts change (409 otherwise). ${taxNote}`,
          params: idParams,
          body: patchBody,
          response: { 200: withLinesDto, ...errorResponses(400, 401, 403, 404, 409, 422) },
        },
      },
      async (req) => toWithLines(await invoices.update(req.actor, req.params.id, req.body)),
    );
    app.post(
      '/v1/invoices/:id/send',
      {
        schema: {
          tags,
          summary: 'Finalize and send a draft invoice',
          description:
            'Gives the next number of the issuer’s year, freezes the taxes, and mails the customer a link. Due in 30 days unless `dueAt` says otherwise.',
          params: idParams,
          body: z.object({ dueAt: dateSchema.optional() }).strict().optional(),
          response: { 200: withLinesDto, ...errorResponses(400, 401, 403, 404, 409, 422) },
        },
      },
      async (req) => toWithLines(await invoices.send(req.actor, req.params.id, req.body ?? {})),
    );
    app.post(
      '/v1/invoices/:id/void',
      {
        schema: {
          tags,
          summary: 'Void a draft or sent invoice',
          description:
            'A voided sent invoice keeps its number. A paid invoice cannot be voided (409): refund its payment instead; it stays as issued.',
          params: idParams,
          body: z
            .object({ reason: text(500).optional() })
            .strict()
            .optional(),
          response: { 200: invoiceDto, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toInvoiceDto(await invoices.void(req.actor, req.params.id, req.body ?? {})),
    );
    app.post(
      '/v1/invoices/:id/pay',
      {
        schema: {
          tags,
          summary: 'Pay a sent invoice (the customer)',
          description:
            "Creates a payment with the provider; the invoice is marked paid, and the issuer credited less the processing fee, when the provider's signed webhook confirms it. Send an Idempotency-Key. In the sandbox, paymentMethod is one of Stripe's test methods.",
          params: idParams,
          body: z.object({ paymentMethod: z.string().min(1).max(100).default('pm_card_visa') }).strict(),
          response: {
            201: z.object({
              payment: paymentSchema,
              clientSecret: z.string().nullable(),
              nextActionUrl: z.string().nullable(),
            }),
            ...errorResponses(400, 401, 403, 404, 409, 503),
          },
        },
      },
      async (req, reply) => {
        const created = await invoices.pay(req.actor, req.params.id, req.body);
        return reply.status(201).send({
          payment: toPaymentDto(created.payment),
          clientSecret: created.clientSecret,
          nextActionUrl: created.nextActionUrl,
        });
      },
    );
    app.post(
      '/v1/invoices/:id/mark-paid',
      {
        schema: {
          tags,
          summary: 'Record an offline payment (the issuer)',
          description:
            'For money received outside Fanfare (bank transfer, cash …): nothing moves in the ledger; the change is audited. Send an Idempotency-Key.',
          params: idParams,
          body: z
            .object({
              method: z.enum(offlineMethods),
              reference: text(255).optional(),
              paidAt: dateSchema.optional(),
              note: text(1000).optional(),
            })
            .strict(),
          response: { 200: invoiceDto, ...errorResponses(400, 401, 403, 404, 409, 422) },
        },
      },
      async (req) => toInvoiceDto(await invoices.markPaid(req.actor, req.params.id, req.body)),
    );
    app.get(
      '/v1/invoices/:id/html',
      {
        schema: {
          tags,
          summary: 'The invoice as a printable page',
          params: idParams,
          response: { 200: z.string(), ...errorResponses(400, 401, 404) },
        },
      },
      async (req, reply) =>
        reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
          .send(renderInvoiceHtml(await invoices.document(req.actor, req.params.id))),
    );
    app.get(
      '/v1/invoices/:id/pdf',
      {
        schema: {
          tags,
          summary: 'The invoice as a PDF',
          params: idParams,
          response: { 200: z.any(), ...errorResponses(400, 401, 404) },
        },
      },
      async (req, reply) => {
        const doc = await invoices.document(req.actor, req.params.id);
        const name = (doc.invoice.invoiceNumber ?? `draft-${doc.invoice.id}`).replace(/[^\w.-]/g, '_');
        return reply
          .type('application/pdf')
          .header('content-disposition', `inline; filename="${name}.pdf"`)
          .send(await renderInvoicePdf(doc));
      },
    );
  };
