// Buffers for request payloads that the frame decoder joins from several socket chunks
// (a 128 KiB packet arrives in 64 KiB reads), handed back by a handler that knows no one
// holds the bytes any more (CallContext.releasePayload). A payload not given back is
// simply collected. Every join otherwise allocates a new buffer outside the JS heap, and
// that memory is what drove a datanode's full garbage collections several times a second
// while it took a stream of appends.
//
// A buffer is lent at most once at a time: only a buffer this pool lent and not yet got
// back is taken back (a second give of the same payload does nothing).
import { assert } from '../errors/assert.js';

export interface PayloadPoolLimits {
  /** Size of each pooled buffer: the largest payload the pool serves. */
  readonly bufferBytes: number;
  /** Free buffers kept; more given back are dropped. */
  readonly buffersFreeMax: number;
}

export class PayloadPool {
  readonly #free: Buffer[] = [];
  readonly #lent = new WeakSet<ArrayBufferLike>();
  readonly #limits: PayloadPoolLimits;
  #made = 0;

  constructor(limits: PayloadPoolLimits) {
    assert(Number.isSafeInteger(limits.bufferBytes) && limits.bufferBytes >= 8192, () => `payload pool: bufferBytes must be an integer of at least 8192, got ${limits.bufferBytes}`);
    assert(Number.isSafeInteger(limits.buffersFreeMax) && limits.buffersFreeMax >= 0, () => `payload pool: bad buffersFreeMax ${limits.buffersFreeMax}`);
    this.#limits = limits;
  }

  /** Buffers made so far (for tests and status). */
  get buffersMade(): number {
    return this.#made;
  }

  /** For /status: buffers made, payloads lent and given back, buffers free now. */
  status(): { buffersMade: number; lent: number; givenBack: number; buffersFree: number } {
    return { buffersMade: this.#made, lent: this.#lentCount, givenBack: this.#givenBack, buffersFree: this.#free.length };
  }

  #lentCount = 0;
  #givenBack = 0;

  /**
   * An uninitialized buffer of `length` bytes, or null for a length the pool does not
   * serve: over bufferBytes, or under half of it (a small payload would hold a whole
   * pooled buffer).
   */
  take(length: number): Buffer | null {
    if (length > this.#limits.bufferBytes || length * 2 < this.#limits.bufferBytes) return null;
    let buffer = this.#free.pop();
    if (buffer === undefined) {
      // Its own memory (not Node's shared slab), so the buffer is known by its ArrayBuffer.
      buffer = Buffer.allocUnsafeSlow(this.#limits.bufferBytes);
      this.#made += 1;
    }
    this.#lent.add(buffer.buffer);
    this.#lentCount += 1;
    return buffer.subarray(0, length);
  }

  /** Takes back a payload this pool lent; anything else (or a second give) is ignored. */
  give(payload: Uint8Array): void {
    const memory = payload.buffer;
    if (!this.#lent.has(memory)) return;
    this.#lent.delete(memory);
    this.#givenBack += 1;
    if (this.#free.length < this.#limits.buffersFreeMax) this.#free.push(Buffer.from(memory, 0, this.#limits.bufferBytes));
  }
}
