import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { amountSchema, currencySchema } from '../../core/money.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { cryptoNetworks, maskDestination } from './destinations.ts';
import type { Payout } from './payouts.repository.ts';
import { payoutMethods, payoutStatuses } from './payouts.schema.ts';
import type { PayoutService, RequestPayoutInput } from './payouts.service.ts';

export const payoutSchema = z
  .object({
    id: z.uuid(),
    walletId: z.uuid(),
    userId: z.uuid().nullable(),
    organizationId: z.uuid().nullable(),
    amount: z.number().int(),
    currency: z.string(),
    method: z.enum(payoutMethods),
    payoutMethod: z.string(),
    /** Masked: enough to recognise the account, not to reuse it. */
    destination: z.string(),
    cryptoNetwork: z.string().nullable(),
    status: z.enum(payoutStatuses),
    provider: z.string().nullable(),
    providerPayoutId: z.string().nullable(),
    failureReason: z.string().nullable(),
    requestedAt: z.date(),
    approvedAt: z.date().nullable(),
    approvedBy: z.uuid().nullable(),
    processedAt: z.date().nullable(),
    completedAt: z.date().nullable(),
    failedAt: z.date().nullable(),
    cancelledAt: z.date().nullable(),
    holdTransferId: z.uuid().nullable(),
    settleTransferId: z.uuid().nullable(),
    returnTransferId: z.uuid().nullable(),
  })
  .meta({ id: 'Payout' });

export const toPayoutDto = (p: Payout): z.infer<typeof payoutSchema> => ({
  id: p.id,
  walletId: p.walletId,
  userId: p.userId,
  organizationId: p.organizationId,
  amount: p.amount,
  currency: p.currency,
  method: p.method,
  payoutMethod: p.payoutMethod,
  destination: maskDestination(p),
  cryptoNetwork: p.cryptoNetwork,
  status: p.status,
  provider: p.provider,
  providerPayoutId: p.providerPayoutId,
  failureReason: p.failureReason,
  requestedAt: p.requestedAt,
  approvedAt: p.approvedAt,
  approvedBy: p.approvedBy,
  processedAt: p.processedAt,
  completedAt: p.completedAt,
  failedAt: p.failedAt,
  cancelledAt: p.cancelledAt,
  holdTransferId: p.holdTransferId,
  settleTransferId: p.settleTransferId,
  returnTransferId: p.returnTransferId,
});

const common = { amount: amountSchema, currency: currencySchema };
const requestBody = z.discriminatedUnion('method', [
  z
    .object({
      ...common,
      method: z.literal('bank'),
      bank: z
        .object({
          accountHolderName: z.string().min(1).max(200),
          iban: z.string().min(5).max(50).optional(),
          bic: z.string().min(8).max(15).optional(),
          accountNumber: z.string().min(1).max(30).optional(),
          routingNumber: z.string().min(1).max(20).optional(),
          sortCode: z.string().min(1).max(10).optional(),
        })
        .strict(),
    })
    .strict(),
  z.object({ ...common, method: z.literal('paypal'), paypalEmail: z.string().min(3).max(255) }).strict(),
  z
    .object({
      ...common,
      method: z.literal('crypto'),
      crypto: z.object({ network: z.enum(cryptoNetworks), address: z.string().min(20).max(120) }).strict(),
    })
    .strict(),
]);

// The key is required here, not only honoured: paying out twice is the one mistake a retry must not make.
const idempotencyHeader = z.looseObject({ 'idempotency-key': z.string().min(1).max(255) });
const listQuery = pageQuery.extend({ status: z.enum(payoutStatuses).optional() });
const idParams = z.object({ id: z.uuid() });
const page = pageSchema(payoutSchema);
const toPage = (p: { items: Payout[]; nextCursor: string | null }) => ({
  items: p.items.map(toPayoutDto),
  nextCursor: p.nextCursor,
});

const requestDescription =
  "Holds the amount from the wallet's available balance at once (402 when it cannot cover it, and then nothing is created). " +
  'At least PAYOUT_MINIMUM_CENTS (default 5000). Bank: an IBAN (checked by mod 97, optional BIC), or an account number with a US routing number ' +
  '(ABA checksum) or a UK sort code. PayPal: an e-mail address. Crypto: an address of the network (Bitcoin bech32/Base58Check, EVM 0x…, Solana, Tron). ' +
  'An operator approves it, then the payout provider sends it; the money returns to the wallet if it fails or is cancelled. Requires an Idempotency-Key. ' +
  'The sandbox provider declines amounts ending in 13 and PayPal addresses starting with fail.';

export const payoutRoutes =
  (payouts: PayoutService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['payouts'];
    app.post(
      '/v1/payouts',
      {
        schema: {
          tags,
          summary: 'Request a payout from my wallet',
          description: requestDescription,
          headers: idempotencyHeader,
          body: requestBody,
          response: { 201: payoutSchema, ...errorResponses(400, 401, 402, 409, 422) },
        },
      },
      async (req, reply) =>
        reply.status(201).send(toPayoutDto(await payouts.request(req.actor, req.body as RequestPayoutInput))),
    );
    app.get(
      '/v1/payouts',
      {
        schema: {
          tags,
          summary: 'My payouts',
          querystring: listQuery,
          response: { 200: page, ...errorResponses(400, 401) },
        },
      },
      async (req) => toPage(await payouts.listMine(req.actor, req.query)),
    );
    app.get(
      '/v1/payouts/:id',
      {
        schema: {
          tags,
          summary: 'A payout',
          params: idParams,
          response: { 200: payoutSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => toPayoutDto(await payouts.get(req.actor, req.params.id)),
    );
    app.post(
      '/v1/payouts/:id/cancel',
      {
        schema: {
          tags,
          summary: 'Cancel a pending payout (the money returns to the wallet)',
          params: idParams,
          response: { 200: payoutSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toPayoutDto(await payouts.cancel(req.actor, req.params.id)),
    );
    app.post(
      '/v1/orgs/:orgId/payouts',
      {
        schema: {
          tags,
          summary: "Request a payout from an organization's wallet",
          description: `${requestDescription} Needs the payouts.manage permission (owners and admins).`,
          params: z.object({ orgId: z.uuid() }),
          headers: idempotencyHeader,
          body: requestBody,
          response: { 201: payoutSchema, ...errorResponses(400, 401, 402, 403, 404, 409, 422) },
        },
      },
      async (req, reply) =>
        reply
          .status(201)
          .send(
            toPayoutDto(await payouts.request(req.actor, req.body as RequestPayoutInput, req.params.orgId)),
          ),
    );
    app.get(
      '/v1/orgs/:orgId/payouts',
      {
        schema: {
          tags,
          summary: "An organization's payouts",
          params: z.object({ orgId: z.uuid() }),
          querystring: listQuery,
          response: { 200: page, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => toPage(await payouts.listForOrganization(req.actor, req.params.orgId, req.query)),
    );

    // --- operator ---
    const adminTags = ['payouts', 'admin'];
    app.get(
      '/v1/admin/payouts',
      {
        schema: {
          tags: adminTags,
          summary: 'Every payout (operators), e.g. ?status=pending for the approval queue',
          querystring: listQuery,
          response: { 200: page, ...errorResponses(400, 401, 403) },
        },
      },
      async (req) => toPage(await payouts.listAll(req.actor, req.query)),
    );
    app.post(
      '/v1/admin/payouts/:id/approve',
      {
        schema: {
          tags: adminTags,
          summary: 'Approve a pending payout: it goes to the payout provider',
          params: idParams,
          response: { 200: payoutSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toPayoutDto(await payouts.approve(req.actor, req.params.id)),
    );
    app.post(
      '/v1/admin/payouts/:id/reject',
      {
        schema: {
          tags: adminTags,
          summary: 'Reject a pending payout: it fails with the reason and the money returns',
          params: idParams,
          body: z.object({ reason: z.string().trim().min(1).max(500) }).strict(),
          response: { 200: payoutSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toPayoutDto(await payouts.reject(req.actor, req.params.id, req.body.reason)),
    );
  };
