/**
 * Encoded sizes of scalar values, used by the size pass that runs before every
 * encode. The size pass is also where values are range-checked: it visits every
 * field before a single byte is written, so a bad value fails the whole encode
 * cleanly instead of leaving a half-written buffer.
 *
 * Every 64-bit integer type is a JS `number` here; only safe integers are accepted.
 */
import { ProtoEncodeError } from './errors.js';

/** Bytes of a varint holding an unsigned 32-bit value. */
export function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  return 5;
}

/** Bytes of a varint holding a non-negative safe integer (at most 2^53). */
function unsignedVarint64Size(value: number): number {
  if (value < 0x1000_0000) return varint32Size(value);
  if (value < 0x8_0000_0000) return 5; // 2^35
  if (value < 0x400_0000_0000) return 6; // 2^42
  if (value < 0x2_0000_0000_0000) return 7; // 2^49
  return 8; // up to 2^56, more than any safe integer needs
}

function describe(value: unknown): string {
  return typeof value === 'number' ? String(value) : `${typeof value} ${String(value)}`;
}

export function uint32Size(value: number, field: string): number {
  if (value >>> 0 !== value) throw new ProtoEncodeError(`${field}: uint32 value ${describe(value)} is not an integer in 0..2^32-1`);
  return varint32Size(value);
}

export function int32Size(value: number, field: string): number {
  if ((value | 0) !== value) throw new ProtoEncodeError(`${field}: int32 value ${describe(value)} is not an integer in -2^31..2^31-1`);
  // Negative int32 is sign-extended to 64 bits on the wire, so it always takes 10 bytes.
  return value < 0 ? 10 : varint32Size(value);
}

export function sint32Size(value: number, field: string): number {
  if ((value | 0) !== value) throw new ProtoEncodeError(`${field}: sint32 value ${describe(value)} is not an integer in -2^31..2^31-1`);
  return varint32Size(((value << 1) ^ (value >> 31)) >>> 0);
}

export function uint64Size(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProtoEncodeError(`${field}: uint64 value ${describe(value)} is not an integer in 0..Number.MAX_SAFE_INTEGER`);
  }
  return unsignedVarint64Size(value);
}

export function int64Size(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new ProtoEncodeError(`${field}: int64 value ${describe(value)} is not a safe integer`);
  }
  return value < 0 ? 10 : unsignedVarint64Size(value);
}

export function sint64Size(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new ProtoEncodeError(`${field}: sint64 value ${describe(value)} is not a safe integer`);
  }
  // zigzag(n) = 2n for n >= 0, -2n-1 for n < 0; 2|n| <= 2^54 is exact in a double,
  // and the size only needs its magnitude.
  return unsignedVarint64Size(value < 0 ? -2 * value - 1 : 2 * value);
}

export function fixed32Size(value: number, field: string): number {
  if (value >>> 0 !== value) throw new ProtoEncodeError(`${field}: fixed32 value ${describe(value)} is not an integer in 0..2^32-1`);
  return 4;
}

export function sfixed32Size(value: number, field: string): number {
  if ((value | 0) !== value) throw new ProtoEncodeError(`${field}: sfixed32 value ${describe(value)} is not an integer in -2^31..2^31-1`);
  return 4;
}

export function fixed64Size(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProtoEncodeError(`${field}: fixed64 value ${describe(value)} is not an integer in 0..Number.MAX_SAFE_INTEGER`);
  }
  return 8;
}

export function sfixed64Size(value: number, field: string): number {
  if (!Number.isSafeInteger(value)) throw new ProtoEncodeError(`${field}: sfixed64 value ${describe(value)} is not a safe integer`);
  return 8;
}

/** Enums are int32 on the wire; proto3 enums are open, so any int32 is accepted. */
export function enumSize(value: number, field: string): number {
  if ((value | 0) !== value) throw new ProtoEncodeError(`${field}: enum value ${describe(value)} is not an integer in -2^31..2^31-1`);
  return value < 0 ? 10 : varint32Size(value);
}

/** Bytes of a length-delimited payload of `length` bytes, prefix included. */
export function lengthDelimitedSize(length: number): number {
  return varint32Size(length) + length;
}

