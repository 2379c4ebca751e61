// What happened in a simulated run, for the report of a failing seed. A bounded ring:
// a long run keeps only its last `capacity` events (the ones that led to the failure)
// and counts what it overwrote, so tracing every step costs bounded memory. Events are
// plain data and formatting is deterministic, so two runs of one seed print the same
// trace byte for byte, and a diff of two traces shows where runs diverge.
import { assert } from '../errors/assert.js';
import { checkPositiveLimit, simulatorLimitsDefault } from './limits.js';

export type TraceDetail = string | number | boolean | null | { readonly [field: string]: unknown } | readonly unknown[];

export interface TraceEvent {
  readonly timeMs: number;
  /** What happened, dotted from general to specific: "network.drop", "raft.leader", "client.invoke". */
  readonly kind: string;
  readonly node?: string | number;
  readonly detail?: TraceDetail;
}

/** A recorded event with its position in the whole run (0 for the first event ever recorded). */
export interface TraceEntry extends TraceEvent {
  readonly sequence: number;
}

export class Trace {
  private readonly ring: TraceEntry[] = [];
  /** Where the next entry goes once the ring is full. */
  private nextSlot = 0;
  private recordedTotal = 0;
  readonly capacity: number;

  constructor(capacity: number = simulatorLimitsDefault.traceEventsMax) {
    this.capacity = checkPositiveLimit('create trace', 'capacity', capacity);
  }

  record(event: TraceEvent): void {
    assert(Number.isFinite(event.timeMs), () => `trace: timeMs must be finite: ${event.timeMs}`);
    const entry: TraceEntry = { sequence: this.recordedTotal++, ...event };
    if (this.ring.length < this.capacity) {
      this.ring.push(entry);
      return;
    }
    this.ring[this.nextSlot] = entry;
    this.nextSlot = (this.nextSlot + 1) % this.capacity;
  }

  /** Events recorded since the start, kept or not. */
  get recordedCount(): number {
    return this.recordedTotal;
  }

  /** Events overwritten because the ring was full. */
  get overwrittenCount(): number {
    return this.recordedTotal - this.ring.length;
  }

  /** The kept events, oldest first. */
  entries(): TraceEntry[] {
    return [...this.ring.slice(this.nextSlot), ...this.ring.slice(0, this.nextSlot)];
  }

  clear(): void {
    this.ring.length = 0;
    this.nextSlot = 0;
    this.recordedTotal = 0;
  }
}

export interface FormatTraceOptions {
  /** First lines, typically the seed and how to replay it. */
  readonly header?: readonly string[];
  /** Only the last this many events. */
  readonly lastEventsMax?: number;
}

/** JSON, except that a bigint prints as `123n` and a byte array as its length. */
function formatDetail(detail: TraceDetail): string {
  if (typeof detail === 'string') return detail;
  return JSON.stringify(detail, (_key, value: unknown) => {
    if (typeof value === 'bigint') return `${value}n`;
    if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
    return value;
  });
}

/** Renders a trace as text: header lines, then one line per event: sequence, time, node, kind, detail. */
export function formatTrace(trace: Trace, options: FormatTraceOptions = {}): string {
  const lines: string[] = [...(options.header ?? [])];
  let entries = trace.entries();
  if (options.lastEventsMax !== undefined && entries.length > options.lastEventsMax) {
    entries = entries.slice(entries.length - options.lastEventsMax);
  }
  const omitted = trace.recordedCount - entries.length;
  if (omitted > 0) lines.push(`... ${omitted} earlier events not shown`);
  for (const entry of entries) {
    const node = entry.node === undefined ? '-' : `n${entry.node}`;
    const detail = entry.detail === undefined ? '' : ` ${formatDetail(entry.detail)}`;
    lines.push(`#${entry.sequence} ${entry.timeMs.toFixed(3)}ms ${node} ${entry.kind}${detail}`);
  }
  return lines.join('\n');
}
