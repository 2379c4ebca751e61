// AtollError is the one error type that crosses module and wire boundaries. Expected
// failures (not found, not leader, timeout...) are AtollErrors with a StatusCode; bugs
// are assertion failures (see assert.ts), never status codes.
import { StatusCode } from '../proto/generated/common.js';
import { statusInfo } from './status-registry.js';

export interface AtollErrorOptions {
  cause?: unknown;
  // host:port of the group leader, for NOT_LEADER.
  leaderHint?: string;
  retryAfterMs?: number;
  // Set on errors a peer answered (an error frame), as opposed to ones raised here.
  remote?: boolean;
  // Set on a local failure of a call that had already been sent (its connection went):
  // the peer may have carried it out.
  outcomeUnknown?: boolean;
}

export class AtollError extends Error {
  readonly status: StatusCode;
  // Node-style errno name ('ENOENT', ...) so code written for node:fs handles it.
  readonly code: string;
  readonly retryable: boolean;
  readonly leaderHint: string;
  readonly retryAfterMs: number;
  // A peer answered with this error (it got the request); false when raised locally.
  readonly remote: boolean;
  // The call was sent before it failed here: it may have been carried out.
  readonly outcomeUnknown: boolean;

  constructor(status: StatusCode, message?: string, options: AtollErrorOptions = {}) {
    const info = statusInfo(status);
    super(message ?? info.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AtollError';
    this.status = status;
    this.code = info.errnoName ?? 'OK';
    this.retryable = info.retryable;
    this.leaderHint = options.leaderHint ?? '';
    this.retryAfterMs = options.retryAfterMs ?? 0;
    this.remote = options.remote ?? false;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }

  get statusName(): string {
    return statusInfo(this.status).name;
  }
}

export function isAtollError(error: unknown, status?: StatusCode): error is AtollError {
  return error instanceof AtollError && (status === undefined || error.status === status);
}
