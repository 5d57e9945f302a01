import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { amountSchema, currencySchema } from '../../core/money.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import { cryptoNetworks, maskDestination } from './destinations.ts';
import type { Payout } from './payouts.repository.ts';
import { payoutMethods, payoutStatuses } from './payouts.schema.ts';
import type { PayoutService, PayoutSettings, RequestPayoutInput } from './payouts.service.ts';

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

export const payoutSettingsSchema = z
  .object({
    walletId: z.uuid(),
    currency: z.string(),
    organizationId: z.uuid().nullable(),
    /** Whether payouts may be requested from this wallet now. */
    payoutsEnabled: z.boolean(),
    /** Why they may not: no verified destination yet, or an operator's block. */
    blockedBy: z.enum(['no_verified_destination', 'disabled_by_operator']).nullable(),
    /** What to do for payouts to be enabled. */
    nextStep: z.string().nullable(),
    paypalEmail: z.string().nullable(),
    paypalVerified: z.boolean(),
    stripeAccountId: z.string().nullable(),
    stripeAccountStatus: z.string().nullable(),
    payoutsDisabledAt: z.date().nullable(),
    payoutsDisabledReason: z.string().nullable(),
  })
  .meta({ id: 'PayoutSettings' });

export const toPayoutSettingsDto = (s: PayoutSettings): z.infer<typeof payoutSettingsSchema> => ({
  walletId: s.wallet.id,
  currency: s.wallet.currency,
  organizationId: s.wallet.organizationId,
  payoutsEnabled: s.wallet.payoutsEnabled,
  blockedBy: s.blockedBy,
  nextStep: s.nextStep,
  paypalEmail: s.wallet.paypalEmail,
  paypalVerified: s.wallet.paypalVerified,
  stripeAccountId: s.wallet.stripeAccountId,
  stripeAccountStatus: s.wallet.stripeAccountStatus,
  payoutsDisabledAt: s.wallet.payoutsDisabledAt,
  payoutsDisabledReason: s.wallet.payoutsDisabledReason,
});

const settingsBody = z.object({ paypalEmail: z.string().min(3).max(255).nullable() }).strict();
const settingsDescription =
  'The PayPal address payouts go to. It is verified when it is the e-mail address of your own account and that address is verified ' +
  '(Fanfare holds no other proof that an address is yours); payouts are enabled while the wallet has a verified destination and no operator has disabled them. ' +
  'null removes it.';
const reasonBody = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

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
const adminListQuery = listQuery.extend({
  processingForHours: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 365)
    .optional(),
});
const walletParams = z.object({ id: z.uuid() });
const idParams = z.object({ id: z.uuid() });
const page = pageSchema(payoutSchema);
const toPage = (p: { items: Payout[]; nextCursor: string | null }) => ({
  items: p.items.map(toPayoutDto),
  nextCursor: p.nextCursor,
});

const requestDescription =
  "Holds the amount from the wallet's available balance at once (402 when it cannot cover it, and then nothing is created). " +
  'Refused with 403 payouts_not_enabled, and nothing created, while the wallet has no verified payout destination (see payout-settings) or an operator disabled its payouts. ' +
  'At least PAYOUT_MINIMUM_CENTS (default 5000). Bank: an IBAN (checked by mod 97, optional BIC), or an account number with a US routing number ' +
  '(ABA checksum) or a UK sort code. PayPal: an e-mail address. Crypto: an address of the network (Bitcoin bech32/Base58Check, EVM 0x… with its EIP-55 checksum when in mixed case, Solana, Tron). ' +
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
          response: { 201: payoutSchema, ...errorResponses(400, 401, 402, 403, 409, 422) },
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

    const currencyParams = z.object({ currency: currencySchema });
    app.get(
      '/v1/wallets/:currency/payout-settings',
      {
        schema: {
          tags,
          summary: "My wallet's payout settings: whether payouts are enabled, and why not",
          params: currencyParams,
          response: { 200: payoutSettingsSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => toPayoutSettingsDto(await payouts.settings(req.actor, req.params.currency)),
    );
    app.put(
      '/v1/wallets/:currency/payout-settings',
      {
        schema: {
          tags,
          summary: "Set my wallet's PayPal payout destination",
          description: settingsDescription,
          params: currencyParams,
          body: settingsBody,
          response: { 200: payoutSettingsSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) =>
        toPayoutSettingsDto(await payouts.setPayPal(req.actor, req.params.currency, req.body.paypalEmail)),
    );
    const orgCurrencyParams = currencyParams.extend({ orgId: z.uuid() });
    app.get(
      '/v1/orgs/:orgId/wallets/:currency/payout-settings',
      {
        schema: {
          tags,
          summary: "An organization wallet's payout settings (payouts.manage)",
          params: orgCurrencyParams,
          response: { 200: payoutSettingsSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) =>
        toPayoutSettingsDto(await payouts.settings(req.actor, req.params.currency, req.params.orgId)),
    );
    app.put(
      '/v1/orgs/:orgId/wallets/:currency/payout-settings',
      {
        schema: {
          tags,
          summary: "Set an organization wallet's PayPal payout destination (payouts.manage)",
          description: `${settingsDescription} For an organization's wallet, the account is that of the member setting it.`,
          params: orgCurrencyParams,
          body: settingsBody,
          response: { 200: payoutSettingsSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) =>
        toPayoutSettingsDto(
          await payouts.setPayPal(req.actor, req.params.currency, req.body.paypalEmail, req.params.orgId),
        ),
    );

    // --- operator ---
    const adminTags = ['payouts', 'admin'];
    app.get(
      '/v1/admin/payouts',
      {
        schema: {
          tags: adminTags,
          summary: 'Every payout (operators), e.g. ?status=pending for the approval queue',
          description:
            '?processingForHours=N lists the payouts processing for longer than N hours: handed to the provider, no answer since. ' +
            'Check them with the provider, then mark them completed or failed.',
          querystring: adminListQuery,
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
    app.post(
      '/v1/admin/payouts/:id/mark-completed',
      {
        schema: {
          tags: adminTags,
          summary: 'Close a payout stuck in processing as paid out, with the provider reference',
          description:
            "Does what the provider's completion does: the money moves from payout clearing to payout sent, once. " +
            '409 payout_not_processing for a payout in another state; the same call on a payout completed with that reference answers it unchanged. Audited.',
          params: idParams,
          body: z.object({ providerPayoutId: z.string().trim().min(1).max(255) }).strict(),
          response: { 200: payoutSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) =>
        toPayoutDto(await payouts.markCompleted(req.actor, req.params.id, req.body.providerPayoutId)),
    );
    app.post(
      '/v1/admin/payouts/:id/mark-failed',
      {
        schema: {
          tags: adminTags,
          summary: 'Close a payout stuck in processing as failed: the money returns to the wallet',
          description:
            "Does what the provider's failure does: the held money returns to the wallet, once; a late answer of the provider changes nothing afterwards. " +
            '409 payout_not_processing for a payout in another state; the same call on a failed payout answers it unchanged. Audited.',
          params: idParams,
          body: reasonBody,
          response: { 200: payoutSchema, ...errorResponses(400, 401, 403, 404, 409) },
        },
      },
      async (req) => toPayoutDto(await payouts.markFailed(req.actor, req.params.id, req.body.reason)),
    );
    app.get(
      '/v1/admin/wallets/:id/payout-settings',
      {
        schema: {
          tags: adminTags,
          summary: "A wallet's payout settings (operators)",
          params: walletParams,
          response: { 200: payoutSettingsSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) => toPayoutSettingsDto(await payouts.walletSettings(req.actor, req.params.id)),
    );
    app.post(
      '/v1/admin/wallets/:id/payouts/disable',
      {
        schema: {
          tags: adminTags,
          summary: "Disable a wallet's payouts, with a reason",
          description:
            'Payout requests are refused (403 payouts_not_enabled) and pending payouts cannot be approved until an operator re-enables them, ' +
            'whatever destination the owner verifies meanwhile. The reason is shown to the owner. Audited; disabling a disabled wallet changes nothing.',
          params: walletParams,
          body: reasonBody,
          response: { 200: payoutSettingsSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) =>
        toPayoutSettingsDto(await payouts.disablePayouts(req.actor, req.params.id, req.body.reason)),
    );
    app.post(
      '/v1/admin/wallets/:id/payouts/enable',
      {
        schema: {
          tags: adminTags,
          summary: "Lift an operator's block on a wallet's payouts, with a reason",
          description:
            'Payouts are enabled again if the wallet has a verified destination (the answer says when one is still missing). Audited; enabling a wallet that is not disabled changes nothing.',
          params: walletParams,
          body: reasonBody,
          response: { 200: payoutSettingsSchema, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (req) =>
        toPayoutSettingsDto(await payouts.enablePayouts(req.actor, req.params.id, req.body.reason)),
    );
  };
