// One seed per run, one pseudo-random stream per purpose derived from it. With a single
// shared stream, adding one draw anywhere (a new fault, one more client) would shift
// every later draw of every other part and change the whole run; with a stream per
// purpose ("network", "disk", "client 3", ...) each part's draws depend only on the
// seed, the purpose name and that part's own history.
import { assert } from '../errors/assert.js';
import { createRandom } from '../random/index.js';
import type { Random } from '../random/index.js';

/** FNV-1a over the UTF-16 code units of `text`: a stable 32-bit name hash. */
function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  }
  return hash;
}

/** The murmur3 finalizer: every input bit flips about half of the output bits. */
function mix32(value: number): number {
  let mixed = value >>> 0;
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
  return (mixed ^ (mixed >>> 16)) >>> 0;
}

/** The 32-bit seed of the stream for `purpose` under `rootSeed` (any safe integer >= 0). */
export function deriveSeed(rootSeed: number, purpose: string): number {
  assert(Number.isSafeInteger(rootSeed) && rootSeed >= 0, () => `derive seed: rootSeed must be a safe integer >= 0: ${rootSeed}`);
  const low = rootSeed >>> 0;
  const high = Math.floor(rootSeed / 0x1_0000_0000) >>> 0;
  return mix32(mix32(low ^ hashText(purpose)) ^ mix32(high + 0x9e3779b9));
}

/** Hands out the stream of each purpose, creating it on first use. */
export class RandomStreams {
  private readonly streams = new Map<string, Random>();

  constructor(readonly rootSeed: number) {
    assert(Number.isSafeInteger(rootSeed) && rootSeed >= 0, () => `create random streams: rootSeed must be a safe integer >= 0: ${rootSeed}`);
  }

  /** The stream for `purpose`; the same object every time it is asked for. */
  stream(purpose: string): Random {
    let random = this.streams.get(purpose);
    if (random === undefined) {
      random = createRandom(deriveSeed(this.rootSeed, purpose));
      this.streams.set(purpose, random);
    }
    return random;
  }
}
