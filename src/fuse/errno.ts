// What a FUSE operation's failure becomes at the kernel boundary: a negative Linux errno
// number. Operations throw; the adapter calls `errnoOf` on whatever they threw.
import { constants as osConstants } from 'node:os';
import { AtollError } from '../errors/index.js';
import { errnoNumber } from '../errors/index.js';

const errnoByName = osConstants.errno as Readonly<Record<string, number>>;

/** The errno name an operation throws to mean one specific POSIX error. */
export type ErrnoName = keyof typeof osConstants.errno;

/**
 * An expected failure of a file-system operation, carrying a Node-style `code`
 * ('ENOENT', ...) like the errors of node:fs. Operations may throw this, an AtollError,
 * or any error with a known `code`.
 */
export class FuseError extends Error {
  readonly code: ErrnoName;

  constructor(code: ErrnoName, message?: string) {
    super(message ?? code);
    this.name = 'FuseError';
    this.code = code;
  }
}

export function fuseError(code: ErrnoName, message?: string): FuseError {
  return new FuseError(code, message);
}

/** Positive errno number of a Node-style name, or undefined for an unknown name. */
export function errnoOfName(name: string): number | undefined {
  const value = errnoByName[name];
  return typeof value === 'number' && value > 0 ? value : undefined;
}

/**
 * Whether `errnoOf` understood the error (an expected failure) rather than falling back
 * to EIO. The adapter reports unexpected ones (bugs) through its `onError` hook.
 */
export function isExpectedError(error: unknown): boolean {
  return mapError(error) !== undefined;
}

/**
 * The negative errno number for a thrown value:
 * - an AtollError: its status through the status registry (NOT_FOUND -> -ENOENT, ...);
 * - an error with a string `code` naming an errno ('ENOENT', as node:fs throws);
 * - an error with a negative numeric `errno` (node:fs errors carry one too);
 * - anything else (a bug, a TypeError): -EIO.
 */
export function errnoOf(error: unknown): number {
  return mapError(error) ?? -errnoByName.EIO!;
}

function mapError(error: unknown): number | undefined {
  if (error instanceof AtollError) {
    const number = errnoNumber(error.status);
    // OK carries no errno: an AtollError with status OK thrown as a failure is a bug.
    return number > 0 ? -number : undefined;
  }
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === 'string') {
    const number = errnoOfName(code);
    if (number !== undefined) return -number;
  }
  if (typeof errno === 'number' && Number.isInteger(errno) && errno < 0 && errno > -4096) return errno;
  return undefined;
}
