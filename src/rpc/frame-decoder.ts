// Incremental frame decoder. The socket hands it chunks of any size; it hands back whole
// frames. A frame that lies inside one chunk is returned as views of that chunk (no copy);
// one that spans chunks is copied once into a buffer of exactly its size. Memory held is
// at most one frame plus one chunk, because the prefix is checked (lengths against the
// limits) before anything of the body is kept waiting. With a payload pool, a payload
// that spans chunks is copied into a buffer of the pool when the pool serves its length.
import { assert } from '../errors/assert.js';
import type { PayloadPool } from './payload-pool.js';
import { FrameError, frameHeaderBytes, readFramePrefix, verifyFrameChecksum, verifyFrameChecksumInPlace, type FramePrefix } from './frame.js';

export interface Frame {
  readonly kind: number;
  readonly method: number;
  readonly requestId: number;
  readonly deadlineMs: number;
  readonly header: Buffer;
  readonly payload: Buffer;
}

const emptyBuffer = Buffer.alloc(0);

export class FrameDecoder {
  private chunks: Buffer[] = [];
  // Read position inside chunks[0].
  private offset = 0;
  private buffered = 0;
  private prefix: FramePrefix | null = null;
  private prefixBytes: Buffer | null = null;

  constructor(
    private headerBytesMax: number,
    private payloadBytesMax: number,
    private readonly payloads: PayloadPool | null = null,
  ) {}

  // Tightens or loosens the limits, e.g. once a connection is authenticated.
  setLimits(headerBytesMax: number, payloadBytesMax: number): void {
    this.headerBytesMax = headerBytesMax;
    this.payloadBytesMax = payloadBytesMax;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  // The next whole frame, or null when more bytes are needed. Throws FrameError when the
  // stream is malformed; the caller must then close the connection.
  next(): Frame | null {
    if (this.prefix === null) {
      if (this.buffered < frameHeaderBytes) return null;
      const first = this.chunks[0]!;
      if (first.length - this.offset >= frameHeaderBytes) {
        // Usual case: parse the prefix where it lies; it is consumed with the header.
        this.prefix = readFramePrefix(first, this.offset, this.headerBytesMax, this.payloadBytesMax);
        this.prefixBytes = null;
      } else {
        const prefixBytes = this.take(frameHeaderBytes);
        this.prefix = readFramePrefix(prefixBytes, 0, this.headerBytesMax, this.payloadBytesMax);
        this.prefixBytes = prefixBytes;
      }
    }
    const prefix = this.prefix;
    const prefixPending = this.prefixBytes === null ? frameHeaderBytes : 0;
    if (this.buffered < prefixPending + prefix.headerLength + prefix.payloadLength) return null;
    let header: Buffer;
    if (prefixPending === 0) {
      header = prefix.headerLength === 0 ? emptyBuffer : this.take(prefix.headerLength);
      verifyFrameChecksum(this.prefixBytes!, header, prefix.checksum);
    } else {
      const first = this.chunks[0]!;
      const start = this.offset;
      if (first.length - start >= frameHeaderBytes + prefix.headerLength) {
        verifyFrameChecksumInPlace(first, start, prefix.headerLength, prefix.checksum);
        this.skip(frameHeaderBytes);
        header = prefix.headerLength === 0 ? emptyBuffer : this.take(prefix.headerLength);
      } else {
        const prefixBytes = this.take(frameHeaderBytes);
        header = prefix.headerLength === 0 ? emptyBuffer : this.take(prefix.headerLength);
        verifyFrameChecksum(prefixBytes, header, prefix.checksum);
      }
    }
    const payload = prefix.payloadLength === 0 ? emptyBuffer : this.take(prefix.payloadLength, this.payloads);
    this.prefix = null;
    this.prefixBytes = null;
    return {
      kind: prefix.kind,
      method: prefix.method,
      requestId: prefix.requestId,
      deadlineMs: prefix.deadlineMs,
      header,
      payload,
    };
  }

  /**
   * Lets go of every chunk pushed so far, for a caller that reads into one buffer again
   * and again (call it once next() has returned null). What is buffered is copied into
   * memory of the decoder's own, except when a frame of at least `directBytesMin` bytes
   * is under way: then the answer is a buffer of that whole frame (prefix, header and
   * payload) with the bytes so far at its start, the decoder forgets them, and the
   * caller reads the rest of the frame into the buffer and pushes it whole, so the
   * frame's bytes are read in place and decode without a copy. Such a buffer is sized
   * from a prefix already checked against the limits.
   */
  detach(directBytesMin: number): { frame: Buffer; filled: number } | null {
    if (this.buffered === 0) {
      this.chunks = [];
      this.offset = 0;
      return null;
    }
    const prefix = this.prefix;
    if (prefix !== null && frameHeaderBytes + prefix.headerLength + prefix.payloadLength >= directBytesMin) {
      const total = frameHeaderBytes + prefix.headerLength + prefix.payloadLength;
      const frame = Buffer.allocUnsafe(total);
      let filled = 0;
      // The prefix was either consumed into prefixBytes or still lies at the read position.
      if (this.prefixBytes !== null) filled += this.prefixBytes.copy(frame, 0);
      filled += this.copyBuffered(frame, filled);
      assert(filled < total, `frame decoder: detach found a whole frame of ${total} bytes that next() did not return`);
      this.chunks = [];
      this.offset = 0;
      this.buffered = 0;
      this.prefix = null;
      this.prefixBytes = null;
      return { frame, filled };
    }
    const rest = Buffer.allocUnsafe(this.buffered);
    this.copyBuffered(rest, 0);
    this.chunks = [rest];
    this.offset = 0;
    return null;
  }

  private copyBuffered(target: Buffer, at: number): number {
    let copied = 0;
    for (let index = 0; index < this.chunks.length; index++) {
      const chunk = this.chunks[index]!;
      copied += chunk.copy(target, at + copied, index === 0 ? this.offset : 0);
    }
    return copied;
  }

  // Consumes bytes known to lie in the first chunk.
  private skip(length: number): void {
    const first = this.chunks[0]!;
    this.offset += length;
    this.buffered -= length;
    if (this.offset === first.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  private take(length: number, pool: PayloadPool | null = null): Buffer {
    const first = this.chunks[0]!;
    const available = first.length - this.offset;
    let result: Buffer;
    if (available >= length) {
      result = first.subarray(this.offset, this.offset + length);
      this.offset += length;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    } else {
      result = pool?.take(length) ?? Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const chunk = this.chunks[0]!;
        const count = Math.min(chunk.length - this.offset, length - filled);
        chunk.copy(result, filled, this.offset, this.offset + count);
        filled += count;
        this.offset += count;
        if (this.offset === chunk.length) {
          this.chunks.shift();
          this.offset = 0;
        }
      }
    }
    this.buffered -= length;
    return result;
  }
}

export { FrameError };
