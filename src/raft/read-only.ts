import { assert } from './assert.js';
import type { Message } from './messages.js';
import type { LogIndex, NodeId } from './types.js';

export enum ReadOnlyOption {
  /** Confirm leadership with a heartbeat round per batch of reads. Safe under any clock behaviour. */
  Safe = 'safe',
  /**
   * Trust the leader lease kept by check-quorum: answer at once. Needs checkQuorum, and
   * is only safe if clocks do not drift by more than the election timeout.
   */
  LeaseBased = 'lease-based',
}

export interface ReadIndexStatus {
  readonly request: Message;
  /** The commit index when the request arrived: the read is linearizable at or after it. */
  readonly index: LogIndex;
  readonly acknowledgedBy: Set<NodeId>;
}

function contextKey(context: Uint8Array): string {
  let key = '';
  for (const byte of context) key += byte.toString(16).padStart(2, '0');
  return key;
}

/**
 * Read-index requests waiting at the leader for a quorum of heartbeat acknowledgements.
 * A heartbeat carries the newest request's context; an ack for it confirms every older
 * request too, since heartbeats are answered in order of the leader's term.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  constructor(
    readonly option: ReadOnlyOption,
    private readonly requestsMax: number,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  isFull(): boolean {
    return this.queue.length >= this.requestsMax;
  }

  has(context: Uint8Array): boolean {
    return this.pending.has(contextKey(context));
  }

  addRequest(index: LogIndex, request: Message): void {
    const key = contextKey(request.context);
    assert(!this.pending.has(key), 'read-only: duplicate read request context');
    assert(!this.isFull(), 'read-only: request queue is full');
    this.pending.set(key, { request, index, acknowledgedBy: new Set() });
    this.queue.push(key);
  }

  /** Records that id acknowledged the heartbeat carrying context; returns who acknowledged it so far. */
  receiveAck(id: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const status = this.pending.get(contextKey(context));
    if (status === undefined) return undefined;
    status.acknowledgedBy.add(id);
    return status.acknowledgedBy;
  }

  /** The request with context is confirmed: it and every older request are ready, in order. */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const done = this.queue.slice(0, position + 1);
    this.queue = this.queue.slice(position + 1);
    const statuses: ReadIndexStatus[] = [];
    for (const doneKey of done) {
      const status = this.pending.get(doneKey);
      assert(status !== undefined, 'read-only: queue and pending map disagree');
      this.pending.delete(doneKey);
      statuses.push(status);
    }
    return statuses;
  }

  lastPendingContext(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])?.request.context;
  }
}
