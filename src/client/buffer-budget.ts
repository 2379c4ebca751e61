// One budget of client memory for the buffers of every open file of a Volume (read-ahead
// windows and write-behind streams), so that many open files cannot hold unbounded
// memory: a file that cannot take from the budget reads directly and publishes its writes
// at once instead.
import { assert } from '../errors/index.js';

export class BufferBudget {
  #usedBytes = 0;

  constructor(readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, 'buffer budget: bytesMax must be a positive integer');
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Takes `bytes` if they fit; false (and nothing taken) if not. */
  tryTake(bytes: number): boolean {
    assert(Number.isSafeInteger(bytes) && bytes >= 0, 'buffer budget: bytes must be a non-negative integer');
    if (this.#usedBytes + bytes > this.bytesMax) return false;
    this.#usedBytes += bytes;
    return true;
  }

  give(bytes: number): void {
    assert(bytes >= 0 && bytes <= this.#usedBytes, `buffer budget: giving back ${bytes} of ${this.#usedBytes} bytes taken`);
    this.#usedBytes -= bytes;
  }
}
