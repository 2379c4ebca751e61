// The CRC-32 of two byte strings one after the other, from the CRC of each and the length
// of the second, without the bytes. Appending n bytes to a message multiplies its CRC
// register by x^(8n) modulo the CRC polynomial (arithmetic in GF(2)), so the combined CRC
// is crcA * x^(8 * lengthB) mod P, plus crcB. The registers are bit-reflected, as in the
// table-driven CRC: bit 31 holds x^0. This lets a datanode answer a read's CRC from the
// block CRCs it has just verified instead of passing over the bytes a second time.
import { assert } from '../errors/index.js';

const polynomial = 0xedb88320;

// a * b mod P, both reflected.
function multiplyModP(a: number, b: number): number {
  let product = 0;
  let mask = 0x80000000;
  // Bounded: one turn per bit of a.
  for (let bit = 0; bit < 32; bit++) {
    if ((a & mask) !== 0) product ^= b;
    mask >>>= 1;
    b = (b & 1) !== 0 ? (b >>> 1) ^ polynomial : b >>> 1;
  }
  return product >>> 0;
}

// xToTwoToThe[k] = x^(2^k) mod P; x^1 is bit 30 in reflected form.
const xToTwoToThe = new Uint32Array(32);
{
  let power = 0x40000000;
  for (let k = 0; k < 32; k++) {
    xToTwoToThe[k] = power;
    power = multiplyModP(power, power);
  }
}

// x^(n * 2^k) mod P (the powers of x repeat with a period below 2^32, so k wraps).
function xToThe(n: number, k: number): number {
  let result = 0x80000000;
  // Bounded: one turn per bit of n (n < 2^53).
  for (; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2 === 1) result = multiplyModP(xToTwoToThe[k & 31]!, result);
  }
  return result;
}

/** CRC-32 of A then B, given crc32(A), crc32(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  assert(Number.isSafeInteger(lengthB) && lengthB >= 0, `crc32Combine: a length must be a whole number of bytes, got ${lengthB}`);
  if (lengthB === 0) return crcA >>> 0;
  return (multiplyModP(xToThe(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
