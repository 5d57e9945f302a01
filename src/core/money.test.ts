import { describe, expect, it } from 'vitest';
import {
  allocate,
  bps,
  commissionBpsByPlan,
  formatMoney,
  MAX_AMOUNT,
  paymentMethods,
  platformFeeBps,
  processingFee,
  saleSplit,
  sellerPlans,
  toMajor,
  toMinor,
} from './money.ts';

/**
 * The written rule (money.ts): every percentage is rounded half up to the minor unit once per
 * component, the last part of a split is the remainder, and proportional splits use the largest
 * remainder with ties to the earlier part. These tests check it exhaustively on 0..100 000 and
 * on random amounts up to MAX_AMOUNT.
 */

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randInt = (r: () => number, max: number) => Math.floor(r() * (max + 1));

/** Half up, computed differently from money.ts: floor, then one more when the remainder is at least half. */
const halfUpRef = (amount: number, basisPoints: number): number => {
  const p = BigInt(amount) * BigInt(basisPoints);
  const q = p / 10_000n;
  return Number(p % 10_000n >= 5_000n ? q + 1n : q);
};

const N = 100_000;
const rates = [0, 1, 290, 349, 1000, 1250, 2000, 3000, 4000, 9999, 10_000];

describe('bps: a percentage, rounded half up once', () => {
  it('matches the half-up reference on every amount 0..100 000 for every rate in use', () => {
    for (const rate of rates) {
      for (let a = 0; a <= N; a++) {
        if (bps(a, rate) !== halfUpRef(a, rate)) {
          expect(`bps(${a}, ${rate}) = ${bps(a, rate)}`).toBe(`${halfUpRef(a, rate)}`);
        }
      }
    }
  });

  it('rounds exactly half up and just under half down', () => {
    expect(bps(2500, 290)).toBe(73); // 72.5
    expect(bps(5000, 1)).toBe(1); // 0.5
    expect(bps(4999, 1)).toBe(0); // 0.4999
    expect(bps(15_000, 1)).toBe(2); // 1.5: half up, not to even
    expect(bps(25_000, 1)).toBe(3); // 2.5
    expect(bps(0, 4000)).toBe(0);
  });

  it('is exact on large amounts, where floats are not', () => {
    const r = rng(7);
    for (let i = 0; i < 20_000; i++) {
      const a = randInt(r, MAX_AMOUNT);
      const rate = randInt(r, 10_000);
      expect(bps(a, rate)).toBe(halfUpRef(a, rate));
    }
    expect(bps(MAX_AMOUNT, 10_000)).toBe(MAX_AMOUNT);
  });

  it('refuses negative, fractional or unsafe input', () => {
    expect(() => bps(-1, 100)).toThrow(RangeError);
    expect(() => bps(1.5, 100)).toThrow(RangeError);
    expect(() => bps(100, 12.5)).toThrow(RangeError);
    expect(() => bps(Number.MAX_SAFE_INTEGER + 1, 1)).toThrow(RangeError);
  });
});

describe('processing fees (producers-avenue: card 2.9 % + 0.30, PayPal 3.49 % + 0.49)', () => {
  it('prices the seed examples', () => {
    expect(processingFee(10_000, 'card')).toBe(320); // 2.90 + 0.30
    expect(processingFee(2500, 'card')).toBe(103); // 0.725 → 0.73, + 0.30
    expect(processingFee(10_000, 'paypal')).toBe(398); // 3.49 + 0.49
    expect(processingFee(2500, 'paypal')).toBe(136); // 0.8725 → 0.87, + 0.49
    expect(processingFee(5000, 'paypal')).toBe(224); // 1.745 → 1.75, + 0.49
    expect(processingFee(10_000, 'wallet_balance')).toBe(0);
  });

  it('is never more than what was paid, and nothing on nothing', () => {
    for (const m of paymentMethods) expect(processingFee(0, m)).toBe(0);
    expect(processingFee(10, 'card')).toBe(10);
    expect(processingFee(49, 'paypal')).toBe(49);
    for (let a = 0; a <= N; a++) {
      for (const m of paymentMethods) {
        const f = processingFee(a, m);
        if (f < 0 || f > a) expect({ a, m, f }).toBe('a fee within 0..amount');
      }
    }
  });
});

describe('commission by seller plan and the platform fee precedence', () => {
  it('takes 40 / 30 / 20 / 10 % by plan', () => {
    expect(commissionBpsByPlan).toEqual({
      basic: 4000,
      standard: 3000,
      premium: 2000,
      ultimate: 1000,
      ultimate_friends: 1000,
    });
    expect(sellerPlans.map((p) => saleSplit(10_000, commissionBpsByPlan[p], 'card').commission)).toEqual([
      4000, 3000, 2000, 1000, 1000,
    ]);
    // 99.99 on the standard plan: 29.997 → 30.00.
    expect(saleSplit(9999, 3000, 'card').commission).toBe(3000);
  });

  it("prefers the creator's rate, then the organization's, then the platform default", () => {
    expect(platformFeeBps({ creator: 500, organization: 1000, platformDefault: 1500 })).toEqual({
      bps: 500,
      source: 'creator',
    });
    expect(platformFeeBps({ creator: null, organization: 1000, platformDefault: 1500 })).toEqual({
      bps: 1000,
      source: 'organization',
    });
    expect(platformFeeBps({ organization: undefined, platformDefault: 1500 })).toEqual({
      bps: 1500,
      source: 'platform',
    });
    // A rate of zero is a rate, not a missing one.
    expect(platformFeeBps({ creator: 0, organization: 1000, platformDefault: 1500 })).toEqual({
      bps: 0,
      source: 'creator',
    });
    expect(platformFeeBps({ creator: null, organization: 0, platformDefault: 1500 })).toEqual({
      bps: 0,
      source: 'organization',
    });
  });
});

describe('saleSplit: commission and fee rounded once each, the seller gets the remainder', () => {
  it('prices the seed example: 100.00 by card at 30 %', () => {
    expect(saleSplit(10_000, 3000, 'card')).toEqual({
      total: 10_000,
      processingFee: 320,
      commission: 3000,
      seller: 6680,
      commissionBps: 3000,
      paymentMethod: 'card',
    });
    expect(saleSplit(10_000, 4000, 'paypal')).toMatchObject({
      processingFee: 398,
      commission: 4000,
      seller: 5602,
    });
    expect(saleSplit(10_000, 1000, 'wallet_balance')).toMatchObject({
      processingFee: 0,
      commission: 1000,
      seller: 9000,
    });
  });

  it('sums to the total, never below zero, on every amount 0..100 000, plan and method', () => {
    const planRates = [...new Set(Object.values(commissionBpsByPlan))];
    for (let a = 0; a <= N; a++) {
      for (const rate of planRates) {
        for (const m of paymentMethods) {
          const s = saleSplit(a, rate, m);
          const ok =
            s.commission + s.processingFee + s.seller === a &&
            s.commission === bps(a, rate) &&
            s.processingFee === Math.min(processingFee(a, m), a - s.commission) &&
            s.seller >= 0 &&
            s.processingFee >= 0;
          if (!ok) expect({ a, rate, m, s }).toBe('a split that sums to the total');
        }
      }
    }
  });

  it('sums to the total on random large amounts and rates', () => {
    const r = rng(42);
    for (let i = 0; i < 20_000; i++) {
      const a = randInt(r, MAX_AMOUNT);
      const rate = randInt(r, 10_000);
      const m = paymentMethods[randInt(r, 2)]!;
      const s = saleSplit(a, rate, m);
      expect(BigInt(s.commission) + BigInt(s.processingFee) + BigInt(s.seller)).toBe(BigInt(a));
      expect(s.seller).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('allocate: largest remainder, ties to the earlier part', () => {
  /** Checks the method itself: each part is its exact share's floor or one more, and the extra units went to the largest remainders, ties first. */
  const checkAllocation = (total: number, weights: number[], parts: number[]) => {
    const t = BigInt(Math.abs(total));
    const sum = weights.reduce((a, b) => a + BigInt(b), 0n);
    const sign = total < 0 ? -1 : 1;
    const floors = weights.map((w) => (t * BigInt(w)) / sum);
    const rems = weights.map((w) => (t * BigInt(w)) % sum);
    const extra = parts.map((p, i) => BigInt(p * sign) - floors[i]!);
    if (parts.reduce((a, b) => a + BigInt(b), 0n) !== BigInt(total)) return 'parts do not sum to the total';
    if (extra.some((e) => e !== 0n && e !== 1n)) return 'a part is not its floor or one more';
    for (let i = 0; i < parts.length; i++) {
      for (let j = 0; j < parts.length; j++) {
        if (extra[i] === 1n && extra[j] === 0n) {
          // i got a unit j did not: i's remainder must be larger, or equal and i earlier.
          if (rems[i]! < rems[j]! || (rems[i] === rems[j] && i > j)) {
            return `unit given to part ${i} over part ${j}`;
          }
        }
      }
    }
    return null;
  };

  it('follows the rule on every total 0..100 000 with random weights', () => {
    const r = rng(1);
    for (let total = 0; total <= N; total++) {
      const n = 1 + randInt(r, 5);
      const weights = Array.from({ length: n }, () => randInt(r, 1000));
      if (!weights.some((w) => w > 0)) weights[0] = 1;
      const parts = allocate(total, weights);
      const problem = checkAllocation(total, weights, parts);
      if (problem) expect({ total, weights, parts }).toBe(problem);
    }
  });

  it('follows the rule on random large and negative totals', () => {
    const r = rng(99);
    for (let i = 0; i < 20_000; i++) {
      const total = randInt(r, MAX_AMOUNT) * (r() < 0.3 ? -1 : 1);
      const weights = Array.from({ length: 1 + randInt(r, 7) }, () => randInt(r, MAX_AMOUNT));
      if (!weights.some((w) => w > 0)) weights[0] = 1;
      const parts = allocate(total, weights);
      const problem = checkAllocation(total, weights, parts);
      if (problem) expect({ total, weights, parts }).toBe(problem);
    }
  });

  it('gives ties to the earlier part', () => {
    expect(allocate(1, [1, 1])).toEqual([1, 0]);
    expect(allocate(2, [1, 1, 1])).toEqual([1, 1, 0]);
    expect(allocate(100, [1, 1, 1])).toEqual([34, 33, 33]);
    expect(allocate(-100, [1, 1, 1])).toEqual([-34, -33, -33]);
    expect(allocate(5, [1, 2])).toEqual([2, 3]); // remainders 2/3 and 1/3: the larger wins
    expect(allocate(0, [3, 7])).toEqual([0, 0]);
    expect(allocate(7, [0, 1])).toEqual([0, 7]);
    // A 25.00 refund of the seed sale (66.80 seller, 30.00 commission, 3.20 fee): 16.70 / 7.50 / 0.80.
    expect(allocate(2500, [6680, 3000, 320])).toEqual([1670, 750, 80]);
  });

  it('gives each share back exactly when the whole sale is refunded at once', () => {
    const r = rng(5);
    for (let i = 0; i < 20_000; i++) {
      const split = saleSplit(
        1 + randInt(r, 1_000_000),
        commissionBpsByPlan[sellerPlans[randInt(r, 4)]!],
        paymentMethods[randInt(r, 1)]!,
      );
      const weights = [split.seller, split.commission, split.processingFee];
      expect(allocate(split.total, weights)).toEqual(weights);
    }
  });

  it('refuses weights that say nothing', () => {
    expect(() => allocate(10, [0, 0])).toThrow(RangeError);
    expect(() => allocate(10, [1, -1])).toThrow(RangeError);
    expect(() => allocate(1.5, [1])).toThrow(RangeError);
  });
});

describe('minor and major units', () => {
  it('round-trips every amount 0..100 000', () => {
    for (let a = 0; a <= N; a++) {
      if (toMinor(toMajor(a, 'USD'), 'USD') !== a) expect(toMajor(a, 'USD')).toBe(`a round trip of ${a}`);
    }
    expect(toMajor(5, 'USD')).toBe('0.05');
    expect(toMajor(-1234, 'EUR')).toBe('-12.34');
    expect(toMajor(500, 'JPY')).toBe('500');
    expect(toMinor('12.3', 'USD')).toBe(1230);
  });

  it('refuses more decimals than the currency has', () => {
    expect(() => toMinor('1.005', 'USD')).toThrow(/not an amount/);
    expect(() => toMinor('1.5', 'JPY')).toThrow(/not an amount/);
  });

  it('formats for people', () => {
    expect(formatMoney(5000, 'USD')).toBe('$50.00');
    expect(formatMoney(123_456, 'EUR', 'en-US')).toBe('€1,234.56');
  });
});
