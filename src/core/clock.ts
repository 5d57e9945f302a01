/**
 * Where "now" comes from for money rules that depend on time (escrow release). Production uses
 * the system clock; tests pass a ManualClock and move it forward instead of waiting seven days.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | number = Date.now()) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.t += ms;
  }
  set(to: Date): void {
    this.t = to.getTime();
  }
}
