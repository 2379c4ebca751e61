// The trash (issue 5, point 7): with a retention > 0, unlink and rmdir move the removed
// entry to a `T<hour><parentIno><ino><name>` record instead of dropping its link; the
// inode keeps that link (as CubeFS's trash does), so its data stays until the entry is
// restored or expires. Users see the trash as `/.trash/<YYYY-MM-DD-HH>/<parentIno>-<ino>-<name>`
// (UTC): formatTrashName / parseTrashName convert, without a clock or Date (pure).
import { AtollError, assert, StatusCode } from '../../errors/index.js';
import { Dentry, InodeType, type Inode } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { decodeTrashKey, KeyTag, trashKey, trashPrefixAll } from './keys.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
import {
  Changes, dropLink, invalid, refuseReservedName, requireLiveDirectory, rootParentSentinel, setCtime, touchDirectory,
  validateLimit, validateName, validateRecordTime, type OperationTime, type Outcome,
} from './operation.js';
import { decodeTrashValue, encodeTrashValue, type TrashRecord } from './values.js';
import { queueLinkDrop } from './link-drops.js';

const secondsPerHour = 3600;
const hoursPerDay = 24;

/** The hour since the epoch a removal at `sec` files under. */
export function trashHourOf(sec: number): number {
  return Math.floor(sec / secondsPerHour);
}

// Days since 1970-01-01 <-> proleptic Gregorian (year, month 1..12, day 1..31), after
// Howard Hinnant's `civil_from_days` / `days_from_civil`: exact integer arithmetic.
function civilFromDays(days: number): [year: number, month: number, day: number] {
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  return [yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

function daysFromCivil(year: number, month: number, day: number): number {
  const marchYear = month <= 2 ? year - 1 : year;
  const era = Math.floor(marchYear / 400);
  const yearOfEra = marchYear - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

const two = (value: number): string => String(value).padStart(2, '0');

/** `YYYY-MM-DD-HH` (UTC) of an hour since the epoch: the trash's folder for that hour. */
export function formatTrashHour(hour: number): string {
  const [year, month, day] = civilFromDays(Math.floor(hour / hoursPerDay));
  return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}-${two(hour % hoursPerDay)}`;
}

export interface TrashName {
  readonly hour: number;
  readonly parentIno: number;
  readonly ino: number;
  readonly name: string;
}

/** The path of a trash entry under `/.trash`: `<YYYY-MM-DD-HH>/<parentIno>-<ino>-<name>`. */
export function formatTrashName(entry: TrashName): string {
  return `${formatTrashHour(entry.hour)}/${entry.parentIno}-${entry.ino}-${entry.name}`;
}

const trashNamePattern = /^(\d{4,})-(\d{2})-(\d{2})-(\d{2})\/(\d+)-(\d+)-(.+)$/s;

/** The inverse of formatTrashName; refuses (INVALID_ARGUMENT) anything it would not have produced. */
export function parseTrashName(text: string): TrashName {
  const match = trashNamePattern.exec(text);
  if (match === null) invalid('parse trash name', `not <YYYY-MM-DD-HH>/<parentIno>-<ino>-<name>: ${JSON.stringify(text)}`);
  const [year, month, day, hourOfDay, parentIno, ino] = match.slice(1, 7).map(Number);
  const name = match[7];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hourOfDay > 23) invalid('parse trash name', `no such date: ${JSON.stringify(text)}`);
  const hour = daysFromCivil(year, month, day) * hoursPerDay + hourOfDay;
  const parsed = { hour, parentIno, ino, name };
  // Round trip: refuses 2023-02-30, leading zeros and numbers beyond 2^53.
  if (hour < 0 || !Number.isSafeInteger(parentIno) || !Number.isSafeInteger(ino) || formatTrashName(parsed) !== text) {
    invalid('parse trash name', `not a canonical trash name: ${JSON.stringify(text)}`);
  }
  return parsed;
}

/** The key of the trash record a user-visible trash name refers to. */
export function trashKeyOfName(text: string): Uint8Array {
  const { hour, parentIno, ino, name } = parseTrashName(text);
  return trashKey(hour, parentIno, ino, name);
}

/**
 * Moves a removed entry to the trash: its dentry is deleted by the caller, a `T` record
 * keeps it. Returns the key, or undefined when the same entry was already trashed in the
 * same hour (the same name re-linked and removed again): that removal then drops its link
 * as without a trash, so no link is ever lost between two records.
 */
export function putInTrash(changes: Changes, dentry: Dentry, time: OperationTime): Uint8Array | undefined {
  const key = trashKey(trashHourOf(time.nowSec), dentry.parentIno, dentry.ino, dentry.name);
  if (changes.get(key) !== undefined) return undefined;
  changes.set(key, encodeTrashValue({ deletedSec: time.nowSec, deletedNsec: time.nowNsec, type: dentry.type }));
  return key;
}

/** A directory moved to the trash leaves the tree: detached (parent_ino 0), it takes no new entries. */
export function detachDirectory(changes: Changes, directory: Inode, time: OperationTime): Inode {
  directory.parentIno = rootParentSentinel;
  setCtime(directory, time);
  changes.putInode(directory);
  return directory;
}

/** Validates the trash retention an unlink or rmdir carries; true when the trash is on. */
export function trashIsOn(action: string, time: OperationTime, retentionSec: number | undefined): boolean {
  if (retentionSec === undefined || retentionSec === 0) return false;
  if (!Number.isSafeInteger(retentionSec) || retentionSec < 0) invalid(action, `trashRetentionSec must be a non-negative safe integer: ${retentionSec}`);
  validateRecordTime(action, time);
  return true;
}

// ---------------------------------------------------------------------------------------
// Reads

export interface TrashEntry extends TrashName, TrashRecord {
  /** The record's key: what restoreFromTrash takes and listTrash resumes after. */
  readonly key: Uint8Array;
  /** The path under `/.trash`. */
  readonly trashName: string;
}

function trashEntry(key: Uint8Array, value: Uint8Array): TrashEntry {
  const name = decodeTrashKey(key);
  // A copy as a plain Uint8Array: an engine may hand out Buffers, whose slice() is a view.
  return { key: new Uint8Array(key), ...name, ...decodeTrashValue(value), trashName: formatTrashName(name) };
}

/** Trash entries in key order (oldest hour first) after the key `after`. */
export function listTrash(engine: KvEngine, args: { readonly after?: Uint8Array; readonly limit: number }, limits: NamespaceLimits = namespaceLimitsDefault): { entries: TrashEntry[]; more: boolean } {
  const action = 'list trash';
  validateLimit(action, args.limit, limits.recordsScannedPerPageMax);
  if (args.after !== undefined && (args.after.length === 0 || args.after[0] !== KeyTag.trash)) invalid(action, 'after must be a trash key');
  const entries = engine.scan({ prefix: trashPrefixAll, after: args.after, limit: args.limit + 1 });
  return { entries: entries.slice(0, args.limit).map((entry) => trashEntry(entry.key, entry.value)), more: entries.length > args.limit };
}

// ---------------------------------------------------------------------------------------
// Operations

export interface RestoreFromTrashArgs extends OperationTime {
  /** The trash record (from listTrash, or trashKeyOfName). */
  readonly key: Uint8Array;
  /** Where to restore; absent: the original directory. Must be held here. */
  readonly targetParentIno?: number;
  /** The name to restore under; absent: the original name. */
  readonly targetName?: string;
}

export interface RestoreResult {
  readonly dentry: Dentry;
  /** The inode, when held here. */
  readonly inode?: Inode;
}

/**
 * Puts a trashed entry back: a dentry at its original place or the given one [EEXIST if
 * the name is taken, ENOENT if the directory is gone]. The inode kept its link while in
 * the trash, so its nlink does not change; a restored directory counts in its new parent.
 */
export function restoreFromTrash(engine: KvEngine, args: RestoreFromTrashArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<RestoreResult> {
  const action = 'restore from trash';
  validateRecordTime(action, args);
  const original = decodeTrashKey(args.key);
  const parentIno = args.targetParentIno ?? original.parentIno;
  const name = args.targetName ?? original.name;
  validateName(action, name, limits);
  refuseReservedName(action, parentIno, name, limits);
  const changes = new Changes(engine);
  const bytes = changes.get(args.key);
  if (bytes === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${action}: no trash entry ${formatTrashName(original)}`);
  const { type } = decodeTrashValue(bytes);
  requireLiveDirectory(changes, action, parentIno);
  if (changes.dentry(parentIno, name) !== undefined) {
    throw new AtollError(StatusCode.EXISTS, `${action}: ${JSON.stringify(name)} already exists in directory ${parentIno}`);
  }
  const isDirectory = type === InodeType.INODE_DIRECTORY;
  let inode = changes.inode(original.ino);
  if (isDirectory && inode === undefined) {
    throw new AtollError(StatusCode.NOT_SUPPORTED, `${action}: directory ${original.ino} lives in another partition (not built yet)`);
  }
  changes.delete(args.key);
  touchDirectory(changes, action, parentIno, isDirectory ? 1 : 0, args, limits);
  inode = changes.inode(original.ino);
  if (inode !== undefined) {
    assert(inode.nlink > 0, () => `${action}: trashed inode ${inode!.ino} has nlink 0`);
    if (isDirectory) inode.parentIno = parentIno;
    setCtime(inode, args);
    changes.putInode(inode);
  }
  const dentry = Dentry.create({ parentIno, name, ino: original.ino, type });
  changes.putDentry(dentry);
  return changes.outcome(inode === undefined ? { dentry } : { dentry, inode });
}

export interface ExpireTrashArgs extends OperationTime {
  /** Entries removed at least this many seconds before now go. */
  readonly retentionSec: number;
  /** Trash records to look at, 1..recordsScannedPerPageMax. */
  readonly limit: number;
}

export interface ExpireTrashResult {
  readonly expired: TrashEntry[];
  /** Inodes held here after losing the entry's link (nlink 0: queued for freeing). */
  readonly inodes: Inode[];
  /** The page was full of old entries: run again. */
  readonly more: boolean;
}

/**
 * Drops the trash entries removed at least retentionSec ago, oldest hour first: each
 * entry's link goes as unlink or rmdir would have dropped it (nlink 0: an `F` record).
 */
export function expireTrash(engine: KvEngine, args: ExpireTrashArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<ExpireTrashResult> {
  const action = 'expire trash';
  validateRecordTime(action, args);
  if (!Number.isSafeInteger(args.retentionSec) || args.retentionSec < 0) invalid(action, `retentionSec must be a non-negative safe integer: ${args.retentionSec}`);
  validateLimit(action, args.limit, limits.recordsScannedPerPageMax);
  const changes = new Changes(engine);
  const records = engine.scan({ prefix: trashPrefixAll, limit: args.limit });
  const expired: TrashEntry[] = [];
  const inodes: Inode[] = [];
  let reachedYoung = false;
  for (const record of records) {
    const entry = trashEntry(record.key, record.value);
    // Every entry of this hour and later ones was removed too recently.
    if (entry.hour * secondsPerHour + args.retentionSec > args.nowSec) {
      reachedYoung = true;
      break;
    }
    if (entry.deletedSec + args.retentionSec > args.nowSec) continue;
    changes.delete(record.key);
    expired.push(entry);
    const inode = changes.inode(entry.ino);
    if (inode === undefined) {
      // Its partition drops the link when the `K` record reaches it (link-drops.ts).
      queueLinkDrop(changes, entry.ino, args);
      continue;
    }
    if (inode.type === InodeType.INODE_DIRECTORY) {
      assert(!changes.directoryHasEntries(inode.ino), () => `${action}: trashed directory ${inode.ino} has entries`);
    }
    inodes.push(dropLink(changes, inode, args));
  }
  return changes.outcome({ expired, inodes, more: !reachedYoung && records.length === args.limit });
}
