// Frames from a socket that reads into memory it is handed (net's `onread`), so that the
// bytes of a large frame go from the kernel straight into the one buffer the frame ends
// up in: no 64 KiB chunk is allocated per read and no chunks are joined afterwards. Small
// frames are read into one scratch buffer, used again for every read, and copied out of
// it; a large one (at least directBytesMin bytes), once its prefix is known, gets a
// buffer of its own size and the following reads go into the rest of it.
//
// Use: `onread: { buffer: () => reader.buffer(), callback: (bytes) => { reader.read(bytes); ...drain next()... } }`.
// Every frame next() hands out owns its memory: nothing in it is overwritten by later reads.
import { FrameDecoder, type Frame } from './frame-decoder.js';

export class FrameReader {
  readonly #decoder: FrameDecoder;
  readonly #scratch: Buffer;
  readonly #directBytesMin: number;
  // The large frame being read in place, and how much of it has arrived.
  #target: { frame: Buffer; filled: number } | null = null;

  constructor(decoder: FrameDecoder, scratchBytes: number, directBytesMin: number) {
    this.#decoder = decoder;
    // Larger than the pool's slab, so it is a buffer of its own (next() tells its views by it).
    this.#scratch = Buffer.allocUnsafeSlow(Math.max(scratchBytes, 8192));
    this.#directBytesMin = directBytesMin;
  }

  /** Where the socket's next read goes. */
  buffer(): Uint8Array {
    const target = this.#target;
    return target === null ? this.#scratch : target.frame.subarray(target.filled);
  }

  /** The socket read `bytes` bytes into what buffer() gave it. */
  read(bytes: number): void {
    const target = this.#target;
    if (target === null) {
      this.#decoder.push(this.#scratch.subarray(0, bytes));
      return;
    }
    target.filled += bytes;
    if (target.filled === target.frame.length) {
      this.#target = null;
      this.#decoder.push(target.frame);
    }
  }

  /**
   * The next whole frame, or null when more bytes are needed (call it until null after
   * each read; the scratch buffer is let go of at the null). Throws FrameError when the
   * stream is malformed.
   */
  next(): Frame | null {
    const frame = this.#decoder.next();
    if (frame === null) {
      if (this.#target === null) this.#target = this.#decoder.detach(this.#directBytesMin);
      return null;
    }
    const scratch = this.#scratch.buffer;
    if (frame.header.buffer !== scratch && frame.payload.buffer !== scratch) return frame;
    return {
      ...frame,
      header: frame.header.buffer === scratch ? Buffer.from(frame.header) : frame.header,
      payload: frame.payload.buffer === scratch ? Buffer.from(frame.payload) : frame.payload,
    };
  }
}
