import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { errorResponses } from '../../core/http.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { Payment, Refund } from './payments.repository.ts';
import { paymentStatuses } from './payments.schema.ts';
import type { PaymentService } from './payments.service.ts';
import type { SandboxProvider } from './sandbox.provider.ts';

export const paymentSchema = z.object({
  id: z.uuid(),
  purpose: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(paymentStatuses),
  paymentGateway: z.string(),
  paymentMethod: z.string(),
  gatewayPaymentId: z.string().nullable(),
  feeAmount: z.number().int(),
  refundAmount: z.number().int(),
  failureReason: z.string().nullable(),
  walletId: z.uuid().nullable(),
  invoiceUrl: z.string().nullable(),
  receiptUrl: z.string().nullable(),
  paidAt: z.date().nullable(),
  refundedAt: z.date().nullable(),
  createdAt: z.date(),
});
export const toPaymentDto = (p: Payment): z.infer<typeof paymentSchema> => ({
  id: p.id,
  purpose: p.purpose,
  amount: p.amount,
  currency: p.currency,
  status: p.status,
  paymentGateway: p.paymentGateway,
  paymentMethod: p.paymentMethod,
  gatewayPaymentId: p.gatewayPaymentId,
  feeAmount: p.feeAmount,
  refundAmount: p.refundAmount,
  failureReason: p.failureReason,
  walletId: p.walletId,
  invoiceUrl: p.invoiceUrl,
  receiptUrl: p.receiptUrl,
  paidAt: p.paidAt,
  refundedAt: p.refundedAt,
  createdAt: p.createdAt,
});
const refundSchema = z.object({ id: z.uuid(), paymentId: z.uuid(), amount: z.number().int(), currency: z.string(), status: z.string(), reason: z.string().nullable(), createdAt: z.date() });
const toRefundDto = (r: Refund) => ({ id: r.id, paymentId: r.paymentId, amount: r.amount, currency: r.currency, status: r.status, reason: r.reason, createdAt: r.createdAt });

export const paymentRoutes = (payments: PaymentService, sandbox: SandboxProvider | null): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['payments'];
    const listQuery = pageQuery.extend({ status: z.enum(paymentStatuses).optional() });

    app.get('/v1/payments', { schema: { tags, summary: 'My payments', querystring: listQuery, response: { 200: pageSchema(paymentSchema), ...errorResponses(400, 401) } } }, async (req) => {
      const page = await payments.listMine(req.actor, req.query);
      return { items: page.items.map(toPaymentDto), nextCursor: page.nextCursor };
    });
    app.get(
      '/v1/payments/:id',
      { schema: { tags, summary: 'One of my payments', params: z.object({ id: z.uuid() }), response: { 200: paymentSchema, ...errorResponses(400, 401, 404) } } },
      async (req) => toPaymentDto(await payments.get(req.actor, req.params.id)),
    );
    app.get(
      '/v1/payments/:id/refunds',
      { schema: { tags, summary: 'Refunds of a payment', params: z.object({ id: z.uuid() }), response: { 200: z.object({ items: z.array(refundSchema) }), ...errorResponses(400, 401, 404) } } },
      async (req) => ({ items: (await payments.refundsOf(req.actor, req.params.id)).map(toRefundDto) }),
    );
    app.get('/v1/admin/payments', { schema: { tags, summary: 'All payments (operators)', querystring: listQuery, response: { 200: pageSchema(paymentSchema), ...errorResponses(400, 401, 403) } } }, async (req) => {
      const page = await payments.listAll(req.actor, req.query);
      return { items: page.items.map(toPaymentDto), nextCursor: page.nextCursor };
    });
    app.post(
      '/v1/admin/payments/:id/refunds',
      {
        schema: {
          tags,
          summary: 'Refund a payment, fully or in part (operators)',
          description: 'Takes the money back from whoever received it, in proportion, and revokes what the payment granted. Send an Idempotency-Key.',
          params: z.object({ id: z.uuid() }),
          body: z.object({ amount: z.number().int().positive().optional(), reason: z.string().trim().max(500).optional() }).strict(),
          response: { 201: refundSchema, ...errorResponses(400, 401, 402, 403, 404, 409, 422, 503) },
        },
      },
      async (req, reply) => reply.status(201).send(toRefundDto(await payments.refund(req.actor, req.params.id, req.body))),
    );

    // Webhooks need the exact bytes that were signed, so this scope keeps JSON bodies raw.
    await app.register(async (plain) => {
      const scope = plain.withTypeProvider<ZodTypeProvider>();
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
      scope.post(
        '/v1/webhooks/:provider',
        {
          schema: {
            tags: ['webhooks'],
            summary: 'Payment provider webhooks (signed)',
            params: z.object({ provider: z.enum(['sandbox', 'stripe']) }),
            response: { 200: z.object({ received: z.literal(true), status: z.string() }), ...errorResponses(400, 404, 503) },
          },
        },
        async (req) => {
          if (typeof req.body !== 'string') throw new AppError('bad_request', 'Webhook body must be JSON');
          const { status } = await payments.handleWebhook(req.params.provider, req.body, req.headers);
          return { received: true as const, status };
        },
      );
    });

    if (sandbox) {
      app.post(
        '/v1/sandbox/payment-intents/:intentId/authenticate',
        {
          schema: {
            tags: ['sandbox'],
            summary: "Complete the sandbox's 3-D Secure step",
            description: 'What the customer does on the bank page for a payment that requires action.',
            params: z.object({ intentId: z.string().regex(/^pi_sbx_[0-9a-f]{24}$/) }),
            body: z.object({ outcome: z.enum(['succeed', 'fail']) }).strict(),
            response: { 200: z.object({ id: z.string(), status: z.string() }), ...errorResponses(400, 409) },
          },
        },
        async (req) => {
          const r = await sandbox.authenticate(req.params.intentId, req.body.outcome);
          return { id: r.id, status: r.status };
        },
      );
    }
  };
