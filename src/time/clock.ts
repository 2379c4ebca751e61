// The time seam between protocol code and the world. Protocol and host code take a
// `Clock` and `Timers` instead of reading `performance.now()` or calling the global
// timer functions, so the same code runs on real time in production and on the virtual
// time of the simulator (src/sim), where one seed replays a whole run.
//
// This lives in its own neutral folder, not in src/sim: production code depends on the
// interface, and production must never import the simulator.

/**
 * A monotonic clock in milliseconds from an arbitrary origin. It measures durations and
 * orders local events; it is not a calendar (no dates, no time zones) and two nodes'
 * clocks need not agree.
 */
export interface Clock {
  nowMs(): number;
}

declare const timerHandleBrand: unique symbol;

/** Identifies one armed timer of one `Timers`; meaningless to any other `Timers`. */
export type TimerHandle = number & { readonly [timerHandleBrand]: true };

/**
 * One-shot timers. The names differ from the global `setTimeout`/`clearTimeout` on
 * purpose: pure folders scan their sources for the globals, and a call through this
 * interface must not look like one.
 */
export interface Timers {
  /** Calls `callback` once, `delayMs` (>= 0) after now on this clock, unless cleared first. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  /** Disarms the timer; clearing a fired or already cleared timer does nothing. */
  clearTimer(handle: TimerHandle): void;
}
