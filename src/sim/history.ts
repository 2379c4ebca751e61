// A history of client operations for the linearizability checker: each operation has a
// client, an input, the moment it was invoked and, if the client heard back, the moment
// and content of the response. An operation without a response (the client crashed or
// gave up) may or may not have taken effect, at any moment after its invoke.
import { assert } from '../errors/assert.js';
import type { Clock } from '../time/clock.js';
import { checkPositiveLimit, simulatorLimitsDefault } from './limits.js';

export interface OperationResponse<Output> {
  /** Orders the response against every invoke and response of the history. */
  readonly time: number;
  readonly output: Output;
  /** For display: the clock reading at the response, if the recorder had a clock. */
  readonly timeMs?: number;
}

export interface HistoryOperation<Input, Output> {
  readonly id: number;
  readonly clientId: number | string;
  readonly input: Input;
  /**
   * Orders the invoke against every other invoke and response. Operation A precedes B in
   * real time only if A's response time is strictly less than B's invoke time; equal
   * times count as concurrent, which can hide a violation but never invents one.
   */
  readonly invokeTime: number;
  readonly invokeTimeMs?: number;
  /** Absent: no response (pending). */
  readonly response?: OperationResponse<Output>;
}

export interface HistoryRecorderOptions {
  /** Read at every invoke and response for display; ordering uses the recorder's own counter. */
  readonly clock?: Clock;
  readonly operationsMax?: number;
}

/**
 * Records a history as it happens. Times are a counter that moves at every invoke and
 * response, so the real-time order is exact even when many operations share one virtual
 * millisecond. A client has at most one outstanding operation: it must see a response,
 * or `abandon` the operation (a timeout), before it invokes the next one.
 */
export class HistoryRecorder<Input, Output> {
  private readonly recorded: HistoryOperation<Input, Output>[] = [];
  private readonly outstandingByClient = new Map<number | string, number>();
  private readonly abandoned = new Set<number>();
  private timeLast = 0;
  private readonly clock: Clock | undefined;
  private readonly operationsMax: number;

  constructor(options: HistoryRecorderOptions = {}) {
    this.clock = options.clock;
    this.operationsMax = checkPositiveLimit('create history recorder', 'operationsMax', options.operationsMax ?? simulatorLimitsDefault.historyOperationsMax);
  }

  /** Records an invoke; returns the operation id to respond to. */
  invoke(clientId: number | string, input: Input): number {
    assert(!this.outstandingByClient.has(clientId), () => `history: client ${clientId} invokes while operation ${this.outstandingByClient.get(clientId)} is outstanding`);
    assert(this.recorded.length < this.operationsMax, () => `history: more than ${this.operationsMax} operations (operationsMax)`);
    const id = this.recorded.length;
    this.recorded.push({ id, clientId, input, invokeTime: ++this.timeLast, invokeTimeMs: this.clock?.nowMs() });
    this.outstandingByClient.set(clientId, id);
    return id;
  }

  /** Records the response of an outstanding operation. */
  respond(id: number, output: Output): void {
    const operation = this.outstanding(id, 'respond to');
    this.recorded[id] = { ...operation, response: { time: ++this.timeLast, output, timeMs: this.clock?.nowMs() } };
    this.outstandingByClient.delete(operation.clientId);
  }

  /** The client stops waiting: the operation stays pending for good, and the client may invoke again. */
  abandon(id: number): void {
    const operation = this.outstanding(id, 'abandon');
    this.abandoned.add(id);
    this.outstandingByClient.delete(operation.clientId);
  }

  /** Every operation so far, by id; outstanding and abandoned ones have no response. */
  operations(): readonly HistoryOperation<Input, Output>[] {
    return [...this.recorded];
  }

  get pendingCount(): number {
    return this.recorded.filter((operation) => operation.response === undefined).length;
  }

  private outstanding(id: number, action: string): HistoryOperation<Input, Output> {
    const operation = this.recorded[id];
    assert(operation !== undefined, () => `history: ${action} unknown operation ${id}`);
    assert(operation.response === undefined && !this.abandoned.has(id), () => `history: ${action} operation ${id}, which already has a response or was abandoned`);
    return operation;
  }
}
