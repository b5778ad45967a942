// Time is injected: domain code never reads the wall clock directly, so tests and the simulator
// can drive a virtual clock.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = {
  // eslint-disable-next-line no-restricted-syntax -- the one place the wall clock is read
  now: () => Date.now(),
};

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}

export const isoTime = (clock: Clock): string => new Date(clock.now()).toISOString();
