export type { Random } from './random.js';
export { Xoshiro128StarStar } from './xoshiro128.js';

import type { Random } from './random.js';
import { Xoshiro128StarStar } from './xoshiro128.js';

/** The project's default seeded generator. The same seed gives the same stream, always. */
export function createRandom(seed: number): Random {
  return new Xoshiro128StarStar(seed);
}
