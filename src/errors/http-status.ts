// The HTTP status of each StatusCode, for the admin API: an AtollError thrown by a route
// handler becomes a reply with this status and the code's name, so HTTP clients and the
// CLI see the same codes as RPC callers. A Record keyed by the enum: a new code does not
// compile until it has an HTTP status here.
import { StatusCode } from '../proto/generated/common.js';
import type { AtollError } from './atoll-error.js';
import { statusInfo } from './status-registry.js';

const httpStatusOfCode: Readonly<Record<StatusCode, number>> = {
  [StatusCode.OK]: 200,
  [StatusCode.NOT_FOUND]: 404,
  [StatusCode.EXISTS]: 409,
  [StatusCode.NOT_EMPTY]: 409,
  [StatusCode.NOT_DIR]: 400,
  [StatusCode.IS_DIR]: 400,
  [StatusCode.NOT_LEADER]: 503,
  [StatusCode.PARTITION_NOT_READY]: 503,
  [StatusCode.STALE_VIEW]: 503,
  [StatusCode.NO_SPACE]: 507,
  [StatusCode.INVALID_ARGUMENT]: 400,
  [StatusCode.PERMISSION_DENIED]: 403,
  [StatusCode.UNAUTHENTICATED]: 401,
  [StatusCode.TIMEOUT]: 504,
  [StatusCode.OVERLOADED]: 429,
  [StatusCode.CHECKSUM_MISMATCH]: 500,
  [StatusCode.INTERNAL]: 500,
  [StatusCode.UNAVAILABLE]: 503,
  [StatusCode.CANCELLED]: 499,
  [StatusCode.UNKNOWN_METHOD]: 404,
  [StatusCode.TOO_LARGE]: 413,
  [StatusCode.NAME_TOO_LONG]: 400,
  [StatusCode.READ_ONLY]: 409,
  [StatusCode.NOT_SUPPORTED]: 501,
  [StatusCode.TOO_MANY_LINKS]: 409,
  [StatusCode.RANGE_FULL]: 409,
  [StatusCode.BAD_FRAME]: 400,
  [StatusCode.STALE_HANDLE]: 410,
  [StatusCode.CONFLICT]: 409,
  [StatusCode.TOO_MANY_SYMLINKS]: 400,
};

export function httpStatusOf(status: StatusCode): number {
  return httpStatusOfCode[status] ?? 500;
}

/** The HTTP error body fields of an AtollError: `{code, message, details}`. */
export function httpErrorOf(error: AtollError): { httpStatus: number; code: string; message: string; details?: Record<string, unknown> } {
  const details: Record<string, unknown> = {};
  if (error.leaderHint !== '') details.leader = error.leaderHint;
  if (error.retryAfterMs > 0) details.retryAfterMs = error.retryAfterMs;
  if (error.retryable) details.retryable = true;
  return {
    httpStatus: httpStatusOf(error.status),
    code: statusInfo(error.status).name,
    message: error.message,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}
