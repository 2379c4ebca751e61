// Every bound of the simulator's building blocks, named with its unit last. A run that
// hits one is either a bug (a livelock, a runaway queue) or a check too large to decide,
// and says which; nothing here grows without limit.

export interface SimulatorLimits {
  /** Events waiting in the scheduler's queue; a run that schedules more is a runaway. */
  readonly eventsPendingMax: number;
  /** Events one `runUntil`/`runFor` call runs unless the caller passes its own bound. */
  readonly runEventsMax: number;
  /**
   * Consecutive microtask turns with no scheduler activity after which the async code
   * under test counts as settled (see Scheduler.settle). Longer chains of pure awaits
   * between two touches of the simulated world would spill into the next event.
   */
  readonly settleQuietTurns: number;
  /** Microtask turns one settle may take; more means the code under test busy-waits. */
  readonly settleTurnsMax: number;
  /** Messages the simulated network holds in flight; more are dropped as an overflow. */
  readonly inFlightMessagesMax: number;
  /** Search steps of the linearizability checker per partition (key); then "unknown". */
  readonly searchStepsMax: number;
  /** Operations one history may record. */
  readonly historyOperationsMax: number;
  /** Events the trace ring keeps; older ones are overwritten (and counted). */
  readonly traceEventsMax: number;
}

export const simulatorLimitsDefault: Readonly<SimulatorLimits> = Object.freeze({
  eventsPendingMax: 1_000_000,
  runEventsMax: 10_000_000,
  settleQuietTurns: 32,
  settleTurnsMax: 100_000,
  inFlightMessagesMax: 100_000,
  searchStepsMax: 1_000_000,
  historyOperationsMax: 1_000_000,
  traceEventsMax: 10_000,
});

/** Checks one limit at construction time, naming it: a bad bound is refused at once. */
export function checkPositiveLimit(owner: string, name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${owner}: ${name} must be a positive safe integer: ${value}`);
  }
  return value;
}
