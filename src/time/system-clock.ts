// The production adapter of the time seam: real monotonic time and real timers. The only
// file of src/time that touches them.
import { performance } from 'node:perf_hooks';
import { assert } from '../errors/assert.js';
import type { Clock, TimerHandle, Timers } from './clock.js';

/** Milliseconds since the process started, monotonic (never jumps with the wall clock). */
export const systemClock: Clock = Object.freeze({
  nowMs: (): number => performance.now(),
});

export interface SystemTimersOptions {
  /** Let the process exit while timers are armed (for background housekeeping). Default false. */
  readonly unref?: boolean;
}

/** Real one-shot timers behind the `Timers` interface. */
export class SystemTimers implements Timers {
  private readonly armed = new Map<TimerHandle, NodeJS.Timeout>();
  private handleLast = 0;
  private readonly unref: boolean;

  constructor(options: SystemTimersOptions = {}) {
    this.unref = options.unref ?? false;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    assert(Number.isFinite(delayMs) && delayMs >= 0, () => `set timer: delayMs must be finite and >= 0: ${delayMs}`);
    const handle = ++this.handleLast as TimerHandle;
    const timeout = setTimeout(() => {
      this.armed.delete(handle);
      callback();
    }, delayMs);
    if (this.unref) timeout.unref();
    this.armed.set(handle, timeout);
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    const timeout = this.armed.get(handle);
    if (timeout === undefined) return;
    clearTimeout(timeout);
    this.armed.delete(handle);
  }

  /** Timers armed and not yet fired or cleared (tests check that nothing is left running). */
  get armedCount(): number {
    return this.armed.size;
  }

  /** Disarms every timer, for `stop()` of the owner. */
  clearAll(): void {
    for (const timeout of this.armed.values()) clearTimeout(timeout);
    this.armed.clear();
  }
}
