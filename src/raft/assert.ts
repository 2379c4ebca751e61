/**
 * A broken invariant inside the Raft core. It is a bug, never an expected condition, so
 * it is thrown rather than returned, and assertions stay on in production: crashing a
 * replica is better than letting it diverge or acknowledge lost data.
 */
export class RaftAssertionError extends Error {
  override readonly name = 'RaftAssertionError';
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new RaftAssertionError(typeof message === 'function' ? message() : message);
  }
}
