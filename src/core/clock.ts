/** Where services read the time, so tests and the metering bench can drive it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that moves only when told to (tests, simulations). */
export class FakeClock implements Clock {
  constructor(private ms: number = Date.UTC(2026, 0, 5, 12, 0, 0)) {}
  now(): Date {
    return new Date(this.ms);
  }
  set(at: Date | number): void {
    this.ms = typeof at === 'number' ? at : at.getTime();
  }
  advance(ms: number): Date {
    this.ms += ms;
    return this.now();
  }
}
