// The scheduler's priority queue: a binary min-heap ordered by (time, sequence). The
// sequence number is the insertion order, so events due at the same virtual time run in
// the order they were scheduled: that tie-break is part of what makes a run replay.
// Each event knows its heap slot, so cancelling is an O(log n) removal and the queue never
// holds dead entries (its size is exactly the number of pending events).
import { assert } from '../errors/assert.js';

export interface QueuedEvent {
  /** Insertion order; unique and increasing. */
  readonly sequence: number;
  readonly timeMs: number;
  /** Position in the heap, -1 when not queued. Owned by the queue. */
  heapIndex: number;
}

function runsBefore(left: QueuedEvent, right: QueuedEvent): boolean {
  return left.timeMs < right.timeMs || (left.timeMs === right.timeMs && left.sequence < right.sequence);
}

export class EventQueue<Event extends QueuedEvent> {
  private readonly heap: Event[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Event | undefined {
    return this.heap[0];
  }

  push(event: Event): void {
    assert(event.heapIndex === -1, () => `event queue: event ${event.sequence} is already queued`);
    event.heapIndex = this.heap.length;
    this.heap.push(event);
    this.siftUp(event.heapIndex);
  }

  pop(): Event | undefined {
    const first = this.heap[0];
    if (first !== undefined) this.removeAt(0);
    return first;
  }

  /** Removes a queued event; returns false if it was not queued (already run or removed). */
  remove(event: Event): boolean {
    const index = event.heapIndex;
    if (index < 0) return false;
    assert(this.heap[index] === event, () => `event queue: slot ${index} does not hold event ${event.sequence}`);
    this.removeAt(index);
    return true;
  }

  private removeAt(index: number): void {
    const removed = this.heap[index];
    const last = this.heap.pop()!;
    removed.heapIndex = -1;
    if (last === removed) return;
    this.heap[index] = last;
    last.heapIndex = index;
    // The moved event may belong above or below its new slot.
    this.siftUp(index);
    this.siftDown(last.heapIndex);
  }

  private siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!runsBefore(this.heap[index], this.heap[parent])) return;
      this.swap(index, parent);
      index = parent;
    }
  }

  private siftDown(start: number): void {
    let index = start;
    const length = this.heap.length;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < length && runsBefore(this.heap[left], this.heap[smallest])) smallest = left;
      if (right < length && runsBefore(this.heap[right], this.heap[smallest])) smallest = right;
      if (smallest === index) return;
      this.swap(index, smallest);
      index = smallest;
    }
  }

  private swap(first: number, second: number): void {
    const event = this.heap[first];
    this.heap[first] = this.heap[second];
    this.heap[second] = event;
    this.heap[first].heapIndex = first;
    this.heap[second].heapIndex = second;
  }
}
