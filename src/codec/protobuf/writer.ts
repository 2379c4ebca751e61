/**
 * ProtoWriter: writes the second pass of a size-then-write encode.
 *
 * Encoding runs in two passes over the message. The size pass ("measure", generated
 * per message) computes the exact encoded size and records, in visit order, every
 * length a later prefix will need: nested message sizes, packed payload sizes and
 * string byte lengths. Then one buffer of exactly that size is allocated and the write
 * pass consumes those recorded lengths in the same order. Nothing is computed twice,
 * nothing is copied, and no intermediate chunks are allocated; this is why the writer
 * has no bounds checks and no growth logic. The generated measure and write functions
 * visit fields in the same order under the same conditions, and `finish` asserts that
 * the write pass ended exactly where the size pass said it would.
 */
import { writeFloat32, writeFloat64 } from './float-bits.js';
import { writeUtf8 } from './utf8.js';

const twoTo32 = 4_294_967_296;
const emptyBytes = new Uint8Array(0);

export class ProtoWriter {
  /** Output buffer of the current write pass. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Next byte to write. */
  position = 0;
  /**
   * Lengths recorded by the size pass, consumed in order by the write pass. A plain
   * array of small integers stays in V8's fast SMI elements mode.
   */
  private readonly recordedSizes: number[] = [];
  private recordedCount = 0;
  private consumedCount = 0;

  /** Starts a size pass. */
  beginMeasure(): void {
    this.recordedCount = 0;
    this.consumedCount = 0;
  }

  /** Starts the write pass into `bytes` at `offset`. */
  beginWrite(bytes: Uint8Array, offset: number): void {
    this.bytes = bytes;
    this.position = offset;
    this.consumedCount = 0;
  }

  /** Size pass: records a length the write pass will need, in visit order. */
  recordSize(size: number): void {
    this.recordedSizes[this.recordedCount++] = size;
  }

  /**
   * Size pass: keeps a slot for a length that is known only after the nested value is
   * measured (the nested value's own recorded lengths come after it, as in the write pass).
   */
  reserveSize(): number {
    const slot = this.recordedCount++;
    this.recordedSizes[slot] = 0;
    return slot;
  }

  /** Size pass: fills a slot kept by `reserveSize`. */
  fillSize(slot: number, size: number): void {
    this.recordedSizes[slot] = size;
  }

  /** Write pass: the next length recorded by the size pass. */
  nextSize(): number {
    return this.recordedSizes[this.consumedCount++];
  }

  /** Asserts that the write pass matched the size pass; a mismatch is a codec bug. */
  finish(expectedEnd: number): void {
    if (this.position !== expectedEnd || this.consumedCount !== this.recordedCount) {
      throw new Error(
        `assertion failed: protobuf write pass diverged from size pass: ` +
          `position ${this.position}, expected ${expectedEnd}, ` +
          `lengths used ${this.consumedCount} of ${this.recordedCount}`,
      );
    }
    // Drop the reference so a shared writer does not keep the caller's buffer alive.
    this.bytes = emptyBytes;
  }

  /** One raw byte: single-byte tags and bool values. */
  byte(value: number): void {
    this.bytes[this.position++] = value;
  }

  /** Unsigned varint of a value in 0..2^32-1 (uint32, tags, lengths). */
  varint32(value: number): void {
    const bytes = this.bytes;
    let position = this.position;
    while (value > 0x7f) {
      bytes[position++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    bytes[position++] = value;
    this.position = position;
  }

  /** Varint of a 64-bit value given as two unsigned 32-bit halves. */
  private varint64Parts(low: number, high: number): void {
    const bytes = this.bytes;
    let position = this.position;
    while (high !== 0) {
      bytes[position++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    while (low > 0x7f) {
      bytes[position++] = (low & 0x7f) | 0x80;
      low >>>= 7;
    }
    bytes[position++] = low;
    this.position = position;
  }

  int32(value: number): void {
    if (value >= 0) this.varint32(value);
    else this.varint64Parts(value >>> 0, 0xffff_ffff);
  }

  sint32(value: number): void {
    this.varint32(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** uint64 as a non-negative safe integer (checked by the size pass). */
  uint64(value: number): void {
    if (value <= 0xffff_ffff) {
      this.varint32(value);
      return;
    }
    // Peel seven bits at a time in double arithmetic (dividing by 128 is exact) until
    // the rest fits 32 bits; cheaper than splitting into halves for ids and offsets.
    const bytes = this.bytes;
    let position = this.position;
    do {
      bytes[position++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    } while (value > 0xffff_ffff);
    while (value > 0x7f) {
      bytes[position++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    bytes[position++] = value;
    this.position = position;
  }

  /** int64 as a safe integer; negatives are 64-bit two's complement, 10 bytes. */
  int64(value: number): void {
    if (value >= 0) this.uint64(value);
    else this.varint64Parts(value >>> 0, Math.floor(value / twoTo32) >>> 0);
  }

  sint64(value: number): void {
    if (value >= -0x4000_0000 && value < 0x4000_0000) {
      this.varint32(((value << 1) ^ (value >> 31)) >>> 0);
      return;
    }
    // zigzag(n) = 2n for n >= 0 and 2m+1 for m = -n-1; computed on 32-bit halves
    // because 2m+1 may exceed 2^53 and lose its low bit in a double.
    const negative = value < 0;
    const magnitude = negative ? -value - 1 : value;
    const low = magnitude >>> 0;
    const high = Math.floor(magnitude / twoTo32);
    this.varint64Parts(((low << 1) | (negative ? 1 : 0)) >>> 0, ((high << 1) | (low >>> 31)) >>> 0);
  }

  bool(value: boolean): void {
    this.bytes[this.position++] = value ? 1 : 0;
  }

  fixed32(value: number): void {
    const bytes = this.bytes;
    const position = this.position;
    bytes[position] = value;
    bytes[position + 1] = value >>> 8;
    bytes[position + 2] = value >>> 16;
    bytes[position + 3] = value >>> 24;
    this.position = position + 4;
  }

  sfixed32(value: number): void {
    this.fixed32(value >>> 0);
  }

  /** fixed64 and sfixed64: the low half is `value >>> 0` for negatives too. */
  fixed64(value: number): void {
    this.fixed32(value >>> 0);
    this.fixed32(Math.floor(value / twoTo32) >>> 0);
  }

  float(value: number): void {
    writeFloat32(this.bytes, this.position, value);
    this.position += 4;
  }

  double(value: number): void {
    writeFloat64(this.bytes, this.position, value);
    this.position += 8;
  }

  /** Length prefix and bytes. */
  bytesField(value: Uint8Array): void {
    this.varint32(value.length);
    this.bytes.set(value, this.position);
    this.position += value.length;
  }

  /** Length prefix and UTF-8 bytes; the byte length comes from the size pass. */
  string(value: string): void {
    const byteLength = this.nextSize();
    this.varint32(byteLength);
    this.position = writeUtf8(this.bytes, this.position, value, byteLength);
  }
}
