import { z } from 'zod';
import { AppError } from './errors.ts';

/**
 * The one money module. Amounts are integers in the currency's minor unit (cents), never floats.
 *
 * Rounding rule (one sentence, tested in money.test.ts): every percentage is computed exactly on
 * integers and rounded half up to the minor unit once per component, the last part of a split is
 * the remainder so the parts always sum to the total, and proportional splits (refunds, reversals)
 * use the largest-remainder method with ties going to the earlier part, so no minor unit is ever
 * lost or created.
 */

/** ISO 4217 codes Fanfare accepts, with their minor-unit exponent. */
export const currencies = { USD: 2, EUR: 2, GBP: 2, INR: 2, CAD: 2, AUD: 2, CHF: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2, BRL: 2, MXN: 2, SGD: 2, NZD: 2, ZAR: 2, JPY: 0 } as const;
export type Currency = keyof typeof currencies;
export const currencyCodes = Object.keys(currencies) as Currency[];

/** A currency code in any case, normalised to upper case. */
export const currencySchema = z
  .string()
  .transform((s) => s.toUpperCase())
  .pipe(z.enum(currencyCodes as [Currency, ...Currency[]]));

/** A positive amount in minor units, within what a bigint column and a JS number hold exactly. */
export const MAX_AMOUNT = 1_000_000_000_000; // 10 billion in major units of a 2-decimal currency
export const amountSchema = z.number().int().positive().max(MAX_AMOUNT);

export function assertAmount(n: number, path = 'amount'): number {
  if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_AMOUNT) {
    throw new AppError('bad_request', `${path} must be a positive whole number of minor units`, { fields: [{ path, message: 'invalid amount' }] });
  }
  return n;
}

/** Rounds `numerator / denominator` half up (both non-negative integers). */
function divHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/** `amount × basisPoints / 10 000`, rounded half up. 1 bps = 0.01 %. */
export function bps(amount: number, basisPoints: number): number {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`amount must be a non-negative integer, got ${amount}`);
  if (!Number.isInteger(basisPoints) || basisPoints < 0) throw new RangeError(`basis points must be a non-negative integer, got ${basisPoints}`);
  return Number(divHalfUp(BigInt(amount) * BigInt(basisPoints), 10_000n));
}

/**
 * Splits `total` in proportion to `weights` (non-negative integers, not all zero) by the
 * largest-remainder method: floors first, then one unit each to the largest remainders, ties to
 * the earlier part. The parts always sum to `total`.
 */
export function allocate(total: number, weights: readonly number[]): number[] {
  if (!Number.isSafeInteger(total)) throw new RangeError('total must be an integer');
  const sign = total < 0 ? -1n : 1n;
  const t = BigInt(Math.abs(total));
  const w = weights.map((x) => {
    if (!Number.isSafeInteger(x) || x < 0) throw new RangeError('weights must be non-negative integers');
    return BigInt(x);
  });
  const sum = w.reduce((a, b) => a + b, 0n);
  if (sum === 0n) throw new RangeError('weights must not all be zero');
  const floors = w.map((x) => (t * x) / sum);
  const remainders = w.map((x, i) => ({ i, r: (t * x) % sum }));
  let left = t - floors.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left === 0n) break;
    floors[i] = floors[i]! + 1n;
    left--;
  }
  return floors.map((x) => Number(x * sign));
}

/** `12.34` → 1234 for a 2-decimal currency; refuses more decimals than the currency has. */
export function toMinor(major: string | number, currency: Currency): number {
  const exp = currencies[currency];
  const s = typeof major === 'number' ? major.toFixed(exp) : major.trim();
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m || (m[3]?.length ?? 0) > exp) throw new AppError('bad_request', `${major} is not an amount in ${currency}`);
  const minor = BigInt(m[2]!) * 10n ** BigInt(exp) + BigInt((m[3] ?? '').padEnd(exp, '0') || '0');
  return Number(m[1] ? -minor : minor);
}

/** 1234 → "12.34" (no symbol): the form used in CSV exports and decimal columns of the seeds. */
export function toMajor(minor: number, currency: string): string {
  const exp = currencies[currency as Currency] ?? 2;
  const neg = minor < 0;
  const s = String(Math.abs(minor)).padStart(exp + 1, '0');
  const out = exp ? `${s.slice(0, -exp)}.${s.slice(-exp)}` : s;
  return neg ? `-${out}` : out;
}

/** 1234, 'USD' → "$12.34": for people (invoices, mails, notifications). */
export function formatMoney(minor: number, currency: string, locale = 'en-US'): string {
  const exp = currencies[currency as Currency] ?? 2;
  return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: exp, maximumFractionDigits: exp }).format(
    Number(toMajor(minor, currency)),
  );
}

// ---------------------------------------------------------------------------------------------
// Fees and commission: the seeds' rules, in one place. Results are stored as a snapshot on the
// record they priced, so a later change of rates never rewrites history.

export const paymentMethods = ['card', 'paypal', 'wallet_balance'] as const;
export type PaymentMethod = (typeof paymentMethods)[number];

/** Processing fees (producers-avenue): card 2.9 % + 0.30, PayPal 3.49 % + 0.49, wallet free. */
export const processingFeeRules: Record<PaymentMethod, { bps: number; fixed: number }> = {
  card: { bps: 290, fixed: 30 },
  paypal: { bps: 349, fixed: 49 },
  wallet_balance: { bps: 0, fixed: 0 },
};

export function processingFee(amount: number, method: PaymentMethod): number {
  const rule = processingFeeRules[method];
  if (amount === 0) return 0;
  // The fixed part is in cents of a 2-decimal currency; a fee never exceeds what was paid.
  return Math.min(amount, bps(amount, rule.bps) + rule.fixed);
}

/** Marketplace commission by seller plan (producers-avenue): 40 / 30 / 20 / 10 %. */
export const sellerPlans = ['basic', 'standard', 'premium', 'ultimate', 'ultimate_friends'] as const;
export type SellerPlan = (typeof sellerPlans)[number];
export const commissionBpsByPlan: Record<SellerPlan, number> = {
  basic: 4000,
  standard: 3000,
  premium: 2000,
  ultimate: 1000,
  ultimate_friends: 1000,
};

/**
 * The creator platform's platform fee in basis points: the creator's own rate wins over the
 * organization's, which wins over the platform default.
 */
export function platformFeeBps(rates: { creator?: number | null | undefined; organization?: number | null | undefined; platformDefault: number }): {
  bps: number;
  source: 'creator' | 'organization' | 'platform';
} {
  if (rates.creator != null) return { bps: rates.creator, source: 'creator' };
  if (rates.organization != null) return { bps: rates.organization, source: 'organization' };
  return { bps: rates.platformDefault, source: 'platform' };
}

export interface SaleSplit {
  total: number;
  processingFee: number;
  commission: number;
  seller: number;
  commissionBps: number;
  paymentMethod: PaymentMethod;
}

/**
 * A sale paid by the buyer at the listed price; the seller pays the processing fee and the
 * commission (producers-avenue: "all fees paid by sellers"). Commission and fee are rounded half
 * up separately; the seller gets the remainder, never below zero.
 */
export function saleSplit(total: number, commissionBps: number, method: PaymentMethod): SaleSplit {
  const commission = bps(total, commissionBps);
  const fee = Math.min(processingFee(total, method), total - commission);
  return { total, processingFee: fee, commission, seller: total - commission - fee, commissionBps, paymentMethod: method };
}
