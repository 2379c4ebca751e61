// Assertions stay on in production: a crash beats silent corruption. A broken invariant
// is a bug, never an expected condition, so it is thrown, not returned as a status.
// Pure code (the Raft core) uses this file too, so it imports nothing.
export class AssertionFailure extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionFailure';
  }
}

// `message` may be a function, so that a costly message is only built on failure.
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionFailure(typeof message === 'function' ? message() : message);
}
