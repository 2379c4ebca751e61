// The one registry of status codes: for every StatusCode of proto/common.proto, what it
// means, which errno it becomes at the FUSE boundary (and in the SDK's Node-style
// `code`), and whether a caller may retry the same request.
import { constants as osConstants } from 'node:os';
import { StatusCode } from '../proto/generated/common.js';

export interface StatusInfo {
  readonly code: StatusCode;
  readonly name: string;
  readonly message: string;
  // Node-style errno name, e.g. 'ENOENT'; OK has none.
  readonly errnoName: string | null;
  readonly retryable: boolean;
}

type Entry = [name: string, message: string, errnoName: string | null, retryable: boolean];

const entries: Record<StatusCode, Entry> = {
  [StatusCode.OK]: ['OK', 'success', null, false],
  [StatusCode.NOT_FOUND]: ['NOT_FOUND', 'no such file, directory or object', 'ENOENT', false],
  [StatusCode.EXISTS]: ['EXISTS', 'already exists', 'EEXIST', false],
  [StatusCode.NOT_EMPTY]: ['NOT_EMPTY', 'directory not empty', 'ENOTEMPTY', false],
  [StatusCode.NOT_DIR]: ['NOT_DIR', 'not a directory', 'ENOTDIR', false],
  [StatusCode.IS_DIR]: ['IS_DIR', 'is a directory', 'EISDIR', false],
  [StatusCode.NOT_LEADER]: ['NOT_LEADER', 'not the leader; retry at the leader', 'EAGAIN', true],
  [StatusCode.PARTITION_NOT_READY]: ['PARTITION_NOT_READY', 'partition is still loading; retry later or at another replica', 'EAGAIN', true],
  [StatusCode.STALE_VIEW]: ['STALE_VIEW', 'view is older than the caller\'s; ask the leader', 'EAGAIN', true],
  [StatusCode.NO_SPACE]: ['NO_SPACE', 'no space left', 'ENOSPC', false],
  [StatusCode.INVALID_ARGUMENT]: ['INVALID_ARGUMENT', 'invalid argument', 'EINVAL', false],
  [StatusCode.PERMISSION_DENIED]: ['PERMISSION_DENIED', 'permission denied', 'EACCES', false],
  [StatusCode.UNAUTHENTICATED]: ['UNAUTHENTICATED', 'peer is not authenticated with the cluster secret', 'EPERM', false],
  [StatusCode.TIMEOUT]: ['TIMEOUT', 'deadline exceeded', 'ETIMEDOUT', true],
  [StatusCode.OVERLOADED]: ['OVERLOADED', 'server overloaded; retry after a pause', 'EBUSY', true],
  [StatusCode.CHECKSUM_MISMATCH]: ['CHECKSUM_MISMATCH', 'checksum mismatch; data read from another replica', 'EIO', true],
  [StatusCode.INTERNAL]: ['INTERNAL', 'internal error', 'EIO', false],
  [StatusCode.UNAVAILABLE]: ['UNAVAILABLE', 'peer unavailable or shutting down', 'EHOSTUNREACH', true],
  [StatusCode.CANCELLED]: ['CANCELLED', 'cancelled by the caller', 'ECANCELED', false],
  [StatusCode.UNKNOWN_METHOD]: ['UNKNOWN_METHOD', 'method not served by this instance', 'ENOSYS', false],
  [StatusCode.TOO_LARGE]: ['TOO_LARGE', 'request or frame larger than allowed', 'EMSGSIZE', false],
  [StatusCode.NAME_TOO_LONG]: ['NAME_TOO_LONG', 'name longer than 255 bytes', 'ENAMETOOLONG', false],
  [StatusCode.READ_ONLY]: ['READ_ONLY', 'read-only partition or volume', 'EROFS', false],
  [StatusCode.NOT_SUPPORTED]: ['NOT_SUPPORTED', 'operation not supported', 'ENOTSUP', false],
  [StatusCode.TOO_MANY_LINKS]: ['TOO_MANY_LINKS', 'too many links', 'EMLINK', false],
  [StatusCode.RANGE_FULL]: ['RANGE_FULL', 'inode range of the partition is used up; create in another partition', 'ENOSPC', true],
  [StatusCode.BAD_FRAME]: ['BAD_FRAME', 'malformed frame or message', 'EPROTO', false],
  [StatusCode.STALE_HANDLE]: ['STALE_HANDLE', 'file handle refers to a freed inode', 'ESTALE', false],
  [StatusCode.CONFLICT]: ['CONFLICT', 'changed meanwhile; read again and retry', 'EAGAIN', true],
  [StatusCode.TOO_MANY_SYMLINKS]: ['TOO_MANY_SYMLINKS', 'too many levels of symbolic links', 'ELOOP', false],
};

const infos = new Map<StatusCode, StatusInfo>();
for (const [key, [name, message, errnoName, retryable]] of Object.entries(entries)) {
  const code = Number(key) as StatusCode;
  // The registry and the proto enum must agree on every name: a renamed code is a bug.
  if (StatusCode[code] !== name) throw new Error(`status registry: code ${code} is ${StatusCode[code]} in proto, ${name} here`);
  if (errnoName !== null && !(errnoName in osConstants.errno)) throw new Error(`status registry: ${name}: unknown errno ${errnoName}`);
  infos.set(code, Object.freeze({ code, name, message, errnoName, retryable }));
}

/**
 * Refusals a server gives before it does anything with a request (another replica leads,
 * the partition is still loading, the server is overloaded, the caller's view of the
 * partition is stale): the same request may be routed again, elsewhere or later, even
 * a mutation.
 */
const routingRefusals: ReadonlySet<StatusCode> = new Set([StatusCode.NOT_LEADER, StatusCode.PARTITION_NOT_READY, StatusCode.OVERLOADED, StatusCode.STALE_VIEW]);

export function isRoutingRefusal(code: StatusCode): boolean {
  return routingRefusals.has(code);
}

export function statusInfo(code: StatusCode): StatusInfo {
  const info = infos.get(code);
  if (info === undefined) return infos.get(StatusCode.INTERNAL)!;
  return info;
}

export function isKnownStatus(code: number): code is StatusCode {
  return infos.has(code as StatusCode);
}

export function allStatusInfos(): StatusInfo[] {
  return [...infos.values()].sort((a, b) => a.code - b.code);
}

// Linux errno number for the FUSE boundary (FUSE callbacks take negative errno numbers).
export function errnoNumber(code: StatusCode): number {
  const name = statusInfo(code).errnoName;
  if (name === null) return 0;
  return (osConstants.errno as Record<string, number>)[name]!;
}
