// One node's clock and timers in the simulation, backed by the shared scheduler. Each
// node gets its own, so clocks can disagree the way real ones do: an offset (the node
// booted at another time) and a rate (its oscillator runs a little fast or slow). Timers
// are measured on the node's own clock, so a fast clock fires its timers early in
// virtual time, which is what breaks lease-based reads when clocks drift.
import { assert } from '../errors/assert.js';
import type { Clock, TimerHandle, Timers } from '../time/clock.js';
import type { EventId, Scheduler } from './scheduler.js';

export interface SimulatedClockOptions {
  /** Local time at virtual time 0. Default 0. */
  readonly offsetMs?: number;
  /** Local milliseconds per virtual millisecond, in (0.5, 2). Default 1. */
  readonly rate?: number;
  /** Label of timer events in traces. Default "timer". */
  readonly label?: string;
}

export class SimulatedClock implements Clock, Timers {
  private readonly offsetMs: number;
  private readonly rate: number;
  private readonly label: string;
  /** Armed timers, so a crash can take them all down with the node. */
  private readonly armed = new Set<EventId>();

  constructor(
    private readonly scheduler: Scheduler,
    options: SimulatedClockOptions = {},
  ) {
    this.offsetMs = options.offsetMs ?? 0;
    this.rate = options.rate ?? 1;
    this.label = options.label ?? 'timer';
    assert(Number.isFinite(this.offsetMs), () => `create simulated clock: offsetMs must be finite: ${this.offsetMs}`);
    // Beyond these a node's clock is broken rather than drifting; protocols may assume bounded drift.
    assert(this.rate > 0.5 && this.rate < 2, () => `create simulated clock: rate must be in (0.5, 2): ${this.rate}`);
  }

  nowMs(): number {
    return this.offsetMs + this.scheduler.now() * this.rate;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    assert(Number.isFinite(delayMs) && delayMs >= 0, () => `set timer: delayMs must be finite and >= 0: ${delayMs}`);
    const id: EventId = this.scheduler.schedule(
      delayMs / this.rate,
      () => {
        this.armed.delete(id);
        callback();
      },
      this.label,
    );
    this.armed.add(id);
    // A scheduler's event ids are unique, so they serve as handles of this clock too.
    return id as number as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    const id = handle as number as EventId;
    if (!this.armed.delete(id)) return;
    this.scheduler.cancel(id);
  }

  /** Disarms every timer of this clock (the node crashed); returns how many were armed. */
  clearAll(): number {
    const count = this.armed.size;
    for (const id of this.armed) this.scheduler.cancel(id);
    this.armed.clear();
    return count;
  }

  get armedCount(): number {
    return this.armed.size;
  }
}
