import type { Random } from './random.js';

const twoPower32 = 0x1_0000_0000;
const twoPower53 = 2 ** 53;

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

/**
 * splitmix32: spreads one 32-bit seed over the 128-bit xoshiro state, so that nearby
 * seeds (1, 2, 3...) still give unrelated streams and the state is never all zero.
 */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * xoshiro128** (Blackman and Vigna): small, fast, 2^128-1 period, good enough for
 * simulation and election jitter. Not for cryptography.
 */
export class Xoshiro128StarStar implements Random {
  private state0: number;
  private state1: number;
  private state2: number;
  private state3: number;

  /** Seeds the generator from a 32-bit integer (other numbers are truncated to 32 bits). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`create random: seed must be a safe integer: ${seed}`);
    }
    const next = splitmix32(seed);
    this.state0 = next();
    this.state1 = next();
    this.state2 = next();
    this.state3 = next();
    if ((this.state0 | this.state1 | this.state2 | this.state3) === 0) this.state0 = 1;
  }

  /** A generator with an explicit state, used to check against published reference outputs. */
  static fromState(state: readonly [number, number, number, number]): Xoshiro128StarStar {
    const random = new Xoshiro128StarStar(0);
    [random.state0, random.state1, random.state2, random.state3] = state.map((word) => word >>> 0) as [number, number, number, number];
    if ((random.state0 | random.state1 | random.state2 | random.state3) === 0) {
      throw new RangeError('create random: the state must not be all zero');
    }
    return random;
  }

  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.state1, 5) >>> 0, 7), 9) >>> 0;
    const shifted = (this.state1 << 9) >>> 0;
    this.state2 = (this.state2 ^ this.state0) >>> 0;
    this.state3 = (this.state3 ^ this.state1) >>> 0;
    this.state1 = (this.state1 ^ this.state2) >>> 0;
    this.state0 = (this.state0 ^ this.state3) >>> 0;
    this.state2 = (this.state2 ^ shifted) >>> 0;
    this.state3 = rotateLeft(this.state3, 11);
    return result;
  }

  nextInt(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > twoPower32) {
      throw new RangeError(`random integer: maxExclusive must be an integer in [1, 2^32]: ${maxExclusive}`);
    }
    // Rejection sampling: plain modulo would favour small results when maxExclusive does
    // not divide 2^32. The loop ends with probability at least 1/2 per draw.
    const limit = twoPower32 - (twoPower32 % maxExclusive);
    for (;;) {
      const value = this.nextUint32();
      if (value < limit) return value % maxExclusive;
    }
  }

  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 2 ** 26 + low) / twoPower53;
  }
}
