import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../../core/http.ts';
import { amountSchema, currencySchema } from '../../core/money.ts';
import { pageQuery, pageSchema } from '../../core/pagination.ts';
import type { Wallet } from '../ledger/index.ts';
import { paymentSchema, toPaymentDto } from '../payments/index.ts';
import type { Transaction } from './wallets.repository.ts';
import { transactionStatuses, transactionTypes } from './wallets.schema.ts';
import type { WalletService } from './wallets.service.ts';

const walletSchema = z.object({
  id: z.uuid(),
  currency: z.string(),
  balance: z.number().int(),
  balanceAvailable: z.number().int(),
  balancePending: z.number().int(),
  totalEarned: z.number().int(),
  totalWithdrawn: z.number().int(),
  totalSpentOnPlatform: z.number().int(),
  totalToppedUp: z.number().int(),
  /** Whether payouts may be requested from it; why not, and the destination, at …/payout-settings. */
  payoutsEnabled: z.boolean(),
  paypalVerified: z.boolean(),
  lastUpdated: z.date(),
});
const toWalletDto = (w: Wallet) => ({
  id: w.id,
  currency: w.currency,
  balance: w.balance,
  balanceAvailable: w.balanceAvailable,
  balancePending: w.balancePending,
  totalEarned: w.totalEarned,
  totalWithdrawn: w.totalWithdrawn,
  totalSpentOnPlatform: w.totalSpentOnPlatform,
  totalToppedUp: w.totalToppedUp,
  payoutsEnabled: w.payoutsEnabled,
  paypalVerified: w.paypalVerified,
  lastUpdated: w.lastUpdated,
});
const transactionSchema = z.object({
  id: z.uuid(),
  type: z.enum(transactionTypes),
  direction: z.enum(['credit', 'debit']),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(transactionStatuses),
  description: z.string().nullable(),
  paymentMethod: z.string().nullable(),
  transferId: z.uuid().nullable(),
  relatedId: z.uuid().nullable(),
  createdAt: z.date(),
  completedAt: z.date().nullable(),
});
const toTransactionDto = (t: Transaction) => ({
  id: t.id,
  type: t.type,
  direction: t.direction,
  amount: t.amount,
  currency: t.currency,
  status: t.status,
  description: t.description,
  paymentMethod: t.paymentMethod,
  transferId: t.transferId,
  relatedId: t.relatedId,
  createdAt: t.createdAt,
  completedAt: t.completedAt,
});
const autoTopUpSchema = z.object({ walletId: z.uuid(), enabled: z.boolean(), threshold: z.number().int(), amount: z.number().int(), paymentMethodId: z.string().nullable(), lastTriggeredAt: z.date().nullable() });

export const walletRoutes = (wallets: WalletService): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['wallets'];
    const currency = z.object({ currency: currencySchema });
    const filters = z.object({
      type: z.enum(transactionTypes).optional(),
      status: z.enum(transactionStatuses).optional(),
      from: z.coerce.date().optional(),
      to: z.coerce.date().optional(),
    });

    app.get('/v1/wallets', { schema: { tags, summary: 'My wallets', response: { 200: z.object({ items: z.array(walletSchema) }), ...errorResponses(401) } } }, async (req) => ({
      items: (await wallets.list(req.actor)).map(toWalletDto),
    }));
    app.get(
      '/v1/wallets/:currency',
      { schema: { tags, summary: 'My wallet in a currency (created on first use)', params: currency, response: { 200: walletSchema, ...errorResponses(400, 401) } } },
      async (req) => toWalletDto((await wallets.ownWallet(req.actor, req.params.currency)).wallet),
    );
    app.get(
      '/v1/orgs/:orgId/wallets/:currency',
      { schema: { tags, summary: "An organization's wallet", params: currency.extend({ orgId: z.uuid() }), response: { 200: walletSchema, ...errorResponses(400, 401, 403, 404) } } },
      async (req) => toWalletDto((await wallets.orgWallet(req.actor, req.params.orgId, req.params.currency)).wallet),
    );
    app.post(
      '/v1/wallets/:currency/top-ups',
      {
        schema: {
          tags,
          summary: 'Top up my wallet',
          description:
            'Creates a payment with the provider. The wallet is credited when the provider confirms it (signed webhook). Send an Idempotency-Key. In the sandbox, paymentMethod is one of Stripe\'s test methods (pm_card_visa, pm_card_chargeDeclined, pm_card_authenticationRequired, …).',
          params: currency,
          body: z.object({ amount: amountSchema, paymentMethod: z.string().min(1).max(100).default('pm_card_visa') }).strict(),
          response: { 201: z.object({ payment: paymentSchema, clientSecret: z.string().nullable(), nextActionUrl: z.string().nullable() }), ...errorResponses(400, 401, 503) },
        },
      },
      async (req, reply) => {
        const created = await wallets.topUp(req.actor, req.params.currency, req.body);
        return reply.status(201).send({ payment: toPaymentDto(created.payment), clientSecret: created.clientSecret, nextActionUrl: created.nextActionUrl });
      },
    );
    app.get(
      '/v1/wallets/:currency/transactions',
      { schema: { tags, summary: 'My wallet history', params: currency, querystring: pageQuery.merge(filters), response: { 200: pageSchema(transactionSchema), ...errorResponses(400, 401) } } },
      async (req) => {
        const page = await wallets.history(req.actor, req.params.currency, req.query);
        return { items: page.items.map(toTransactionDto), nextCursor: page.nextCursor };
      },
    );
    app.get(
      '/v1/wallets/:currency/transactions.csv',
      { schema: { tags, summary: 'My wallet history as CSV', params: currency, querystring: filters, response: { 200: z.string(), ...errorResponses(400, 401) } } },
      async (req, reply) => {
        const chunks: string[] = [];
        for await (const chunk of wallets.historyCsv(req.actor, req.params.currency, req.query)) chunks.push(chunk);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="wallet-${req.params.currency.toLowerCase()}-transactions.csv"`)
          .send(chunks.join(''));
      },
    );
    app.get(
      '/v1/wallets/:currency/auto-top-up',
      { schema: { tags, summary: 'My auto top-up settings', params: currency, response: { 200: autoTopUpSchema, ...errorResponses(400, 401) } } },
      async (req) => wallets.getAutoTopUp(req.actor, req.params.currency),
    );
    app.put(
      '/v1/wallets/:currency/auto-top-up',
      {
        schema: {
          tags,
          summary: 'Set my auto top-up',
          description: 'When a debit leaves the wallet under `threshold`, `amount` is bought with `paymentMethodId` (defaults 10.00 and 25.00). One auto top-up is in flight per wallet at most.',
          params: currency,
          body: z.object({ enabled: z.boolean(), threshold: z.number().int().min(0).max(1_000_000_00).default(1000), amount: amountSchema.default(2500), paymentMethodId: z.string().min(1).max(100).nullable().optional() }).strict(),
          response: { 200: autoTopUpSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => wallets.setAutoTopUp(req.actor, req.params.currency, req.body),
    );
  };
