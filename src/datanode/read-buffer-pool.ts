// Buffers for the datanode's reads, used again instead of allocated per read. A 1 MiB
// read allocated a 1 MiB buffer that lived until its answer was on the socket; at a few
// hundred reads a second V8 ran a full collection every few dozen milliseconds for the
// external memory, and the datanode spent about 1.6 times the CPU per byte read that it
// spends with the buffers used again (measured with a throwaway ring of buffers on a
// three-datanode cluster).
//
// A buffer taken is owned by the taker until it gives it back, which it does only when
// nothing refers to it any more (for a read's answer: once the socket has taken the
// bytes). One never given back is simply collected; the pool makes another.
import { assert } from '../errors/index.js';

export class ReadBufferPool {
  readonly #free: Buffer[] = [];

  constructor(
    /** Size of every pooled buffer; a larger request gets a buffer of its own. */
    readonly bufferBytes: number,
    /** Buffers kept for reuse at most (memory held: this times bufferBytes). */
    readonly buffersMax: number,
  ) {
    assert(Number.isSafeInteger(bufferBytes) && bufferBytes > 0, `read buffer pool: bufferBytes must be a positive integer, got ${bufferBytes}`);
    assert(Number.isSafeInteger(buffersMax) && buffersMax >= 0, `read buffer pool: buffersMax must be a non-negative integer, got ${buffersMax}`);
  }

  /** A buffer of at least `length` bytes (its contents are whatever was there). */
  take(length: number): Buffer {
    if (length > this.bufferBytes) return Buffer.allocUnsafe(length);
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  /** Gives back a buffer from take(), once nothing refers to it. */
  give(buffer: Buffer): void {
    if (buffer.byteLength !== this.bufferBytes || this.#free.length >= this.buffersMax) return;
    assert(!this.#free.includes(buffer), 'read buffer pool: a buffer given back twice');
    this.#free.push(buffer);
  }

  get freeCount(): number {
    return this.#free.length;
  }
}
