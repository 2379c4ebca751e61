// Gives a released range of a tiny extent back to the file system: punches a hole
// (fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)). Node has no binding for it, so
// it runs util-linux's `fallocate` on the file; the hole reads as zeros, like the zeroing
// it replaces. Where the command or the file system cannot punch, the answer is false and
// the store writes zeros instead (the bytes are gone either way; only the space stays).
import { execFile } from 'node:child_process';

/** Punches [offset, offset + length) of the file at `path`; true when the hole is made. */
export type HolePuncher = (path: string, offset: number, length: number) => Promise<boolean>;

/** How long one punch may take before it counts as failed (a stuck file system). */
const punchTimeoutMs = 10_000;

export const punchHoleWithFallocate: HolePuncher = (path, offset, length) =>
  new Promise((resolve) => {
    execFile('fallocate', ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), path], { timeout: punchTimeoutMs }, (error) => resolve(error === null));
  });
