/**
 * ProtoReader: a cursor over one input buffer, used by generated decode functions.
 *
 * Every read is checked against `limit`, the end of the innermost length-delimited
 * value being decoded, so a nested message can never read into its parent's bytes and
 * no read can run past the input. A length prefix is compared with the bytes that
 * remain before anything is sliced or allocated, so a hostile prefix cannot cause a
 * large allocation. Every loop advances `position` or throws, so decoding always ends.
 *
 * `bytes()` returns a subarray: it aliases the input buffer (zero-copy). Callers that
 * keep a decoded `bytes` field beyond the life of the input buffer must copy it.
 */
import { ProtoDecodeError } from './errors.js';
import { readFloat32, readFloat64 } from './float-bits.js';
import { nestingDepthMax, varintBytesMax } from './limits.js';
import { readUtf8 } from './utf8.js';
import { WireType } from './wire-type.js';

const twoTo32 = 4_294_967_296;
/** Largest high half of a 64-bit value that is still <= Number.MAX_SAFE_INTEGER. */
const safeHighMax = 0x1f_ffff;

export class ProtoReader {
  readonly bytes: Uint8Array;
  /** Next byte to read. */
  position: number;
  /** End of the innermost length-delimited value being read. */
  limit: number;
  /** Nesting depth of length-delimited messages and groups. */
  private depth = 0;
  /** Halves of the last 64-bit varint, kept on the reader to avoid allocating a pair. */
  private low = 0;
  private high = 0;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.position = start;
    this.limit = end;
  }

  /** An error at the current position. */
  error(message: string): ProtoDecodeError {
    return new ProtoDecodeError(message, this.position);
  }

  // ---- varints -------------------------------------------------------------

  /** Unsigned varint truncated to its low 32 bits (as protobuf does for 32-bit fields). */
  uint32(): number {
    const bytes = this.bytes;
    let position = this.position;
    if (position + varintBytesMax > this.limit) return this.uint32Checked();
    // Fast path: at least 10 bytes remain, so no per-byte bound check is needed.
    let byte = bytes[position++];
    let value = byte & 0x7f;
    if (byte < 0x80) { this.position = position; return value; }
    byte = bytes[position++]; value |= (byte & 0x7f) << 7;
    if (byte < 0x80) { this.position = position; return value; }
    byte = bytes[position++]; value |= (byte & 0x7f) << 14;
    if (byte < 0x80) { this.position = position; return value; }
    byte = bytes[position++]; value |= (byte & 0x7f) << 21;
    if (byte < 0x80) { this.position = position; return value; }
    byte = bytes[position++]; value |= byte << 28;
    if (byte < 0x80) { this.position = position; return value >>> 0; }
    // Bytes 6..10 only carry bits above 32; skip them.
    for (let index = 5; index < varintBytesMax; index++) {
      if (bytes[position++] < 0x80) { this.position = position; return value >>> 0; }
    }
    this.position = position;
    throw this.error('varint longer than 10 bytes');
  }

  private uint32Checked(): number {
    this.varint64();
    return this.low;
  }

  /**
   * Reads any varint into `low`/`high`, checking every byte against `limit`.
   * Bits above 64 in the tenth byte are ignored, as protobuf C++ does.
   */
  private varint64(): void {
    const bytes = this.bytes;
    const limit = this.limit;
    let position = this.position;
    let low = 0;
    let high = 0;
    for (let index = 0; index < varintBytesMax; index++) {
      if (position >= limit) {
        this.position = position;
        throw this.error('truncated varint');
      }
      const byte = bytes[position++];
      const bits = byte & 0x7f;
      if (index < 4) low |= bits << (7 * index);
      else if (index === 4) { low |= bits << 28; high |= bits >>> 4; }
      else high |= bits << (7 * index - 32);
      if (byte < 0x80) {
        this.position = position;
        this.low = low >>> 0;
        this.high = high >>> 0;
        return;
      }
    }
    this.position = position;
    throw this.error('varint longer than 10 bytes');
  }

  int32(): number {
    return this.uint32() | 0;
  }

  sint32(): number {
    const value = this.uint32();
    return (value >>> 1) ^ -(value & 1);
  }

  bool(): boolean {
    const position = this.position;
    if (position < this.limit) {
      const byte = this.bytes[position];
      if (byte < 0x80) { this.position = position + 1; return byte !== 0; }
    }
    this.varint64();
    return (this.low | this.high) !== 0;
  }

  /** Enums are int32 on the wire; unknown values are kept (proto3 enums are open). */
  enumValue(): number {
    return this.uint32() | 0;
  }

  uint64(): number {
    const value = this.unsignedVarintUpTo56Bits();
    if (value >= 0) return value;
    this.varint64();
    return this.unsignedFromParts(this.low, this.high, 'uint64');
  }

  int64(): number {
    const value = this.unsignedVarintUpTo56Bits();
    if (value >= 0) return value;
    this.varint64();
    return this.signedFromParts(this.low, this.high, 'int64');
  }

  /**
   * Fast path for 64-bit varints of at most 8 bytes (values below 2^56), the common
   * case for ids and offsets: seven bits at a time in 32-bit arithmetic, combined into
   * one double at the end. Returns -1 without moving when the varint is longer, when
   * fewer than 10 bytes remain (so per-byte bound checks would be needed), or when the
   * value exceeds Number.MAX_SAFE_INTEGER; the caller then takes the checked path,
   * which also produces the precise error.
   */
  private unsignedVarintUpTo56Bits(): number {
    const bytes = this.bytes;
    let position = this.position;
    if (position + varintBytesMax > this.limit) return -1;
    let byte = bytes[position++];
    let low = byte & 0x7f;
    if (byte < 0x80) { this.position = position; return low; }
    byte = bytes[position++]; low |= (byte & 0x7f) << 7;
    if (byte < 0x80) { this.position = position; return low; }
    byte = bytes[position++]; low |= (byte & 0x7f) << 14;
    if (byte < 0x80) { this.position = position; return low; }
    byte = bytes[position++]; low |= (byte & 0x7f) << 21;
    if (byte < 0x80) { this.position = position; return low; }
    // Bits 28 and up.
    byte = bytes[position++];
    let high = byte & 0x7f;
    if (byte >= 0x80) {
      byte = bytes[position++]; high |= (byte & 0x7f) << 7;
      if (byte >= 0x80) {
        byte = bytes[position++]; high |= (byte & 0x7f) << 14;
        if (byte >= 0x80) {
          byte = bytes[position++]; high |= (byte & 0x7f) << 21;
          if (byte >= 0x80) return -1;
        }
      }
    }
    // high < 2^25 keeps high * 2^28 + low <= 2^53 - 1.
    if (high >= 0x200_0000) return -1;
    this.position = position;
    return high * 0x1000_0000 + low;
  }

  sint64(): number {
    this.varint64();
    const low = this.low;
    const high = this.high;
    // Undo zigzag on the halves: magnitude = encoded >>> 1, negative when bit 0 is set.
    const magnitudeLow = ((low >>> 1) | (high << 31)) >>> 0;
    const magnitudeHigh = high >>> 1;
    if ((low & 1) === 0) return this.unsignedFromParts(magnitudeLow, magnitudeHigh, 'sint64');
    // Negative: value = -magnitude - 1, safe while magnitude <= 2^53 - 2.
    const magnitude = magnitudeHigh * twoTo32 + magnitudeLow;
    if (magnitudeHigh > safeHighMax || magnitude > Number.MAX_SAFE_INTEGER - 1) {
      throw this.error('sint64 value is below Number.MIN_SAFE_INTEGER');
    }
    return -magnitude - 1;
  }

  private unsignedFromParts(low: number, high: number, type: string): number {
    if (high > safeHighMax) throw this.error(`${type} value exceeds Number.MAX_SAFE_INTEGER`);
    return high * twoTo32 + low;
  }

  private signedFromParts(low: number, high: number, type: string): number {
    if (high < 0x8000_0000) return this.unsignedFromParts(low, high, type);
    // Two's complement: negate to get the magnitude.
    const magnitudeLow = (~low + 1) >>> 0;
    const magnitudeHigh = (~high + (magnitudeLow === 0 ? 1 : 0)) >>> 0;
    if (magnitudeHigh > safeHighMax) throw this.error(`${type} value is below Number.MIN_SAFE_INTEGER`);
    return -(magnitudeHigh * twoTo32 + magnitudeLow);
  }

  // ---- fixed-width ---------------------------------------------------------

  private need(byteCount: number, what: string): number {
    const position = this.position;
    if (position + byteCount > this.limit) throw this.error(`truncated ${what}`);
    this.position = position + byteCount;
    return position;
  }

  fixed32(): number {
    const position = this.need(4, 'fixed32');
    const bytes = this.bytes;
    return (bytes[position] | (bytes[position + 1] << 8) | (bytes[position + 2] << 16) | (bytes[position + 3] << 24)) >>> 0;
  }

  sfixed32(): number {
    const position = this.need(4, 'sfixed32');
    const bytes = this.bytes;
    return bytes[position] | (bytes[position + 1] << 8) | (bytes[position + 2] << 16) | (bytes[position + 3] << 24);
  }

  private fixed64Parts(what: string): void {
    const position = this.need(8, what);
    const bytes = this.bytes;
    this.low = (bytes[position] | (bytes[position + 1] << 8) | (bytes[position + 2] << 16) | (bytes[position + 3] << 24)) >>> 0;
    this.high = (bytes[position + 4] | (bytes[position + 5] << 8) | (bytes[position + 6] << 16) | (bytes[position + 7] << 24)) >>> 0;
  }

  fixed64(): number {
    this.fixed64Parts('fixed64');
    return this.unsignedFromParts(this.low, this.high, 'fixed64');
  }

  sfixed64(): number {
    this.fixed64Parts('sfixed64');
    return this.signedFromParts(this.low, this.high, 'sfixed64');
  }

  float(): number {
    return readFloat32(this.bytes, this.need(4, 'float'));
  }

  double(): number {
    return readFloat64(this.bytes, this.need(8, 'double'));
  }

  // ---- length-delimited ----------------------------------------------------

  /** Reads a length prefix and checks it against the bytes that remain. */
  length(): number {
    const length = this.uint32();
    if (length > this.limit - this.position) {
      throw this.error(`length ${length} runs past the end of the enclosing value (${this.limit - this.position} bytes left)`);
    }
    return length;
  }

  /** A `bytes` field as a view of the input buffer (no copy). */
  bytesField(): Uint8Array {
    const length = this.length();
    const start = this.position;
    this.position = start + length;
    return this.bytes.subarray(start, start + length);
  }

  string(): string {
    const length = this.length();
    const start = this.position;
    this.position = start + length;
    return readUtf8(this.bytes, start, start + length);
  }

  /**
   * Enters a length-delimited value (packed repeated payload): reads its length and
   * narrows `limit` to its end. Returns the previous limit for `leave`.
   */
  enter(): number {
    const length = this.length();
    const outerLimit = this.limit;
    this.limit = this.position + length;
    return outerLimit;
  }

  /** Leaves a value entered with `enter`; every read stopped at its end. */
  leave(outerLimit: number): void {
    this.limit = outerLimit;
  }

  /** Like `enter`, for a nested message: also bounds the nesting depth. */
  enterMessage(): number {
    if (++this.depth > nestingDepthMax) throw this.error(`messages nested deeper than ${nestingDepthMax}`);
    return this.enter();
  }

  leaveMessage(outerLimit: number): void {
    this.depth--;
    this.limit = outerLimit;
  }

  // ---- unknown fields ------------------------------------------------------

  /** Field tag; tag checks happen in `skip`, the only place an odd tag can reach. */
  tag(): number {
    return this.uint32();
  }

  /** Error for a known field number that arrived with the wrong wire type. */
  wrongWireType(tag: number, field: string): ProtoDecodeError {
    return this.error(`field ${field} (number ${tag >>> 3}) has wire type ${tag & 7}, which its type does not allow`);
  }

  /** Skips the value of an unknown field whose tag was just read. */
  skip(tag: number): void {
    const fieldNumber = tag >>> 3;
    if (fieldNumber === 0) throw this.error('field number 0 is invalid');
    switch (tag & 7) {
      case WireType.varint:
        this.varint64();
        return;
      case WireType.fixed64:
        this.need(8, 'fixed64 field');
        return;
      case WireType.lengthDelimited: {
        const length = this.length();
        this.position += length;
        return;
      }
      case WireType.startGroup:
        this.skipGroup(fieldNumber);
        return;
      case WireType.endGroup:
        throw this.error(`end-group tag for field ${fieldNumber} without a matching start`);
      case WireType.fixed32:
        this.need(4, 'fixed32 field');
        return;
      default:
        throw this.error(`invalid wire type ${tag & 7} for field ${fieldNumber}`);
    }
  }

  /** Skips fields up to the end-group tag matching `fieldNumber` (proto2 groups). */
  private skipGroup(fieldNumber: number): void {
    if (++this.depth > nestingDepthMax) throw this.error(`groups nested deeper than ${nestingDepthMax}`);
    for (;;) {
      if (this.position >= this.limit) throw this.error(`truncated group for field ${fieldNumber}`);
      const tag = this.uint32();
      if ((tag & 7) === WireType.endGroup) {
        if (tag >>> 3 !== fieldNumber) {
          throw this.error(`end-group tag for field ${tag >>> 3} inside group ${fieldNumber}`);
        }
        this.depth--;
        return;
      }
      this.skip(tag);
    }
  }
}
