/**
 * Where services read the time for rules that depend on it (escrow release, per-minute metering,
 * idle sessions, daily caps). Production uses the system clock; tests and the metering bench pass
 * a ManualClock and move it forward instead of waiting.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that moves only when told to (tests, simulations). */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | number = Date.now()) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  /** Moves the clock forward by `ms` milliseconds and answers the new time. */
  advance(ms: number): Date {
    this.t += ms;
    return this.now();
  }
  set(to: Date | number): void {
    this.t = typeof to === 'number' ? to : to.getTime();
  }
}
