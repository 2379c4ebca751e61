// The Raft core's assertions are the project's (src/errors/assert.ts, which is pure);
// the Raft name stays for readers of raft code and its tests.
export { assert, AssertionFailure as RaftAssertionError } from '../errors/assert.js';
