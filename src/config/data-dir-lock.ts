// One instance per data directory. Two instances on one directory would both replay
// and append to the same Raft log and partition files: silent corruption. The lock is
// a file `<dir>/LOCK` holding {pid, hostname, startedAt} as JSON, plus who the holder is
// (instance name, role, config file) so a refused starter can name the other instance.
//
// Why this shape (Node has no flock, so the kernel cannot drop the lock for us):
//
// * Creating the lock: the JSON is written to a private temp file first and then
//   hard-linked to LOCK. `link` fails if LOCK exists, like open(O_EXCL), but LOCK
//   appears with its full contents, so a reader never sees a half-written lock from a
//   starter that is still writing. An unreadable LOCK therefore means a leftover (for
//   example an empty file after a power cut), never a lock in progress.
//
// * Taking over a stale lock (its pid is dead): "remove it, then create ours" lets two
//   starters that both saw the dead pid both win (the second removes the first's fresh
//   lock). So removal of a stale LOCK happens only while holding a second, short-lived
//   file, `LOCK.takeover`, itself created with `link`. The holder re-reads LOCK under
//   it, removes LOCK only if still stale, and then links its own LOCK, which can still
//   fail if a plain starter linked one in between (that starter then wins; we retry
//   and find it alive). A live owner only removes its own LOCK, and a dead owner's LOCK
//   is removed only under LOCK.takeover, so two starters can never both hold LOCK.
//   If a process dies while holding LOCK.takeover (a window of a few system calls), the
//   next starter refuses and names the file to remove: guessing there would reopen
//   the race this scheme exists to close.
//
// * A lock written on another host (a directory on shared storage) cannot be checked
//   with a pid, so it is refused with instructions rather than assumed stale.

import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { dataDirLockAttemptsMax } from './limits.js';

export const lockFileName = 'LOCK';
const takeoverFileName = 'LOCK.takeover';

export interface DataDirLockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** ISO 8601 time the holder took the lock. */
  readonly startedAt: string;
  /** The AtollFS instance holding the lock, when the holder said (older locks do not). */
  readonly instance?: string;
  readonly role?: string;
  /** Absolute path of the holder's config file, if it was started with one. */
  readonly configFile?: string;
}

/** Who is taking the lock, written into LOCK for the messages of later starters. */
export interface DataDirLockOwner {
  readonly instance: string;
  readonly role: string;
  readonly configFile?: string | undefined;
}

/**
 * "metanode-2 (metanode, config /etc/atoll/metanode-2.toml)": an instance as messages
 * name it; without a config file just name and role.
 */
export function describeInstance(owner: DataDirLockOwner): string {
  return `${owner.instance} (${owner.role}${owner.configFile === undefined ? '' : `, config ${owner.configFile}`})`;
}

function describeHolder(holder: DataDirLockHolder): string {
  const who = holder.instance !== undefined && holder.role !== undefined ? `, instance ${describeInstance({ instance: holder.instance, role: holder.role, configFile: holder.configFile })}` : '';
  return `pid ${holder.pid}, since ${holder.startedAt}${who}`;
}

export interface DataDirLock {
  /** Absolute path of the data directory. */
  readonly dir: string;
  /** Absolute path of the LOCK file. */
  readonly path: string;
  readonly holder: DataDirLockHolder;
  /** Removes LOCK if it is still ours; safe to call more than once. */
  release(): Promise<void>;
}

export type DataDirLockProblem = 'held' | 'held-on-other-host' | 'takeover-in-progress' | 'takeover-abandoned' | 'contended';

export class DataDirLockedError extends AtollError {
  override readonly name = 'DataDirLockedError';
  constructor(
    message: string,
    readonly dir: string,
    readonly problem: DataDirLockProblem,
    /** The other holder, when known. */
    readonly holder: DataDirLockHolder | undefined,
  ) {
    super(StatusCode.UNAVAILABLE, message);
  }
}

type LockFileState =
  | { readonly kind: 'missing' }
  | { readonly kind: 'unreadable' }
  | { readonly kind: 'held'; readonly holder: DataDirLockHolder };

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** The holder recorded in a LOCK file, if it reads as one. */
export async function readLockHolder(path: string): Promise<DataDirLockHolder | undefined> {
  const state = await readLockFile(path).catch(() => ({ kind: 'unreadable' }) as const);
  return state.kind === 'held' ? state.holder : undefined;
}

async function readLockFile(path: string): Promise<LockFileState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<DataDirLockHolder> | null;
    if (parsed !== null && Number.isSafeInteger(parsed.pid) && parsed.pid! > 0 && typeof parsed.hostname === 'string' && typeof parsed.startedAt === 'string') {
      const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);
      const holder: DataDirLockHolder = {
        pid: parsed.pid!,
        hostname: parsed.hostname,
        startedAt: parsed.startedAt,
        ...(text(parsed.instance) === undefined ? {} : { instance: text(parsed.instance) }),
        ...(text(parsed.role) === undefined ? {} : { role: text(parsed.role) }),
        ...(text(parsed.configFile) === undefined ? {} : { configFile: text(parsed.configFile) }),
      };
      return { kind: 'held', holder };
    }
  } catch {
    // falls through: not JSON
  }
  return { kind: 'unreadable' };
}

/** Signal 0 checks existence only; EPERM means it exists but belongs to another user. */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // Anything but "no such process" is treated as alive: refusing wrongly is a clear
    // message, taking over wrongly is corruption.
    return errorCode(error) !== 'ESRCH';
  }
}

/** Alive, or unknowable because it is on another host. */
function mayBeRunning(holder: DataDirLockHolder): boolean {
  return holder.hostname !== hostname() || isProcessAlive(holder.pid);
}

/** `link` as an exclusive create: false if `target` already exists. */
async function linkExclusive(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

function refuseHeld(dir: string, lockPath: string, holder: DataDirLockHolder, owner: DataDirLockOwner | undefined): never {
  const ours = owner === undefined ? '' : ` for ${describeInstance(owner)}`;
  if (holder.hostname !== hostname()) {
    throw new DataDirLockedError(
      `data directory ${dir} is locked by an instance on host ${holder.hostname} (${describeHolder(holder)}), which cannot be checked from ${hostname()}: stop it, or if it is gone remove ${lockPath}; or choose another --data-dir${ours}`,
      dir, 'held-on-other-host', holder,
    );
  }
  throw new DataDirLockedError(
    `data directory ${dir} is locked by another instance (${describeHolder(holder)}): stop it or choose another --data-dir${ours}`,
    dir, 'held', holder,
  );
}

/** Removes temp files of starters that died between writing and cleaning them up. */
async function removeAbandonedTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const match = /^LOCK\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
    if (match !== null && !isProcessAlive(Number(match[1]))) await rm(join(dir, name), { force: true });
  }
}

/**
 * Creates `dir` if needed and takes its lock, or throws DataDirLockedError naming the
 * holder. A lock left by a process that is no longer running is taken over. `owner`
 * (this instance) is recorded in LOCK and named in the refusal message.
 */
export async function acquireDataDirLock(dir: string, owner?: DataDirLockOwner): Promise<DataDirLock> {
  const absoluteDir = resolve(dir);
  try {
    await mkdir(absoluteDir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create data directory ${absoluteDir}: ${errorCode(error) === 'EACCES' ? 'permission denied' : (error as Error).message}`, { cause: error });
  }
  const lockPath = join(absoluteDir, lockFileName);
  const takeoverPath = join(absoluteDir, takeoverFileName);
  const holder: DataDirLockHolder = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    ...(owner === undefined ? {} : { instance: owner.instance, role: owner.role, ...(owner.configFile === undefined ? {} : { configFile: owner.configFile }) }),
  };

  const tempPath = join(absoluteDir, `LOCK.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const tempFile = await open(tempPath, 'wx');
  try {
    await tempFile.writeFile(`${JSON.stringify(holder)}\n`);
  } finally {
    await tempFile.close();
  }

  const acquired = async (): Promise<DataDirLock> => {
    let released = false;
    // Held open while the lock is ours: /proc/<pid>/fd then leads from a process to its
    // LOCK, which is how another instance refused a port names this one (port-owner.ts).
    const openLock = await open(lockPath, 'r');
    return {
      dir: absoluteDir,
      path: lockPath,
      holder,
      async release() {
        if (released) return;
        released = true;
        await openLock.close();
        const state = await readLockFile(lockPath);
        if (state.kind === 'held' && state.holder.pid === holder.pid && state.holder.startedAt === holder.startedAt) {
          await rm(lockPath, { force: true });
        }
      },
    };
  };

  /** Returns true if we now hold LOCK, false if it changed hands and we should look again. */
  const takeOverStaleLock = async (): Promise<boolean> => {
    if (!(await linkExclusive(tempPath, takeoverPath))) {
      const taker = await readLockFile(takeoverPath);
      if (taker.kind === 'missing') return false;
      if (taker.kind === 'held' && mayBeRunning(taker.holder)) {
        throw new DataDirLockedError(
          `data directory ${absoluteDir} is being taken over by another instance (pid ${taker.holder.pid}) right now: stop it or choose another --data-dir`,
          absoluteDir, 'takeover-in-progress', taker.holder,
        );
      }
      const who = taker.kind === 'held' ? `pid ${taker.holder.pid}, which is no longer running,` : 'an instance that is no longer running';
      throw new DataDirLockedError(
        `data directory ${absoluteDir} has ${takeoverPath} left by ${who} while it took over a stale lock: make sure no instance uses the directory, then remove that file`,
        absoluteDir, 'takeover-abandoned', taker.kind === 'held' ? taker.holder : undefined,
      );
    }
    try {
      // Under LOCK.takeover nobody else removes LOCK, so what we read now stays true
      // until we remove it; but it may have become a live lock since we first looked.
      const state = await readLockFile(lockPath);
      if (state.kind === 'held' && mayBeRunning(state.holder)) refuseHeld(absoluteDir, lockPath, state.holder, owner);
      if (state.kind !== 'missing') await rm(lockPath, { force: true });
      return await linkExclusive(tempPath, lockPath);
    } finally {
      await rm(takeoverPath, { force: true });
    }
  };

  let won = false;
  try {
    for (let attempt = 0; attempt < dataDirLockAttemptsMax && !won; attempt++) {
      if (await linkExclusive(tempPath, lockPath)) {
        won = true;
        break;
      }
      const state = await readLockFile(lockPath);
      if (state.kind === 'missing') continue; // released between our link and our read
      if (state.kind === 'held' && mayBeRunning(state.holder)) refuseHeld(absoluteDir, lockPath, state.holder, owner);
      won = await takeOverStaleLock();
    }
  } finally {
    await rm(tempPath, { force: true });
  }
  if (!won) {
    throw new DataDirLockedError(
      `data directory ${absoluteDir}: could not take the lock in ${dataDirLockAttemptsMax} attempts, other instances keep starting on it: stop them or choose another --data-dir`,
      absoluteDir, 'contended', undefined,
    );
  }
  await removeAbandonedTempFiles(absoluteDir);
  return await acquired();
}
