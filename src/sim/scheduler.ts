// The discrete-event loop at the heart of the simulator. Virtual time, in milliseconds,
// moves only when an event runs: it jumps to that event's time. Nothing here reads a
// real clock or arms a real timer, so a run is a pure function of what is scheduled, and
// events due at the same time run in the order they were scheduled.
//
// Async code under test: the hosts, logs and clients the simulator will drive are async
// (they await promises that the simulated disk, network and timers resolve inside
// events). A promise continuation runs as a microtask, after the event that resolved it
// returns. The async variants (`stepAsync`, `runUntilAsync`, `runForAsync`) therefore
// *settle* after every event: they await an already resolved promise, turn after turn,
// until the simulated world has been quiet for `settleQuietTurns` consecutive turns (see
// `settle`). Only then does the next event run, so a continuation sees the virtual time
// of the event that woke it, as it would on a real machine, and not a later one.
//
// This uses no macrotask (no setImmediate, no real timer): the loop stays in the
// microtask queue from the first event of a run to the last, so no real I/O callback or
// timer can interleave with a run, and the order of every microtask is fixed by the
// program and the seed. Determinism does not depend on the quiet-turn count being
// enough; fidelity (which virtual time a continuation observes) does.
import { AssertionFailure, assert } from '../errors/assert.js';
import { EventQueue } from './event-queue.js';
import type { QueuedEvent } from './event-queue.js';
import { checkPositiveLimit, simulatorLimitsDefault } from './limits.js';

declare const eventIdBrand: unique symbol;

/** Identifies one scheduled event of one scheduler. */
export type EventId = number & { readonly [eventIdBrand]: true };

/** What an event observer sees just before the event runs (for traces). */
export interface EventNotice {
  readonly id: EventId;
  readonly timeMs: number;
  readonly label: string;
}

/** Stop at this virtual time (ms), or when this predicate holds (checked before each event). */
export type StopCondition = number | (() => boolean);

/**
 * Why a run returned: the predicate held; the stop time was reached (virtual time is then
 * exactly the stop time); nothing was left to run; or the event budget was used up.
 */
export type RunStop = 'condition' | 'time' | 'idle' | 'eventsMax';

export interface RunResult {
  readonly stoppedBy: RunStop;
  readonly eventsRun: number;
  readonly nowMs: number;
}

export interface SchedulerOptions {
  readonly eventsPendingMax?: number;
  /** Default event budget of one run (overridable per call). */
  readonly runEventsMax?: number;
  readonly settleQuietTurns?: number;
  readonly settleTurnsMax?: number;
  /** Sees every event just before it runs. */
  readonly onEvent?: (notice: EventNotice) => void;
}

interface ScheduledEvent extends QueuedEvent {
  readonly sequence: EventId;
  readonly action: () => void;
  readonly label: string;
}

/** A failure of a task started with `spawn`, kept until the async driver reports it. */
interface TaskFailure {
  readonly label: string;
  readonly timeMs: number;
  readonly error: unknown;
}

export class Scheduler {
  private nowValueMs = 0;
  private sequenceLast = 0;
  private readonly queue = new EventQueue<ScheduledEvent>();
  private readonly pending = new Map<EventId, ScheduledEvent>();
  /** Moves on every touch of the scheduler; `settle` watches it. */
  private activity = 0;
  /** True while an event's action runs: a nested step would reorder time. */
  private inEvent = false;
  /** True while an async run drives the loop: code under test must not step it too. */
  private driving = false;
  private eventsRunTotal = 0;
  private tasksUnfinished = 0;
  private readonly taskFailures: TaskFailure[] = [];
  private readonly eventsPendingMax: number;
  private readonly runEventsMax: number;
  private readonly settleQuietTurns: number;
  private readonly settleTurnsMax: number;
  private readonly onEvent: ((notice: EventNotice) => void) | undefined;

  constructor(options: SchedulerOptions = {}) {
    const owner = 'create scheduler';
    this.eventsPendingMax = checkPositiveLimit(owner, 'eventsPendingMax', options.eventsPendingMax ?? simulatorLimitsDefault.eventsPendingMax);
    this.runEventsMax = checkPositiveLimit(owner, 'runEventsMax', options.runEventsMax ?? simulatorLimitsDefault.runEventsMax);
    this.settleQuietTurns = checkPositiveLimit(owner, 'settleQuietTurns', options.settleQuietTurns ?? simulatorLimitsDefault.settleQuietTurns);
    this.settleTurnsMax = checkPositiveLimit(owner, 'settleTurnsMax', options.settleTurnsMax ?? simulatorLimitsDefault.settleTurnsMax);
    if (this.settleTurnsMax <= this.settleQuietTurns) {
      throw new RangeError(`${owner}: settleTurnsMax must exceed settleQuietTurns: ${this.settleTurnsMax} <= ${this.settleQuietTurns}`);
    }
    this.onEvent = options.onEvent;
  }

  /** Virtual time in milliseconds: the time of the event running now, or of the last one run. */
  now(): number {
    this.activity++;
    return this.nowValueMs;
  }

  /** Runs `action` `delayMs` (finite, >= 0) after now; ties run in scheduling order. */
  schedule(delayMs: number, action: () => void, label = ''): EventId {
    assert(Number.isFinite(delayMs) && delayMs >= 0, () => `schedule: delayMs must be finite and >= 0: ${delayMs}`);
    return this.scheduleAt(this.nowValueMs + delayMs, action, label);
  }

  /** Runs `action` at virtual time `timeMs` (finite, not in the past). */
  scheduleAt(timeMs: number, action: () => void, label = ''): EventId {
    assert(Number.isFinite(timeMs) && timeMs >= this.nowValueMs, () => `schedule: time ${timeMs} ms is not finite or is before now (${this.nowValueMs} ms)`);
    assert(this.pending.size < this.eventsPendingMax, () => `schedule: ${this.eventsPendingMax} events pending (eventsPendingMax) at ${this.nowValueMs} ms: a runaway?`);
    this.activity++;
    const id = ++this.sequenceLast as EventId;
    const event: ScheduledEvent = { sequence: id, timeMs, action, label, heapIndex: -1 };
    this.queue.push(event);
    this.pending.set(id, event);
    return id;
  }

  /** Cancels a pending event; returns false if it already ran or was cancelled. */
  cancel(id: EventId): boolean {
    this.activity++;
    const event = this.pending.get(id);
    if (event === undefined) return false;
    this.pending.delete(id);
    this.queue.remove(event);
    return true;
  }

  /** Tells `settle` that the world moved without a scheduler call (a simulated device may call it). */
  noteActivity(): void {
    this.activity++;
  }

  isPending(id: EventId): boolean {
    return this.pending.has(id);
  }

  /** The virtual time of a pending event, or undefined. */
  eventTimeMs(id: EventId): number | undefined {
    return this.pending.get(id)?.timeMs;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get eventsRun(): number {
    return this.eventsRunTotal;
  }

  /** The time of the next event, or undefined when idle. */
  nextEventTimeMs(): number | undefined {
    return this.queue.peek()?.timeMs;
  }

  /** Runs the next event; returns false when none is pending. Synchronous: no microtask runs in between. */
  step(): boolean {
    this.assertNotDriven('step');
    return this.runNext();
  }

  /** Runs events until `stop` or `eventsMax` (synchronously). */
  runUntil(stop: StopCondition, eventsMax = this.runEventsMax): RunResult {
    this.assertNotDriven('run');
    const stopTimeMs = this.checkStop(stop, eventsMax);
    for (let eventsRun = 0; ; eventsRun++) {
      const stoppedBy = this.stopReason(stop, stopTimeMs, eventsRun, eventsMax);
      if (stoppedBy !== undefined) return { stoppedBy, eventsRun, nowMs: this.nowValueMs };
      this.runNext();
    }
  }

  /** Runs events for `durationMs` of virtual time; time then stands at now + durationMs. */
  runFor(durationMs: number, eventsMax = this.runEventsMax): RunResult {
    assert(Number.isFinite(durationMs) && durationMs >= 0, () => `run for: durationMs must be finite and >= 0: ${durationMs}`);
    return this.runUntil(this.nowValueMs + durationMs, eventsMax);
  }

  /** Settles, runs the next event, settles again; returns false when none is pending. */
  async stepAsync(): Promise<boolean> {
    this.beginDriving('step');
    try {
      await this.settleAndReport();
      const ran = this.runNext();
      if (ran) await this.settleAndReport();
      return ran;
    } finally {
      this.driving = false;
    }
  }

  /** Like `runUntil`, settling the async code under test before the first event and after each. */
  async runUntilAsync(stop: StopCondition, eventsMax = this.runEventsMax): Promise<RunResult> {
    this.beginDriving('run');
    try {
      const stopTimeMs = this.checkStop(stop, eventsMax);
      await this.settleAndReport();
      for (let eventsRun = 0; ; eventsRun++) {
        const stoppedBy = this.stopReason(stop, stopTimeMs, eventsRun, eventsMax);
        if (stoppedBy !== undefined) return { stoppedBy, eventsRun, nowMs: this.nowValueMs };
        this.runNext();
        await this.settleAndReport();
      }
    } finally {
      this.driving = false;
    }
  }

  async runForAsync(durationMs: number, eventsMax = this.runEventsMax): Promise<RunResult> {
    assert(Number.isFinite(durationMs) && durationMs >= 0, () => `run for: durationMs must be finite and >= 0: ${durationMs}`);
    return this.runUntilAsync(this.nowValueMs + durationMs, eventsMax);
  }

  /**
   * Lets pending microtasks run until the world is quiet: awaits a resolved promise turn
   * after turn, and returns (the number of turns taken) once `settleQuietTurns`
   * consecutive turns passed without any scheduler activity (schedule, cancel, now,
   * noteActivity). Each turn lets every microtask queued before it run, so a chain of
   * continuations advances about one hop per turn; a chain that touches the simulated
   * world at least every `settleQuietTurns` hops finishes inside this settle. A chain that
   * never stops touching it (a busy-wait) fails after `settleTurnsMax` turns.
   */
  async settle(): Promise<number> {
    let quietTurns = 0;
    for (let turn = 1; turn <= this.settleTurnsMax; turn++) {
      const before = this.activity;
      await Promise.resolve();
      quietTurns = this.activity === before ? quietTurns + 1 : 0;
      if (quietTurns >= this.settleQuietTurns) return turn;
    }
    throw new AssertionFailure(`scheduler: microtasks do not settle after ${this.settleTurnsMax} turns at ${this.nowValueMs} ms (settleTurnsMax): does code under test busy-wait on the clock?`);
  }

  /**
   * Starts an async task of the simulation (a client, a node's main loop) now. A task that
   * rejects fails the async run that drives the scheduler at the next settle, with the
   * task's label and the virtual time, instead of surfacing as an unhandled rejection
   * after the run.
   */
  spawn(label: string, task: () => Promise<void>): void {
    this.tasksUnfinished++;
    const failed = (error: unknown): void => {
      this.taskFailures.push({ label, timeMs: this.nowValueMs, error });
    };
    let promise: Promise<void>;
    try {
      promise = task();
    } catch (error) {
      this.tasksUnfinished--;
      failed(error);
      return;
    }
    promise.then(
      () => {
        this.activity++;
        this.tasksUnfinished--;
      },
      (error: unknown) => {
        this.activity++;
        this.tasksUnfinished--;
        failed(error);
      },
    );
  }

  /** Tasks started with `spawn` that have not finished. */
  get unfinishedTaskCount(): number {
    return this.tasksUnfinished;
  }

  private async settleAndReport(): Promise<void> {
    await this.settle();
    const failure = this.taskFailures.shift();
    if (failure !== undefined) {
      throw new Error(`simulation task "${failure.label}" failed at ${failure.timeMs} ms: ${String(failure.error)}`, { cause: failure.error });
    }
  }

  private runNext(): boolean {
    const event = this.queue.pop();
    if (event === undefined) return false;
    this.pending.delete(event.sequence);
    assert(event.timeMs >= this.nowValueMs, () => `scheduler: event ${event.sequence} at ${event.timeMs} ms is before now (${this.nowValueMs} ms)`);
    this.nowValueMs = event.timeMs;
    this.activity++;
    this.eventsRunTotal++;
    this.onEvent?.({ id: event.sequence, timeMs: event.timeMs, label: event.label });
    this.inEvent = true;
    try {
      event.action();
    } finally {
      this.inEvent = false;
    }
    return true;
  }

  private checkStop(stop: StopCondition, eventsMax: number): number | undefined {
    assert(Number.isSafeInteger(eventsMax) && eventsMax >= 0, () => `run: eventsMax must be a safe integer >= 0: ${eventsMax}`);
    if (typeof stop !== 'number') return undefined;
    assert(Number.isFinite(stop) && stop >= this.nowValueMs, () => `run: stop time ${stop} ms is not finite or is before now (${this.nowValueMs} ms)`);
    return stop;
  }

  private stopReason(stop: StopCondition, stopTimeMs: number | undefined, eventsRun: number, eventsMax: number): RunStop | undefined {
    if (typeof stop === 'function' && stop()) return 'condition';
    const next = this.queue.peek();
    if (stopTimeMs !== undefined && (next === undefined || next.timeMs > stopTimeMs)) {
      this.nowValueMs = stopTimeMs;
      return 'time';
    }
    if (next === undefined) return 'idle';
    if (eventsRun >= eventsMax) return 'eventsMax';
    return undefined;
  }

  private assertNotDriven(what: string): void {
    assert(!this.inEvent, () => `scheduler: ${what} called from inside an event at ${this.nowValueMs} ms`);
    assert(!this.driving, () => `scheduler: ${what} called while an async run drives the scheduler at ${this.nowValueMs} ms`);
  }

  private beginDriving(what: string): void {
    this.assertNotDriven(what);
    this.driving = true;
  }
}
