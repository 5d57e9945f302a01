import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestContext,
  type LightMyRequestResponse,
  type TestContext,
  type TestUser,
} from '../../../test/helpers.ts';
import { newId } from '../../core/ids.ts';
import { formatMoney } from '../../core/money.ts';
import { reconcile } from '../ledger/index.ts';
import { signSandboxPayload, SANDBOX_SIGNATURE_HEADER } from '../payments/index.ts';
import { priceInvoice } from './invoices.service.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ TAX_RATES: 'IN:GST:1800,GB:VAT:2000,CA:GST:500,CA:PST:700' });
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  ctx.services.sandbox!.webhookUrl = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/v1/webhooks/sandbox`;
});
afterAll(async () => ctx?.close());

const NOBODY = '01900000-0000-7000-8000-000000000000';
const YEAR = new Date().getUTCFullYear();

interface InvoiceBody {
  id: string;
  status: string;
  invoiceNumber: string | null;
  subtotal: number;
  taxAmount: number;
  totalAmount: number;
  taxLines: { name: string; rateBps: number; amount: number }[];
  lines: { description: string; quantity: number; unitAmount: number; amount: number }[];
  customer: { userId: string | null; email: string; country: string | null };
  invoiceUrl: string | null;
  paidAt: string | null;
  paidVia: string | null;
  paymentId: string | null;
  updatedAt: string;
  dueAt: string | null;
}

const errorPaths = (res: LightMyRequestResponse): string[] =>
  (res.json<{ errors?: { path: string }[] }>().errors ?? []).map((e) => e.path);

const lines = [
  { description: 'Repurposing: 10 clips', quantity: 2, unitAmount: 25_000 },
  { description: 'Brand voice set-up', quantity: 1, unitAmount: 50_000 },
];

const draft = async (owner: TestUser, orgId: string, body: Record<string, unknown> = {}) => {
  const res = await ctx.req({
    method: 'POST',
    url: `/v1/orgs/${orgId}/invoices`,
    token: owner.token,
    payload: {
      currency: 'INR',
      customer: { email: 'someone@example.com', name: 'Someone', country: 'IN' },
      lines,
      ...body,
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<InvoiceBody>();
};
const get = async (token: string, id: string) => ctx.req({ method: 'GET', url: `/v1/invoices/${id}`, token });
const post = (
  token: string | undefined,
  id: string,
  action: string,
  payload: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) =>
  ctx.req({
    method: 'POST',
    url: `/v1/invoices/${id}/${action}`,
    ...(token ? { token } : {}),
    payload,
    headers,
  });

const reconciled = async () => {
  const r = await reconcile(ctx.services.ledgerRepo, [
    ...ctx.services.payments.invariants(),
    ...ctx.services.invoices.invariants(),
  ]);
  expect(r.checks.filter((c) => !c.ok)).toEqual([]);
};

/** An agency, its owner, and a customer with a Fanfare account. */
async function agency() {
  const owner = await ctx.newUser();
  const org = await ctx.newOrg(owner);
  const customer = await ctx.newUser();
  return { owner, org, customer };
}

describe('pricing', () => {
  const rates = {
    IN: [{ name: 'GST', bps: 1800 }],
    CA: [
      { name: 'GST', bps: 500 },
      { name: 'PST', bps: 700 },
    ],
  };
  it('GST 18 % for India, rounded half up once on the subtotal; the total is exactly subtotal + tax', () => {
    const p = priceInvoice(lines, rates.IN, 'IN');
    expect(p.subtotal).toBe(100_000);
    expect(p.taxLines).toEqual([{ name: 'GST', country: 'IN', rateBps: 1800, amount: 18_000 }]);
    expect(p.totalAmount).toBe(118_000);
    // 25 × 18 % = 4.5 → 5; 75 × 18 % = 13.5 → 14; 24 × 18 % = 4.32 → 4.
    expect(priceInvoice([{ description: 'x', quantity: 1, unitAmount: 25 }], rates.IN, 'IN')).toMatchObject({
      taxAmount: 5,
      totalAmount: 30,
    });
    expect(priceInvoice([{ description: 'x', quantity: 3, unitAmount: 25 }], rates.IN, 'IN')).toMatchObject({
      subtotal: 75,
      taxAmount: 14,
      totalAmount: 89,
    });
    expect(priceInvoice([{ description: 'x', quantity: 1, unitAmount: 24 }], rates.IN, 'IN')).toMatchObject({
      taxAmount: 4,
      totalAmount: 28,
    });
    // Rounding once on the subtotal, not per line: two lines of 25 give 9 (50 × 18 % = 9), not 5 + 5.
    expect(
      priceInvoice(
        [
          { description: 'a', quantity: 1, unitAmount: 25 },
          { description: 'b', quantity: 1, unitAmount: 25 },
        ],
        rates.IN,
        'IN',
      ).taxAmount,
    ).toBe(9);
  });
  it('several taxes of a country each round on their own; no country or an unlisted one pays none', () => {
    const p = priceInvoice([{ description: 'x', quantity: 1, unitAmount: 1010 }], rates.CA, 'CA');
    // 1010 × 5 % = 50.5 → 51; 1010 × 7 % = 70.7 → 71.
    expect(p.taxLines.map((t) => t.amount)).toEqual([51, 71]);
    expect(p.totalAmount).toBe(1010 + 51 + 71);
    expect(priceInvoice(lines, [], 'US')).toMatchObject({ taxAmount: 0, totalAmount: 100_000, taxLines: [] });
    expect(priceInvoice(lines, rates.IN, null).taxLines).toEqual([]);
  });
});

describe('invoices', () => {
  it('drafts have no number; sending numbers it, freezes taxes, and mails the customer a link', async () => {
    const { owner, org, customer } = await agency();
    const d = await draft(owner, org.id, {
      customer: { email: customer.email.toUpperCase(), country: 'in', taxId: '29ABCDE1234F1Z5' },
    });
    expect(d).toMatchObject({
      status: 'draft',
      invoiceNumber: null,
      subtotal: 100_000,
      taxAmount: 18_000,
      totalAmount: 118_000,
      customer: { userId: customer.id, email: customer.email, country: 'IN' },
    });
    expect(d.lines.map((l) => l.amount)).toEqual([50_000, 50_000]);
    // The customer does not see a draft.
    expect((await get(customer.token, d.id)).statusCode).toBe(404);
    const patched = await ctx.req({
      method: 'PATCH',
      url: `/v1/invoices/${d.id}`,
      token: owner.token,
      payload: { lines: [{ description: 'Half-unit', quantity: 1, unitAmount: 25 }] },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json<InvoiceBody>()).toMatchObject({ subtotal: 25, taxAmount: 5, totalAmount: 30 });
    await ctx.req({ method: 'PATCH', url: `/v1/invoices/${d.id}`, token: owner.token, payload: { lines } });
    const sent = await post(owner.token, d.id, 'send');
    expect(sent.statusCode, sent.body).toBe(200);
    const s = sent.json<InvoiceBody>();
    expect(s).toMatchObject({
      status: 'sent',
      invoiceNumber: `INV-${YEAR}-000001`,
      totalAmount: 118_000,
      invoiceUrl: `http://fanfare.test/v1/invoices/${d.id}/html`,
    });
    expect(new Date(s.dueAt!).getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
    await ctx.drain();
    const mail = (await ctx.mailTo(customer.email)).find((m) => m.subject.startsWith('Invoice'))!;
    expect(mail.subject).toContain(`INV-${YEAR}-000001`);
    expect(mail.text).toContain(s.invoiceUrl!);
    expect(mail.text).toContain(formatMoney(118_000, 'INR'));
    // The customer sees it now, in their list too.
    expect((await get(customer.token, d.id)).statusCode).toBe(200);
    const mine = (await ctx.req({ method: 'GET', url: '/v1/invoices', token: customer.token })).json<{
      items: InvoiceBody[];
    }>();
    expect(mine.items.map((i) => i.id)).toEqual([d.id]);
    // The next one is 2; the platform counts on its own.
    const second = await draft(owner, org.id);
    expect((await post(owner.token, second.id, 'send')).json<InvoiceBody>().invoiceNumber).toBe(
      `INV-${YEAR}-000002`,
    );
    const admin = await ctx.newUser({ role: 'admin' });
    const platform = await ctx.req({
      method: 'POST',
      url: '/v1/admin/invoices',
      token: admin.token,
      payload: {
        currency: 'USD',
        customer: { email: customer.email, country: 'US' },
        lines: [{ description: 'Studio plan: Pro, December', quantity: 1, unitAmount: 4900 }],
      },
    });
    expect(platform.statusCode, platform.body).toBe(201);
    expect(platform.json<InvoiceBody>()).toMatchObject({ taxAmount: 0, totalAmount: 4900 });
    const ps = (await post(admin.token, platform.json<InvoiceBody>().id, 'send')).json<
      InvoiceBody & { issuerType: string }
    >();
    expect(ps).toMatchObject({ invoiceNumber: `INV-${YEAR}-000001`, issuerType: 'platform' });
    const issued = (
      await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/invoices?status=sent`, token: owner.token })
    ).json<{ items: InvoiceBody[] }>();
    expect(issued.items.map((i) => i.invoiceNumber)).toEqual([`INV-${YEAR}-000002`, `INV-${YEAR}-000001`]);
    const paged = (
      await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/invoices?limit=1`, token: owner.token })
    ).json<{ items: InvoiceBody[]; nextCursor: string }>();
    const next = (
      await ctx.req({
        method: 'GET',
        url: `/v1/orgs/${org.id}/invoices?limit=1&cursor=${paged.nextCursor}`,
        token: owner.token,
      })
    ).json<{ items: InvoiceBody[] }>();
    expect([...paged.items, ...next.items].map((i) => i.id)).toEqual([second.id, d.id]);
    await reconciled();
  });

  it('numbers 30 concurrent finalizations 1 to 30, and a finalization that rolls back gives its number back', async () => {
    const { owner, org } = await agency();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await draft(owner, org.id)).id);
    const failing = (
      await draft(owner, org.id, {
        customer: { email: 'mail-breaks@example.com', name: 'Breaks', country: 'IN' },
      })
    ).id;
    // The mail is queued in the finalizing transaction: a failure there rolls the number back.
    const mail = ctx.services.mail;
    const queue = mail.queue.bind(mail);
    mail.queue = async (m, tx) => {
      if (m.to === 'mail-breaks@example.com') throw new Error('mail refused');
      return queue(m, tx);
    };
    try {
      const results = await Promise.all([...ids, failing].map((id) => post(owner.token, id, 'send')));
      expect(results.filter((r) => r.statusCode === 200)).toHaveLength(30);
      expect(results.at(-1)!.statusCode).toBe(500);
      const numbers = results
        .filter((r) => r.statusCode === 200)
        .map((r) => r.json<InvoiceBody>().invoiceNumber!)
        .sort();
      expect(numbers).toEqual(
        Array.from({ length: 30 }, (_, i) => `INV-${YEAR}-${String(i + 1).padStart(6, '0')}`),
      );
    } finally {
      mail.queue = queue;
    }
    const retried = await post(owner.token, failing, 'send');
    expect(retried.json<InvoiceBody>().invoiceNumber).toBe(`INV-${YEAR}-000031`);
    await reconciled();
  });

  it('pays through the sandbox: the verified webhook marks it paid once and credits the issuer less the fee', async () => {
    const { owner, org, customer } = await agency();
    const d = await draft(owner, org.id, {
      currency: 'USD',
      customer: { email: customer.email, country: 'GB' },
      lines: [{ description: 'Consulting', quantity: 3, unitAmount: 1000 }],
    });
    expect(d).toMatchObject({ subtotal: 3000, taxAmount: 600, totalAmount: 3600 });
    // Not payable before it is sent, even by someone who could see it.
    expect((await post(owner.token, d.id, 'pay')).statusCode).toBe(403);
    await post(owner.token, d.id, 'send');
    const key = `pay-${newId()}`;
    const res = await post(
      customer.token,
      d.id,
      'pay',
      { paymentMethod: 'pm_card_visa' },
      { 'idempotency-key': key },
    );
    expect(res.statusCode, res.body).toBe(201);
    const { payment } = res.json<{
      payment: {
        id: string;
        status: string;
        amount: number;
        feeAmount: number;
        gatewayPaymentId: string;
        invoiceUrl: string;
      };
    }>();
    expect(payment).toMatchObject({
      status: 'processing',
      amount: 3600,
      invoiceUrl: `http://fanfare.test/v1/invoices/${d.id}/html`,
    });
    const replay = await post(
      customer.token,
      d.id,
      'pay',
      { paymentMethod: 'pm_card_visa' },
      { 'idempotency-key': key },
    );
    expect(replay.json<{ payment: { id: string } }>().payment.id).toBe(payment.id);
    // A second payment while the first is in flight is refused.
    const twice = await post(customer.token, d.id, 'pay', { paymentMethod: 'pm_card_visa' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json<{ code: string }>().code).toBe('payment_in_progress');
    expect((await get(owner.token, d.id)).json<InvoiceBody>().status).toBe('sent');
    await ctx.drain();
    const paid = (await get(owner.token, d.id)).json<InvoiceBody>();
    expect(paid).toMatchObject({ status: 'paid', paidVia: 'payment', paymentId: payment.id });
    const settled = (
      await ctx.req({ method: 'GET', url: `/v1/payments/${payment.id}`, token: customer.token })
    ).json<{ status: string; receiptUrl: string }>();
    expect(settled).toMatchObject({
      status: 'success',
      receiptUrl: `http://fanfare.test/v1/invoices/${d.id}/html`,
    });
    const wallet = (
      await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/wallets/USD`, token: owner.token })
    ).json<{ balance: number; totalEarned: number }>();
    expect(wallet).toMatchObject({
      balance: 3600 - payment.feeAmount,
      totalEarned: 3600 - payment.feeAmount,
    });
    // The provider delivers the success again: nothing changes.
    const { rows } = await ctx.database.raw.query<{ payload: unknown }>(
      "select payload from sandbox_events where type = 'payment_intent.succeeded' and payload->'data'->'object'->>'id' = $1",
      [payment.gatewayPaymentId],
    );
    const body = JSON.stringify(rows[0]!.payload);
    const secret = (ctx.services.sandbox as unknown as { deps: { secret: string } }).deps.secret;
    const dup = await ctx.req({
      method: 'POST',
      url: '/v1/webhooks/sandbox',
      headers: {
        'content-type': 'application/json',
        [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(secret, body),
      },
      payload: body,
    });
    expect(dup.json<{ status: string }>().status).toBe('duplicate');
    // A failure arriving late is ignored.
    const late = JSON.stringify({
      ...(JSON.parse(body) as object),
      id: `evt_late_${newId()}`,
      type: 'payment_intent.payment_failed',
    });
    const lateRes = await ctx.req({
      method: 'POST',
      url: '/v1/webhooks/sandbox',
      headers: {
        'content-type': 'application/json',
        [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(secret, late),
      },
      payload: late,
    });
    expect(lateRes.json<{ status: string }>().status).toBe('ignored');
    expect((await get(owner.token, d.id)).json<InvoiceBody>()).toMatchObject({
      status: 'paid',
      paidAt: paid.paidAt,
    });
    const transfers = await ctx.database.raw.query<{ n: string }>(
      "select count(*)::text as n from ledger_transfers where reference_type = 'payment' and reference_id = $1",
      [payment.id],
    );
    expect(transfers.rows[0]!.n).toBe('1');
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/wallets/USD`, token: owner.token })).json<{
        balance: number;
      }>().balance,
    ).toBe(3600 - payment.feeAmount);
    // Paid: no second payment, no void (refund instead), no mark-paid.
    expect((await post(customer.token, d.id, 'pay')).statusCode).toBe(409);
    const voided = await post(owner.token, d.id, 'void');
    expect(voided.statusCode).toBe(409);
    expect(voided.json<{ detail: string }>().detail).toContain('refund its payment');
    expect((await post(owner.token, d.id, 'mark-paid', { method: 'cash' })).statusCode).toBe(409);
    await reconciled();
  });

  it('a declined card leaves the invoice open; the customer can pay again', async () => {
    const { owner, org, customer } = await agency();
    const d = await draft(owner, org.id, { customer: { email: customer.email, country: 'IN' } });
    await post(owner.token, d.id, 'send');
    const declined = (
      await post(customer.token, d.id, 'pay', { paymentMethod: 'pm_card_chargeDeclined' })
    ).json<{ payment: { status: string } }>();
    expect(declined.payment.status).toBe('failed');
    await ctx.drain();
    expect((await get(customer.token, d.id)).json<InvoiceBody>().status).toBe('sent');
    expect((await post(customer.token, d.id, 'pay')).statusCode).toBe(201);
    await ctx.drain();
    expect((await get(customer.token, d.id)).json<InvoiceBody>().status).toBe('paid');
    await reconciled();
  });

  describe('a void racing a payment', () => {
    const usdInvoice = async () => {
      const { owner, org, customer } = await agency();
      const d = await draft(owner, org.id, {
        currency: 'USD',
        customer: { email: customer.email, country: 'GB' },
        lines: [{ description: 'Consulting', quantity: 1, unitAmount: 5000 }],
      });
      expect((await post(owner.token, d.id, 'send')).statusCode).toBe(200);
      const balance = async () =>
        (
          await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/wallets/USD`, token: owner.token })
        ).json<{ balance: number }>().balance;
      const paymentsOf = async () =>
        (
          await ctx.database.raw.query<{ id: string; status: string; refund_amount: string }>(
            "select id, status, refund_amount::text from payments where reference_type = 'invoice' and reference_id = $1 order by id",
            [d.id],
          )
        ).rows;
      return { owner, org, customer, d, balance, paymentsOf };
    };

    it('a void landing between the pay check and the payment being recorded refuses the payment', async () => {
      const { owner, customer, d, balance, paymentsOf } = await usdInvoice();
      const payments = ctx.services.payments;
      const create = payments.create.bind(payments);
      // The issuer voids just after the pay route read the invoice as sent.
      payments.create = async (...args) => {
        payments.create = create;
        expect((await post(owner.token, d.id, 'void', { reason: 'sent by mistake' })).statusCode).toBe(200);
        return create(...args);
      };
      let res;
      try {
        res = await post(customer.token, d.id, 'pay', { paymentMethod: 'pm_card_visa' });
      } finally {
        payments.create = create;
      }
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json<{ code: string }>().code).toBe('invoice_void');
      await ctx.drain();
      expect(await paymentsOf()).toEqual([]);
      expect((await get(owner.token, d.id)).json<InvoiceBody>().status).toBe('void');
      expect(await balance()).toBe(0);
      await reconciled();
    });

    it('a payment that succeeds after the void is refunded in full automatically; the issuer keeps nothing', async () => {
      const { owner, customer, d, balance, paymentsOf } = await usdInvoice();
      const pay = await post(customer.token, d.id, 'pay', { paymentMethod: 'pm_card_visa' });
      expect(pay.statusCode, pay.body).toBe(201);
      const { payment } = pay.json<{ payment: { id: string; gatewayPaymentId: string } }>();
      // The intent has succeeded at the provider; its webhook has not arrived yet.
      const v = await post(owner.token, d.id, 'void', { reason: 'wrong client' });
      expect(v.statusCode, v.body).toBe(200);
      // Too late to cancel: the sandbox answers the intent as succeeded.
      expect((await ctx.services.sandbox!.cancel({ intentId: payment.gatewayPaymentId, idempotencyKey: newId() })).status).toBe(
        'succeeded',
      );
      await ctx.drain();
      const inv = (await get(owner.token, d.id)).json<InvoiceBody>();
      expect(inv).toMatchObject({ status: 'void', paidAt: null, paymentId: null });
      expect(await paymentsOf()).toEqual([{ id: payment.id, status: 'refunded', refund_amount: '6000' }]);
      const refunds = await ctx.database.raw.query<{ amount: string; reason: string; status: string }>(
        'select amount::text, reason, status from refunds where payment_id = $1',
        [payment.id],
      );
      expect(refunds.rows).toEqual([{ amount: '6000', reason: 'invoice_void', status: 'succeeded' }]);
      const intent = await ctx.database.raw.query<{ amount_refunded: string }>(
        'select amount_refunded::text from sandbox_payment_intents where id = $1',
        [payment.gatewayPaymentId],
      );
      expect(intent.rows[0]!.amount_refunded).toBe('6000');
      expect(await balance()).toBe(0);
      const audit = await ctx.database.raw.query<{ metadata: Record<string, unknown> }>(
        "select metadata from audit_logs where action = 'invoice.payment_refunded' and resource_id = $1",
        [d.id],
      );
      expect(audit.rows.map((r) => r.metadata)).toMatchObject([{ paymentId: payment.id, reason: 'invoice_void' }]);
      // Every webhook was acknowledged.
      const stuck = await ctx.database.raw.query(
        "select id from webhook_events where status not in ('processed', 'ignored')",
      );
      expect(stuck.rows).toEqual([]);
      await reconciled();
    });

    it('voiding cancels a payment waiting on 3-D Secure, so the customer can no longer complete it', async () => {
      const { owner, customer, d, balance, paymentsOf } = await usdInvoice();
      const pay = await post(customer.token, d.id, 'pay', { paymentMethod: 'pm_card_authenticationRequired' });
      expect(pay.statusCode, pay.body).toBe(201);
      const { payment } = pay.json<{ payment: { id: string; status: string; gatewayPaymentId: string } }>();
      expect(payment.status).toBe('requires_action');
      expect((await post(owner.token, d.id, 'void')).statusCode).toBe(200);
      const intent = await ctx.database.raw.query<{ status: string }>(
        'select status from sandbox_payment_intents where id = $1',
        [payment.gatewayPaymentId],
      );
      expect(intent.rows[0]!.status).toBe('canceled');
      expect((await paymentsOf()).map((p) => p.status)).toEqual(['cancelled']);
      const auth = await ctx.req({
        method: 'POST',
        url: `/v1/sandbox/payment-intents/${payment.gatewayPaymentId}/authenticate`,
        payload: { outcome: 'succeed' },
      });
      expect(auth.statusCode).toBe(409);
      await ctx.drain();
      expect((await paymentsOf()).map((p) => p.status)).toEqual(['cancelled']);
      expect(await balance()).toBe(0);
      await reconciled();
    });

    it('marking it paid offline cancels a card payment waiting on 3-D Secure, so it cannot be paid twice', async () => {
      const { owner, customer, d, balance, paymentsOf } = await usdInvoice();
      const pay = await post(customer.token, d.id, 'pay', { paymentMethod: 'pm_card_threeDSecure2Required' });
      const { payment } = pay.json<{ payment: { gatewayPaymentId: string } }>();
      expect((await post(owner.token, d.id, 'mark-paid', { method: 'bank_transfer' })).statusCode).toBe(200);
      expect((await paymentsOf()).map((p) => p.status)).toEqual(['cancelled']);
      const auth = await ctx.req({
        method: 'POST',
        url: `/v1/sandbox/payment-intents/${payment.gatewayPaymentId}/authenticate`,
        payload: { outcome: 'succeed' },
      });
      expect(auth.statusCode).toBe(409);
      await ctx.drain();
      expect((await get(owner.token, d.id)).json<InvoiceBody>()).toMatchObject({ status: 'paid', paidVia: 'offline' });
      expect(await balance()).toBe(0);
      await reconciled();
    });
  });

  it('the issuer marks an invoice paid offline: recorded and audited, nothing moves in the ledger', async () => {
    const { owner, org, customer } = await agency();
    const d = await draft(owner, org.id, { customer: { email: customer.email, country: 'IN' } });
    expect((await post(owner.token, d.id, 'mark-paid', { method: 'bank_transfer' })).statusCode).toBe(409);
    await post(owner.token, d.id, 'send');
    expect((await post(customer.token, d.id, 'mark-paid', { method: 'bank_transfer' })).statusCode).toBe(403);
    const res = await post(owner.token, d.id, 'mark-paid', {
      method: 'bank_transfer',
      reference: 'NEFT 1234',
      note: 'received on account',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'paid',
      paidVia: 'offline',
      offlinePaymentMethod: 'bank_transfer',
      offlinePaymentReference: 'NEFT 1234',
      paymentId: null,
    });
    const audit = await ctx.database.raw.query<{ user_id: string; metadata: Record<string, unknown> }>(
      "select user_id, metadata from audit_logs where action = 'invoice.marked_paid' and resource_id = $1",
      [d.id],
    );
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]).toMatchObject({
      user_id: owner.id,
      metadata: { method: 'bank_transfer', reference: 'NEFT 1234', totalAmount: 118_000 },
    });
    const wallet = (
      await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/wallets/INR`, token: owner.token })
    ).json<{ balance: number }>();
    expect(wallet.balance).toBe(0);
    expect((await post(customer.token, d.id, 'pay')).statusCode).toBe(409);
  });

  it('refuses what the state machine does not allow, with 409 and a message saying why', async () => {
    const { owner, org } = await agency();
    const d = await draft(owner, org.id);
    await post(owner.token, d.id, 'send');
    const again = await post(owner.token, d.id, 'send');
    expect(again.statusCode).toBe(409);
    expect(again.json<{ detail: string; code: string }>()).toMatchObject({
      code: 'invoice_sent',
      detail: `Cannot send this invoice: Invoice INV-${YEAR}-000001 has been sent and can no longer be changed`,
    });
    const edit = await ctx.req({
      method: 'PATCH',
      url: `/v1/invoices/${d.id}`,
      token: owner.token,
      payload: { notes: 'changed' },
    });
    expect(edit.statusCode).toBe(409);
    const v = await post(owner.token, d.id, 'void', { reason: 'wrong client' });
    expect(v.statusCode, v.body).toBe(200);
    expect(v.json()).toMatchObject({
      status: 'void',
      invoiceNumber: `INV-${YEAR}-000001`,
      voidReason: 'wrong client',
    });
    for (const action of ['void', 'send', 'mark-paid']) {
      const r = await post(owner.token, d.id, action, action === 'mark-paid' ? { method: 'cash' } : {});
      expect(r.statusCode, action).toBe(409);
      expect(r.json<{ detail: string }>().detail).toContain('is void');
    }
    // A voided draft never had a number, and the next invoice continues the sequence.
    const d2 = await draft(owner, org.id);
    expect((await post(owner.token, d2.id, 'void')).json()).toMatchObject({
      status: 'void',
      invoiceNumber: null,
    });
    const d3 = await draft(owner, org.id, { lines: [] });
    const empty = await post(owner.token, d3.id, 'send');
    expect(empty.statusCode).toBe(422);
    expect(empty.json<{ code: string }>().code).toBe('invoice_empty');
    await ctx.req({ method: 'PATCH', url: `/v1/invoices/${d3.id}`, token: owner.token, payload: { lines } });
    expect((await post(owner.token, d3.id, 'send')).json<InvoiceBody>().invoiceNumber).toBe(
      `INV-${YEAR}-000002`,
    );
    // The database holds the rules whoever writes.
    await expect(
      ctx.database.raw.query(
        'update invoices set total_amount = total_amount + 1, subtotal = subtotal + 1 where id = $1',
        [d3.id],
      ),
    ).rejects.toThrow(/issued/);
    await expect(
      ctx.database.raw.query(
        "update invoices set status = 'draft', invoice_number = null, number_year = null, number_sequence = null where id = $1",
        [d.id],
      ),
    ).rejects.toThrow();
    await expect(
      ctx.database.raw.query('delete from invoice_line_items where invoice_id = $1', [d3.id]),
    ).rejects.toThrow(/issued/);
    await reconciled();
  });

  it('bad input on every route is a 4xx naming the field, and changes nothing', async () => {
    const { owner, org, customer } = await agency();
    const d = await draft(owner, org.id, { customer: { email: customer.email, country: 'IN' } });
    const create = (payload: Record<string, unknown>) =>
      ctx.req({ method: 'POST', url: `/v1/orgs/${org.id}/invoices`, token: owner.token, payload });
    const base = { currency: 'INR', customer: { email: customer.email }, lines };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, currency: 'XXX' }, 'body.currency'],
      [{ ...base, customer: { name: 'No mail' } }, 'body.customer.email'],
      [{ ...base, customer: { email: 'not-an-email' } }, 'body.customer.email'],
      [{ ...base, customer: { email: customer.email, country: 'India' } }, 'body.customer.country'],
      [{ ...base, lines: [{ description: 'x', quantity: 0, unitAmount: 100 }] }, 'body.lines.0.quantity'],
      [{ ...base, lines: [{ description: 'x', quantity: 1, unitAmount: -1 }] }, 'body.lines.0.unitAmount'],
      [{ ...base, lines: [{ description: 'x', quantity: 1, unitAmount: 10.5 }] }, 'body.lines.0.unitAmount'],
      [{ ...base, lines: [{ description: '', quantity: 1, unitAmount: 100 }] }, 'body.lines.0.description'],
      [{ ...base, dueAt: 'next week' }, 'body.dueAt'],
      [{ ...base, surprise: true }, 'body'],
    ];
    for (const [payload, path] of cases) {
      const r = await create(payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(errorPaths(r).join(' '), JSON.stringify(payload)).toContain(path);
    }
    const unknownName = await create({ ...base, customer: { email: 'stranger@example.com' } });
    expect(unknownName.statusCode).toBe(422);
    expect(errorPaths(unknownName)).toEqual(['body.customer.name']);
    const noOrg = await create({ ...base, customer: { email: customer.email, organizationId: NOBODY } });
    expect(errorPaths(noOrg)).toEqual(['body.customer.organizationId']);
    const huge = await create({
      ...base,
      lines: [{ description: 'x', quantity: 1_000_000, unitAmount: 1_000_000_000_000 }],
    });
    expect(huge.statusCode).toBe(422);
    expect(errorPaths(huge)).toEqual(['body.lines.0']);
    const patch = await ctx.req({
      method: 'PATCH',
      url: `/v1/invoices/${d.id}`,
      token: owner.token,
      payload: { lines: [{ description: 'x', quantity: 1.5, unitAmount: 1 }] },
    });
    expect(patch.statusCode).toBe(400);
    expect(errorPaths(patch)).toContain('body.lines.0.quantity');
    const badSend = await post(owner.token, d.id, 'send', { dueAt: 'tomorrow' });
    expect(errorPaths(badSend)).toContain('body.dueAt');
    const pastDue = await post(owner.token, d.id, 'send', { dueAt: '2020-01-01' });
    expect(pastDue.statusCode).toBe(422);
    expect(errorPaths(pastDue)).toEqual(['body.dueAt']);
    expect(errorPaths(await post(owner.token, d.id, 'void', { reason: '' }))).toContain('body.reason');
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/invoices?status=nope`, token: owner.token }))
        .statusCode,
    ).toBe(400);
    expect(
      errorPaths(await ctx.req({ method: 'GET', url: '/v1/invoices?cursor=bogus', token: owner.token })),
    ).toEqual(['querystring.cursor']);
    const admin = await ctx.newUser({ role: 'admin' });
    const platformBad = await ctx.req({
      method: 'POST',
      url: '/v1/admin/invoices',
      token: admin.token,
      payload: { ...base, currency: 'usd!' },
    });
    expect(platformBad.statusCode).toBe(400);
    expect(errorPaths(platformBad)).toContain('body.currency');
    expect(
      errorPaths(await ctx.req({ method: 'GET', url: '/v1/admin/invoices?limit=0', token: admin.token })),
    ).toContain('querystring.limit');
    expect(
      errorPaths(await ctx.req({ method: 'GET', url: '/v1/orgs/not-a-uuid/invoices', token: owner.token })),
    ).toContain('params.orgId');
    expect(
      errorPaths(await ctx.req({ method: 'GET', url: '/v1/invoices?organizationId=x', token: owner.token })),
    ).toContain('querystring.organizationId');
    for (const url of ['/v1/invoices/nope', '/v1/invoices/nope/html', '/v1/invoices/nope/pdf']) {
      const r = await ctx.req({ method: 'GET', url, token: owner.token });
      expect(r.statusCode, url).toBe(400);
      expect(errorPaths(r)).toContain('params.id');
    }
    // Nothing changed: still the same draft.
    const same = (await get(owner.token, d.id)).json<InvoiceBody>();
    expect(same).toMatchObject({
      status: 'draft',
      invoiceNumber: null,
      updatedAt: d.updatedAt,
      totalAmount: d.totalAmount,
    });
    await post(owner.token, d.id, 'send');
    expect(errorPaths(await post(customer.token, d.id, 'pay', { paymentMethod: '' }))).toContain(
      'body.paymentMethod',
    );
    expect((await post(customer.token, d.id, 'pay', { paymentMethod: 'pm_made_up' })).statusCode).toBe(400);
    expect(errorPaths(await post(owner.token, d.id, 'mark-paid', { method: 'barter' }))).toContain(
      'body.method',
    );
    const future = await post(owner.token, d.id, 'mark-paid', {
      method: 'cash',
      paidAt: new Date(Date.now() + 86_400_000 * 3).toISOString(),
    });
    expect(future.statusCode).toBe(422);
    expect(errorPaths(future)).toEqual(['body.paidAt']);
    expect((await get(owner.token, d.id)).json<InvoiceBody>().status).toBe('sent');
    // The unknown payment method reached the provider, which refused it: that payment is failed.
    const { rows } = await ctx.database.raw.query<{ status: string }>(
      'select status from payments where reference_id = $1',
      [d.id],
    );
    expect(rows.map((r) => r.status)).toEqual(['failed']);
  });

  it('answers 401 without a session, and 404 to another organization or a stranger', async () => {
    const { owner, org, customer } = await agency();
    const d = await draft(owner, org.id, { customer: { email: customer.email, country: 'IN' } });
    const routes: [string, string, Record<string, unknown>?][] = [
      [
        'POST',
        `/v1/orgs/${org.id}/invoices`,
        { currency: 'INR', customer: { email: customer.email }, lines },
      ],
      ['GET', `/v1/orgs/${org.id}/invoices`],
      ['GET', '/v1/invoices'],
      ['GET', `/v1/invoices/${d.id}`],
      ['PATCH', `/v1/invoices/${d.id}`, { notes: 'x' }],
      ['POST', `/v1/invoices/${d.id}/send`, {}],
      ['POST', `/v1/invoices/${d.id}/void`, {}],
      ['POST', `/v1/invoices/${d.id}/pay`, {}],
      ['POST', `/v1/invoices/${d.id}/mark-paid`, { method: 'cash' }],
      ['GET', `/v1/invoices/${d.id}/html`],
      ['GET', `/v1/invoices/${d.id}/pdf`],
      ['POST', '/v1/admin/invoices', { currency: 'INR', customer: { email: customer.email }, lines }],
      ['GET', '/v1/admin/invoices'],
    ];
    for (const [method, url, payload] of routes) {
      const r = await ctx.req({ method: method, url, ...(payload ? { payload } : {}) });
      expect(r.statusCode, `${method} ${url}`).toBe(401);
    }
    const other = await ctx.newUser();
    const otherOrg = await ctx.newOrg(other);
    await post(owner.token, d.id, 'send');
    for (const [method, url, payload] of routes.slice(3, 11)) {
      const r = await ctx.req({ method: method, url, token: other.token, ...(payload ? { payload } : {}) });
      expect(r.statusCode, `${method} ${url}`).toBe(404);
    }
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/orgs/${org.id}/invoices`, token: other.token })).statusCode,
    ).toBe(404);
    expect(
      (
        await ctx.req({
          method: 'POST',
          url: `/v1/orgs/${org.id}/invoices`,
          token: other.token,
          payload: routes[0]![2],
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/orgs/${otherOrg.id}/invoices`, token: other.token })).json<{
        items: unknown[];
      }>().items,
    ).toEqual([]);
    expect(
      (await ctx.req({ method: 'GET', url: '/v1/invoices', token: other.token })).json<{ items: unknown[] }>()
        .items,
    ).toEqual([]);
    expect((await ctx.req({ method: 'GET', url: '/v1/admin/invoices', token: other.token })).statusCode).toBe(
      403,
    );
    // The customer sees it but cannot act as the issuer; a manager reads but does not change.
    expect(
      (
        await ctx.req({
          method: 'PATCH',
          url: `/v1/invoices/${d.id}`,
          token: customer.token,
          payload: { notes: 'x' },
        })
      ).statusCode,
    ).toBe(403);
    expect((await post(customer.token, d.id, 'void')).statusCode).toBe(403);
    const manager = await ctx.newUser();
    await ctx.addMember(owner, org.id, manager, 'manager');
    expect((await get(manager.token, d.id)).statusCode).toBe(200);
    const denied = await post(manager.token, d.id, 'void');
    expect(denied.statusCode).toBe(403);
    expect(denied.json<{ detail: string }>().detail).toContain('invoices.manage');
    expect((await get(owner.token, d.id)).json<InvoiceBody>().status).toBe('sent');
  });

  it('an organization billed as customer: its invoice managers see and pay it', async () => {
    const { owner, org } = await agency();
    const studioOwner = await ctx.newUser();
    const studio = await ctx.newOrg(studioOwner);
    const d = await draft(owner, org.id, {
      currency: 'USD',
      customer: {
        email: 'accounts@studio.example',
        name: 'Studio Ltd',
        organizationId: studio.id,
        country: 'US',
      },
    });
    await post(owner.token, d.id, 'send');
    const list = (
      await ctx.req({
        method: 'GET',
        url: `/v1/invoices?organizationId=${studio.id}`,
        token: studioOwner.token,
      })
    ).json<{ items: InvoiceBody[] }>();
    expect(list.items.map((i) => i.id)).toEqual([d.id]);
    expect((await post(studioOwner.token, d.id, 'pay')).statusCode).toBe(201);
    await ctx.drain();
    expect((await get(studioOwner.token, d.id)).json<InvoiceBody>().status).toBe('paid');
  });

  it('an invoice to an e-mail without an account is found by that user once they sign up and verify it', async () => {
    const { owner, org } = await agency();
    const email = `later-${newId().slice(-8)}@example.com`;
    const d = await draft(owner, org.id, { customer: { email, name: 'Later Customer', country: 'IN' } });
    expect(d.customer.userId).toBeNull();
    await post(owner.token, d.id, 'send');
    const later = await ctx.newUser({ email });
    expect(
      (await ctx.req({ method: 'GET', url: '/v1/invoices', token: later.token }))
        .json<{ items: InvoiceBody[] }>()
        .items.map((i) => i.id),
    ).toEqual([d.id]);
    expect((await post(later.token, d.id, 'pay')).statusCode).toBe(201);
    await ctx.drain();
    expect((await get(later.token, d.id)).json<InvoiceBody>()).toMatchObject({
      status: 'paid',
      customer: { userId: later.id },
    });
  });

  it('renders escaped HTML and a PDF for issuer and customer, 404 for others', async () => {
    const { owner, org, customer } = await agency();
    const d = await draft(owner, org.id, {
      customer: {
        email: customer.email,
        name: '<script>alert(1)</script> & Co',
        country: 'IN',
        taxId: '29ABCDE1234F1Z5',
        address: { line1: '12 MG Road', city: 'Bengaluru', postalCode: '560001' },
      },
      lines: [{ description: 'Clips "best" <b>', quantity: 1, unitAmount: 25 }],
      issuerDetails: { taxId: '27AAAAA0000A1Z5', address: { line1: '1 Studio Lane', city: 'Mumbai' } },
    });
    await post(owner.token, d.id, 'send');
    for (const u of [owner, customer]) {
      const html = await ctx.req({ method: 'GET', url: `/v1/invoices/${d.id}/html`, token: u.token });
      expect(html.statusCode).toBe(200);
      expect(html.headers['content-type']).toContain('text/html');
      expect(html.body).toContain(`INV-${YEAR}-000001`);
      expect(html.body).not.toContain('<script>alert(1)</script>');
      expect(html.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co');
      expect(html.body).toContain('Clips &quot;best&quot; &lt;b&gt;');
      for (const s of [
        'GST 18%',
        formatMoney(25, 'INR'),
        formatMoney(5, 'INR'),
        formatMoney(30, 'INR'),
        '12 MG Road',
        '29ABCDE1234F1Z5',
        '27AAAAA0000A1Z5',
      ]) {
        expect(html.body).toContain(s);
      }
      const pdf = await ctx.req({ method: 'GET', url: `/v1/invoices/${d.id}/pdf`, token: u.token });
      expect(pdf.statusCode).toBe(200);
      expect(pdf.headers['content-type']).toBe('application/pdf');
      expect(pdf.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(pdf.rawPayload.toString('latin1')).toContain(`INV-${YEAR}-000001`);
    }
    const stranger = await ctx.newUser();
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/invoices/${d.id}/html`, token: stranger.token })).statusCode,
    ).toBe(404);
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/invoices/${d.id}/pdf`, token: stranger.token })).statusCode,
    ).toBe(404);
    expect(
      (await ctx.req({ method: 'GET', url: `/v1/invoices/${NOBODY}/pdf`, token: owner.token })).statusCode,
    ).toBe(404);
  });

  it('the billing engine creates and sends a platform invoice once per source key', async () => {
    const customer = await ctx.newUser();
    const input = {
      currency: 'INR',
      customer: { email: customer.email, country: 'IN' },
      lines: [{ description: 'Studio plan: Agency, monthly', quantity: 1, unitAmount: 99_900 }],
      sourceKey: `subscription:${newId()}:${YEAR}-12`,
    };
    const a = await ctx.services.invoices.createFromSource({ kind: 'platform' }, input);
    const b = await ctx.services.invoices.createFromSource({ kind: 'platform' }, input);
    expect(a.invoice).toMatchObject({
      status: 'sent',
      issuerType: 'platform',
      issuerName: 'Fanfare',
      taxAmount: 17_982,
      totalAmount: 117_882,
    });
    expect(b.invoice.id).toBe(a.invoice.id);
    expect(a.invoice.invoiceNumber).toMatch(new RegExp(`^INV-${YEAR}-\\d{6}$`));
    expect((await get(customer.token, a.invoice.id)).statusCode).toBe(200);
    await reconciled();
  });
});
