// Maps file-system failures to AtollError, so that callers test a StatusCode and never
// an errno string, and every message names the action and the path.
import { AtollError, StatusCode } from '../errors/index.js';

const statusOfErrno: Readonly<Record<string, StatusCode>> = {
  ENOENT: StatusCode.NOT_FOUND,
  EEXIST: StatusCode.EXISTS,
  ENOTEMPTY: StatusCode.NOT_EMPTY,
  ENOTDIR: StatusCode.NOT_DIR,
  EISDIR: StatusCode.IS_DIR,
  ENOSPC: StatusCode.NO_SPACE,
  EDQUOT: StatusCode.NO_SPACE,
  EROFS: StatusCode.READ_ONLY,
  EACCES: StatusCode.PERMISSION_DENIED,
  EPERM: StatusCode.PERMISSION_DENIED,
};

/** An AtollError for a failed `action` on `path`, keeping the original error as its cause. */
export function diskError(action: string, path: string, cause: unknown): AtollError {
  if (cause instanceof AtollError) return cause;
  const errno = (cause as { code?: unknown } | null)?.code;
  const status = typeof errno === 'string' ? (statusOfErrno[errno] ?? StatusCode.INTERNAL) : StatusCode.INTERNAL;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AtollError(status, `${action} ${path}: ${reason}`, { cause });
}

/** An AtollError raised by a Disk implementation itself (no underlying error). */
export function diskStatusError(status: StatusCode, action: string, path: string, reason: string): AtollError {
  return new AtollError(status, `${action} ${path}: ${reason}`);
}
