/**
 * A source of pseudo-random numbers that protocol code takes as a parameter, so that a
 * simulation replays exactly from one seed. Never backed by Math.random in pure code.
 */
export interface Random {
  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number;
  /** A uniformly distributed integer in [0, maxExclusive); maxExclusive in [1, 2^32]. */
  nextInt(maxExclusive: number): number;
  /** A uniformly distributed number in [0, 1) with 53 bits of precision. */
  nextFloat(): number;
}
