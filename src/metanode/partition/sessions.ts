// Client sessions and the inodes they hold open, so that an unlinked file stays readable
// until its last close and is freed once nobody holds it (issue 5, point 6). A session is
// registered with a lease, renewed by heartbeats, and released by closeSession or, when
// its lease ran out, by expireSessions: both release every open it held. Records:
// `S<id>` (the session), `S<id><ino>` (an open, with a count), `O<ino><id>` (the reverse
// index: "is this inode open" is one scan of limit 1) and `L<expiresSec><id>` (leases in
// time order, so expiry looks only at expired ones). Time comes in the arguments. Pure.
import { AtollError, assert, StatusCode } from '../../errors/index.js';
import type { KvEngine } from '../store/kv-engine.js';
import {
  CounterName, decodeOpenByKey, decodeSessionKey, decodeSessionLeaseKey, openByKey, openByPrefix, sessionKey, sessionLeaseKey,
  sessionLeasePrefixAll, sessionOpenInodeKey, sessionPrefixAll, toFreeKey,
} from './keys.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
import { Changes, invalid, validateIno, validateLimit, validateRecordTime, type OperationTime, type Outcome } from './operation.js';
import { decodeOpenCountValue, decodeSessionValue, encodeOpenCountValue, encodeSessionValue, sessionExpiresSec, type SessionRecord } from './values.js';

const firstSessionId = 1;
const encoder = new TextEncoder();

export interface SessionInfo extends SessionRecord {
  readonly sessionId: number;
  /** The second from which expireSessions may release it (renewedSec + leaseSec). */
  readonly expiresSec: number;
}

function info(sessionId: number, record: SessionRecord): SessionInfo {
  return { sessionId, ...record, expiresSec: sessionExpiresSec(record) };
}

function readSession(changes: Changes, sessionId: number): SessionRecord | undefined {
  const bytes = changes.get(sessionKey(sessionId));
  return bytes === undefined ? undefined : decodeSessionValue(bytes);
}

function requireSession(changes: Changes, action: string, sessionId: number): SessionRecord {
  const record = readSession(changes, sessionId);
  if (record === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${action}: no session ${sessionId} (closed or expired)`);
  return record;
}

/** Writes the session record and moves its lease key when the expiry changed. */
function putSession(changes: Changes, sessionId: number, record: SessionRecord, before?: SessionRecord): void {
  if (before !== undefined && sessionExpiresSec(before) !== sessionExpiresSec(record)) {
    changes.delete(sessionLeaseKey(sessionExpiresSec(before), sessionId));
  }
  changes.set(sessionKey(sessionId), encodeSessionValue(record));
  changes.set(sessionLeaseKey(sessionExpiresSec(record), sessionId), new Uint8Array(0));
}

function validateLease(action: string, leaseSec: number, limits: NamespaceLimits): void {
  if (!Number.isInteger(leaseSec) || leaseSec < 1 || leaseSec > limits.sessionLeaseSecMax) {
    invalid(action, `leaseSec must be in 1..${limits.sessionLeaseSecMax}: ${leaseSec}`);
  }
}

/** Whether any session holds the inode open, counting the operation's own changes. */
export function isOpenIn(changes: Changes, ino: number): boolean {
  return changes.hasKeyWithPrefix(openByPrefix(ino));
}

/** The inode is waiting to be freed (`F`) and nobody holds it open: freeInodes may take it. */
function isFreeable(changes: Changes, ino: number): boolean {
  return changes.get(toFreeKey(ino)) !== undefined && !isOpenIn(changes, ino);
}

// ---------------------------------------------------------------------------------------
// Operations

export interface OpenSessionArgs extends OperationTime {
  /** Seconds the session lives without a renewal, 1..sessionLeaseSecMax. */
  readonly leaseSec: number;
  /** Who the client is (host, process, mount), for operators; at most sessionClientInfoBytesMax bytes. */
  readonly clientInfo: string;
}

/** Registers a client session; its id comes from the `session_cursor` counter (never reused). */
export function openSession(engine: KvEngine, args: OpenSessionArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<SessionInfo> {
  const action = 'open session';
  validateRecordTime(action, args);
  validateLease(action, args.leaseSec, limits);
  if (typeof args.clientInfo !== 'string') invalid(action, 'clientInfo must be a string');
  const infoBytes = encoder.encode(args.clientInfo).length;
  if (infoBytes > limits.sessionClientInfoBytesMax) invalid(action, `clientInfo of ${infoBytes} bytes, at most ${limits.sessionClientInfoBytesMax}`);
  const changes = new Changes(engine);
  const sessionId = changes.takeCounter(CounterName.sessionCursor, firstSessionId);
  assert(readSession(changes, sessionId) === undefined, () => `${action}: session ${sessionId} under the cursor already exists`);
  const record: SessionRecord = {
    openedSec: args.nowSec, openedNsec: args.nowNsec, renewedSec: args.nowSec, renewedNsec: args.nowNsec,
    leaseSec: args.leaseSec, openInodes: 0, clientInfo: args.clientInfo,
  };
  putSession(changes, sessionId, record);
  return changes.outcome(info(sessionId, record));
}

export interface RenewSessionArgs extends OperationTime {
  readonly sessionId: number;
  /** A new lease length; absent: the session's own. */
  readonly leaseSec?: number;
}

/**
 * A heartbeat: the lease runs again from now. A session that expireSessions already
 * released is gone [ENOENT]: the client must open a new one and reopen its files.
 */
export function renewSession(engine: KvEngine, args: RenewSessionArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<SessionInfo> {
  const action = 'renew session';
  validateRecordTime(action, args);
  validateIno(action, 'sessionId', args.sessionId);
  if (args.leaseSec !== undefined) validateLease(action, args.leaseSec, limits);
  const changes = new Changes(engine);
  const before = requireSession(changes, action, args.sessionId);
  const record: SessionRecord = { ...before, renewedSec: args.nowSec, renewedNsec: args.nowNsec, leaseSec: args.leaseSec ?? before.leaseSec };
  putSession(changes, args.sessionId, record, before);
  return changes.outcome(info(args.sessionId, record));
}

export interface OpenFileArgs {
  readonly sessionId: number;
  readonly ino: number;
}

/**
 * The session opened the inode (held here) once more. An unlinked inode (nlink 0) may
 * still be opened while its record exists (an open handle re-opened through /proc); a
 * freed one is gone [ESTALE].
 */
export function recordOpen(engine: KvEngine, args: OpenFileArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ opens: number }> {
  const action = 'record open';
  validateIno(action, 'sessionId', args.sessionId);
  validateIno(action, 'ino', args.ino);
  const changes = new Changes(engine);
  const session = requireSession(changes, action, args.sessionId);
  if (changes.inode(args.ino) === undefined) throw new AtollError(StatusCode.STALE_HANDLE, `${action}: inode ${args.ino} does not exist here (freed or never held)`);
  const key = sessionOpenInodeKey(args.sessionId, args.ino);
  const bytes = changes.get(key);
  const opens = bytes === undefined ? 1 : decodeOpenCountValue(bytes) + 1;
  if (opens > limits.opensPerSessionInodeMax) {
    throw new AtollError(StatusCode.NO_SPACE, `${action}: session ${args.sessionId} has inode ${args.ino} open ${opens - 1} times, at most ${limits.opensPerSessionInodeMax}`);
  }
  if (bytes === undefined) {
    if (session.openInodes + 1 > limits.sessionOpenInodesMax) {
      throw new AtollError(StatusCode.NO_SPACE, `${action}: session ${args.sessionId} holds ${session.openInodes} inodes open, at most ${limits.sessionOpenInodesMax}`);
    }
    changes.set(sessionKey(args.sessionId), encodeSessionValue({ ...session, openInodes: session.openInodes + 1 }));
    changes.set(openByKey(args.ino, args.sessionId), new Uint8Array(0));
  }
  changes.set(key, encodeOpenCountValue(opens));
  return changes.outcome({ opens });
}

/** Drops one open-inode record of a session and its reverse index entry (the session record is the caller's). */
function releaseOpen(changes: Changes, sessionId: number, ino: number): void {
  changes.delete(sessionOpenInodeKey(sessionId, ino));
  changes.delete(openByKey(ino, sessionId));
}

export interface CloseFileResult {
  /** Opens of the inode this session still holds. */
  readonly opens: number;
  /** The inode is unlinked and nobody holds it open any more: freeInodes may take it now. */
  readonly freeable: boolean;
}

/** The session closed the inode once; at zero opens it no longer holds it [ENOENT if it did not]. */
export function recordClose(engine: KvEngine, args: OpenFileArgs): Outcome<CloseFileResult> {
  const action = 'record close';
  validateIno(action, 'sessionId', args.sessionId);
  validateIno(action, 'ino', args.ino);
  const changes = new Changes(engine);
  const session = requireSession(changes, action, args.sessionId);
  const key = sessionOpenInodeKey(args.sessionId, args.ino);
  const bytes = changes.get(key);
  if (bytes === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${action}: session ${args.sessionId} does not hold inode ${args.ino} open`);
  const opens = decodeOpenCountValue(bytes) - 1;
  assert(opens >= 0, () => `${action}: open count of inode ${args.ino} in session ${args.sessionId} is 0`);
  if (opens > 0) {
    changes.set(key, encodeOpenCountValue(opens));
  } else {
    releaseOpen(changes, args.sessionId, args.ino);
    changes.set(sessionKey(args.sessionId), encodeSessionValue({ ...session, openInodes: session.openInodes - 1 }));
  }
  return changes.outcome({ opens, freeable: opens === 0 && isFreeable(changes, args.ino) });
}

export interface ReleasedSession {
  readonly sessionId: number;
  /** The inodes it held open, released. */
  readonly inos: number[];
}

/** Removes a session with every open it held; returns those opens. Bounded: at most sessionOpenInodesMax. */
function releaseSession(changes: Changes, engine: KvEngine, action: string, sessionId: number, record: SessionRecord): ReleasedSession {
  const entries = engine.scan({ prefix: sessionKey(sessionId), limit: record.openInodes + 2 });
  const inos: number[] = [];
  for (const entry of entries) {
    const { ino } = decodeSessionKey(entry.key);
    if (ino !== undefined) {
      inos.push(ino);
      releaseOpen(changes, sessionId, ino);
    }
  }
  assert(inos.length === record.openInodes, () => `${action}: session ${sessionId} counts ${record.openInodes} open inodes, found ${inos.length}`);
  changes.delete(sessionKey(sessionId));
  changes.delete(sessionLeaseKey(sessionExpiresSec(record), sessionId));
  return { sessionId, inos };
}

export interface ReleaseResult {
  readonly released: ReleasedSession[];
  /** Inodes among those released that are now unlinked and open by nobody: freeInodes may take them. */
  readonly freeable: number[];
}

/** The client ends its session: every inode it held open is released. */
export function closeSession(engine: KvEngine, args: { readonly sessionId: number }): Outcome<ReleaseResult> {
  const action = 'close session';
  validateIno(action, 'sessionId', args.sessionId);
  const changes = new Changes(engine);
  const record = requireSession(changes, action, args.sessionId);
  const released = releaseSession(changes, engine, action, args.sessionId, record);
  return changes.outcome({ released: [released], freeable: released.inos.filter((ino) => isFreeable(changes, ino)) });
}

export interface ExpireSessionsResult extends ReleaseResult {
  /** More sessions had expired than this batch released: run again. */
  readonly more: boolean;
}

/**
 * Releases sessions whose lease ended (expiresSec <= nowSec), oldest lease first, as the
 * leader proposes it with its time. Bounded: stops before releasing more than
 * opensReleasedPerBatchMax opens (always at least one session) or
 * sessionsPerBatch sessions.
 */
export function expireSessions(engine: KvEngine, args: OperationTime & { readonly sessionsPerBatch: number }, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<ExpireSessionsResult> {
  const action = 'expire sessions';
  validateRecordTime(action, args);
  validateLimit(action, args.sessionsPerBatch, limits.recordsScannedPerPageMax);
  const changes = new Changes(engine);
  const leases = engine.scan({ prefix: sessionLeasePrefixAll, limit: args.sessionsPerBatch + 1 });
  const released: ReleasedSession[] = [];
  let opens = 0;
  let more = false;
  for (const lease of leases) {
    const { expiresSec, sessionId } = decodeSessionLeaseKey(lease.key);
    if (expiresSec > args.nowSec) break;
    const record = requireSession(changes, action, sessionId);
    if (released.length === args.sessionsPerBatch || (released.length > 0 && opens + record.openInodes > limits.opensReleasedPerBatchMax)) {
      more = true;
      break;
    }
    opens += record.openInodes;
    released.push(releaseSession(changes, engine, action, sessionId, record));
  }
  const freeable = [...new Set(released.flatMap((session) => session.inos))].filter((ino) => isFreeable(changes, ino));
  return changes.outcome({ released, freeable, more });
}

// ---------------------------------------------------------------------------------------
// Reads

export function getSession(engine: KvEngine, sessionId: number): SessionInfo {
  validateIno('get session', 'sessionId', sessionId);
  return info(sessionId, requireSession(new Changes(engine), 'get session', sessionId));
}

/** Sessions in id order after `afterSessionId`; one scan per session (its open records are stepped over). */
export function listSessions(engine: KvEngine, args: { readonly afterSessionId?: number; readonly limit: number }, limits: NamespaceLimits = namespaceLimitsDefault): { sessions: SessionInfo[]; more: boolean } {
  const action = 'list sessions';
  validateLimit(action, args.limit, limits.recordsScannedPerPageMax);
  const sessions: SessionInfo[] = [];
  // After the last possible open record of a session comes the next session.
  let after = args.afterSessionId === undefined ? undefined : sessionOpenInodeKey(args.afterSessionId, Number.MAX_SAFE_INTEGER);
  for (;;) {
    const [entry] = engine.scan({ prefix: sessionPrefixAll, after, limit: 1 });
    if (entry === undefined) return { sessions, more: false };
    const { sessionId, ino } = decodeSessionKey(entry.key);
    assert(ino === undefined, () => `${action}: open record of session ${sessionId} without its session record`);
    if (sessions.length === args.limit) return { sessions, more: true };
    sessions.push(info(sessionId, decodeSessionValue(entry.value)));
    after = sessionOpenInodeKey(sessionId, Number.MAX_SAFE_INTEGER);
  }
}

/** The inodes a session holds open, with their open counts, in ino order after `afterIno`. */
export function openInodesOf(engine: KvEngine, args: { readonly sessionId: number; readonly afterIno?: number; readonly limit: number }, limits: NamespaceLimits = namespaceLimitsDefault): { opens: Array<{ ino: number; opens: number }>; more: boolean } {
  const action = 'open inodes of';
  validateIno(action, 'sessionId', args.sessionId);
  validateLimit(action, args.limit, limits.recordsScannedPerPageMax);
  requireSession(new Changes(engine), action, args.sessionId);
  const after = sessionOpenInodeKey(args.sessionId, args.afterIno ?? 0);
  const entries = engine.scan({ prefix: sessionKey(args.sessionId), after, limit: args.limit + 1 });
  const opens = entries.slice(0, args.limit).map((entry) => ({ ino: decodeSessionKey(entry.key).ino!, opens: decodeOpenCountValue(entry.value) }));
  return { opens, more: entries.length > args.limit };
}

/** The sessions holding the inode open (at most `limit`). */
export function sessionsHolding(engine: KvEngine, ino: number, limit: number, limits: NamespaceLimits = namespaceLimitsDefault): number[] {
  validateIno('sessions holding', 'ino', ino);
  validateLimit('sessions holding', limit, limits.recordsScannedPerPageMax);
  return engine.scan({ prefix: openByPrefix(ino), limit }).map((entry) => decodeOpenByKey(entry.key).sessionId);
}

/** Whether any session holds the inode open: one scan of limit 1. */
export function isInodeOpen(engine: KvEngine, ino: number): boolean {
  validateIno('is inode open', 'ino', ino);
  return engine.scan({ prefix: openByPrefix(ino), limit: 1 }).length > 0;
}
