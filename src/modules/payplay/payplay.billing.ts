import { bps } from '../../core/money.ts';
import type { EndReason } from './payplay.schema.ts';

/**
 * Pay as Play's charging rule, in one place (pure, so the engine and the tests share it).
 *
 * - Play is measured in whole seconds `s` from the session's start to the billing point: the last
 *   heartbeat (proof of play), or the stop call itself. Time after the last heartbeat is never billed.
 * - Time is billed in units of `U` = the platform's `billing_unit_seconds` (60 by default): a
 *   started unit is billed in full, and a session that started is billed at least one unit. So
 *   the units owed are `max(1, ceil(s / U))`, and unit 1 is charged when the session starts.
 *   With U = 1 this is per-second billing.
 * - The cost of `u` units at `P` minor units a minute is `round_half_up(u · U · P / 60)`. Every
 *   charge is `cost(u_new) − cost(u_old)`, so the session's total is exactly that formula of its
 *   billed seconds, and no fraction of a minor unit is lost or created across ticks.
 * - Commission is computed the same way on the running total: the commission of a charge is
 *   `bps(total_new) − bps(total_old)`, and the partner gets the rest of the charge.
 * - A unit is charged only if the wallet (and the grant's daily cap) covers it. When it cannot,
 *   the session stops at the end of the last covered unit (reason insufficient_funds or
 *   spending_cap), having charged exactly the whole units the money covered.
 */
export function unitCost(units: number, unitSeconds: number, pricePerMinute: number): number {
  return Math.floor((2 * units * unitSeconds * pricePerMinute + 60) / 120);
}

/** The most units whose cost is at most `amount`: the inverse of `unitCost`. */
export function unitsWithin(amount: number, unitSeconds: number, pricePerMinute: number): number {
  if (amount < 0) return 0;
  return Math.floor((120 * amount + 59) / (2 * unitSeconds * pricePerMinute));
}

export const unitsOwed = (seconds: number, unitSeconds: number): number => Math.max(1, Math.ceil(seconds / unitSeconds));

/** What the engine knows of one session when it bills it. */
export interface MeterInput {
  id: string;
  pricePerMinute: number;
  billingUnitSeconds: number;
  commissionBps: number;
  billedUnits: number;
  totalCost: number;
  commissionTotal: number;
  startedMs: number;
  lastHeartbeatMs: number;
  grantActive: boolean;
  platformActive: boolean;
}

export interface MeterDecision {
  id: string;
  /** Minor units to move now (0: nothing). */
  charge: number;
  commission: number;
  partner: number;
  units: number;
  totalCost: number;
  commissionTotal: number;
  paidUntilMs: number;
  /** When the session ends now, why; null when it keeps running. */
  endReason: EndReason | null;
  durationSeconds: number | null;
  /** When the engine must look at a running session again (idle timeout). */
  dueMs: number;
}

/**
 * Bills one session at `nowMs`. `available` is what the wallet can still spend (shared by the
 * batch's sessions of that wallet), `capLeft` what the grant's daily cap still allows (null: no
 * cap); `stop` is an explicit stop (`stopped`) or a forced one (revocation, suspension).
 */
export function meter(
  s: MeterInput,
  nowMs: number,
  idleMs: number,
  available: number,
  capLeft: number | null,
  stop: EndReason | null = null,
): MeterDecision {
  const idle = nowMs - s.lastHeartbeatMs >= idleMs;
  let reason: EndReason | null = stop;
  if (!reason && !s.grantActive) reason = 'grant_revoked';
  if (!reason && !s.platformActive) reason = 'platform_inactive';
  if (!reason && idle) reason = 'idle';
  // The stop call proves play up to now, unless the session had already gone idle.
  const pointMs = reason === 'stopped' && !idle ? nowMs : Math.min(s.lastHeartbeatMs, nowMs);
  const seconds = Math.max(0, Math.floor((pointMs - s.startedMs) / 1000));
  const U = s.billingUnitSeconds;
  const P = s.pricePerMinute;
  const owed = unitsOwed(seconds, U);
  let units = Math.max(s.billedUnits, owed);
  if (units > s.billedUnits) {
    const byBalance = Math.max(s.billedUnits, unitsWithin(s.totalCost + available, U, P));
    const byCap = capLeft === null ? Infinity : Math.max(s.billedUnits, unitsWithin(s.totalCost + capLeft, U, P));
    const affordable = Math.min(byBalance, byCap);
    if (affordable < units) {
      units = affordable;
      reason = byBalance <= byCap ? 'insufficient_funds' : 'spending_cap';
    }
  }
  const totalCost = unitCost(units, U, P);
  const charge = totalCost - s.totalCost;
  const commissionTotal = bps(totalCost, s.commissionBps);
  const commission = commissionTotal - s.commissionTotal;
  const paidUntilMs = s.startedMs + units * U * 1000;
  return {
    id: s.id,
    charge,
    commission,
    partner: charge - commission,
    units,
    totalCost,
    commissionTotal,
    paidUntilMs,
    endReason: reason,
    durationSeconds: reason ? Math.min(seconds, units * U) : null,
    dueMs: s.lastHeartbeatMs + idleMs,
  };
}

/** The UTC day of a time, as the grant's `spent_day` stores it. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Ends that Fanfare imposed rather than the partner's stop or the player going quiet. */
export const statusFor = (reason: EndReason): 'completed' | 'cancelled' => (reason === 'grant_revoked' || reason === 'platform_inactive' ? 'cancelled' : 'completed');
