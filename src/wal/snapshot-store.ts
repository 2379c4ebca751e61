// Snapshots of every group of an instance, one file per snapshot in
// `<dir>/snapshots/<groupId>/<index>-<term>.snap` (both zero-padded to 16 decimal digits,
// so names sort by index). A snapshot becomes visible only whole: it is written to a
// temporary file, fdatasync'd, renamed, and the directory fsync'd.
//
// Loading takes the newest intact file. A damaged newer file is passed over only if an
// older intact one exists, and is reported in `skipped` (never silently). That is safe
// because of the order of operations: save() deletes the older files before it resolves,
// and the host writes the WAL's snapshot mark only after that. So an older file exists
// only when the crash came before the mark, while the WAL still holds every entry after
// the older snapshot. With no intact file at all, load() refuses with INTERNAL.
import type { Disk } from '../disk/index.js';
import { AtollError, StatusCode, assert, isAtollError } from '../errors/index.js';
import { buildSnapshotLimits } from './limits.js';
import type { SnapshotLimits } from './limits.js';
import { decodeSnapshotFile, encodeSnapshotFile, snapshotHeaderBytes } from './snapshot-file.js';
import type { StoredSnapshotMetadata } from './snapshot-file.js';

export interface LoadedSnapshot {
  readonly groupId: number;
  readonly metadata: StoredSnapshotMetadata;
  readonly data: Uint8Array;
  readonly path: string;
  /** Newer snapshot files that were damaged and passed over, with the reason. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

const snapshotNamePattern = /^(\d{16})-(\d{16})\.snap$/;
const temporarySuffix = '.tmp';

function snapshotName(index: number, term: number): string {
  return `${String(index).padStart(16, '0')}-${String(term).padStart(16, '0')}.snap`;
}

function parseSnapshotName(name: string): { index: number; term: number } | null {
  const match = snapshotNamePattern.exec(name);
  if (match === null) return null;
  return { index: Number(match[1]), term: Number(match[2]) };
}

function newestFirst(left: { index: number; term: number }, right: { index: number; term: number }): number {
  return right.index - left.index || right.term - left.term;
}

async function ignoreMissing(action: Promise<unknown>): Promise<void> {
  try {
    await action;
  } catch (error) {
    if (!isAtollError(error, StatusCode.NOT_FOUND)) throw error;
  }
}

export class SnapshotStore {
  private readonly limits: SnapshotLimits;
  private readonly snapshotsDirectory: string;

  constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    limits: Partial<SnapshotLimits> = {},
  ) {
    this.limits = buildSnapshotLimits(limits);
    this.snapshotsDirectory = `${dir.replace(/\/+$/, '')}/snapshots`;
  }

  /**
   * Writes a snapshot durably, then deletes the group's older ones. Resolves with its path.
   * Write the WAL's snapshot mark only after this resolves (see the header comment).
   */
  async save(groupId: number, metadata: StoredSnapshotMetadata, data: Uint8Array): Promise<string> {
    assert(Number.isSafeInteger(groupId) && groupId >= 0, () => `save snapshot: bad group id ${groupId}`);
    assert(Number.isSafeInteger(metadata.index) && metadata.index >= 0, () => `save snapshot: group ${groupId}: bad index ${metadata.index}`);
    assert(Number.isSafeInteger(metadata.term) && metadata.term >= 0, () => `save snapshot: group ${groupId}: bad term ${metadata.term}`);
    if (data.byteLength > this.limits.snapshotBytesMax) {
      throw new AtollError(StatusCode.TOO_LARGE, `save snapshot: group ${groupId}: ${data.byteLength} bytes of data, snapshotBytesMax is ${this.limits.snapshotBytesMax}`);
    }
    const { head, trailer } = encodeSnapshotFile(groupId, metadata, data);
    if (head.byteLength - snapshotHeaderBytes > this.limits.snapshotMetadataBytesMax) {
      throw new AtollError(StatusCode.TOO_LARGE, `save snapshot: group ${groupId}: metadata of ${head.byteLength - snapshotHeaderBytes} bytes, snapshotMetadataBytesMax is ${this.limits.snapshotMetadataBytesMax}`);
    }
    const groupDirectory = this.groupDirectory(groupId);
    await this.disk.makeDirectory(groupDirectory);
    // The directories themselves must survive a crash for the file in them to.
    await this.disk.syncDirectory(this.dir);
    await this.disk.syncDirectory(this.snapshotsDirectory);

    const existing = await this.snapshotFiles(groupDirectory);
    const newest = existing[0];
    assert(
      newest === undefined || newestFirst(newest, metadata) >= 0,
      () => `save snapshot: group ${groupId}: (${metadata.index}, ${metadata.term}) is older than the stored (${newest!.index}, ${newest!.term})`,
    );
    const name = snapshotName(metadata.index, metadata.term);
    const path = `${groupDirectory}/${name}`;
    const temporaryPath = `${path}${temporarySuffix}`;
    // A temporary file left by a crash would otherwise be appended to.
    await ignoreMissing(this.disk.remove(temporaryPath));
    const file = await this.disk.openForAppend(temporaryPath);
    try {
      await file.append(head);
      await file.append(data);
      await file.append(trailer);
      await file.sync();
    } finally {
      await file.close();
    }
    await this.disk.rename(temporaryPath, path);
    await this.disk.syncDirectory(groupDirectory);

    // Now durable: the older snapshots and stray temporary files can go.
    let removed = false;
    for (const entry of await this.disk.list(groupDirectory)) {
      if (entry === name) continue;
      if (entry.endsWith(temporarySuffix) || parseSnapshotName(entry) !== null) {
        await this.disk.remove(`${groupDirectory}/${entry}`);
        removed = true;
      }
    }
    if (removed) await this.disk.syncDirectory(groupDirectory);
    return path;
  }

  /** The group's newest intact snapshot, or null if it has none. */
  async load(groupId: number): Promise<LoadedSnapshot | null> {
    assert(Number.isSafeInteger(groupId) && groupId >= 0, () => `load snapshot: bad group id ${groupId}`);
    const groupDirectory = this.groupDirectory(groupId);
    let files: { name: string; index: number; term: number }[];
    try {
      files = await this.snapshotFiles(groupDirectory);
    } catch (error) {
      if (isAtollError(error, StatusCode.NOT_FOUND)) return null;
      throw error;
    }
    const skipped: { path: string; reason: string }[] = [];
    for (const { name, index, term } of files) {
      const path = `${groupDirectory}/${name}`;
      const checked = await this.check(path, groupId, index, term);
      if (typeof checked === 'string') {
        skipped.push({ path, reason: checked });
        continue;
      }
      return { groupId, metadata: checked.metadata, data: checked.data, path, skipped };
    }
    if (skipped.length > 0) {
      throw new AtollError(
        StatusCode.INTERNAL,
        `load snapshot: group ${groupId}: no intact snapshot: ${skipped.map((item) => `${item.path}: ${item.reason}`).join('; ')}`,
      );
    }
    return null;
  }

  /** Deletes every snapshot of a group (the group left this instance). */
  async remove(groupId: number): Promise<void> {
    const groupDirectory = this.groupDirectory(groupId);
    let names: string[];
    try {
      names = await this.disk.list(groupDirectory);
    } catch (error) {
      if (isAtollError(error, StatusCode.NOT_FOUND)) return;
      throw error;
    }
    for (const name of names) await this.disk.remove(`${groupDirectory}/${name}`);
    await this.disk.remove(groupDirectory);
    await this.disk.syncDirectory(this.snapshotsDirectory);
  }

  private groupDirectory(groupId: number): string {
    return `${this.snapshotsDirectory}/${groupId}`;
  }

  /** Snapshot files of a directory, newest first. */
  private async snapshotFiles(groupDirectory: string): Promise<{ name: string; index: number; term: number }[]> {
    const files: { name: string; index: number; term: number }[] = [];
    for (const name of await this.disk.list(groupDirectory)) {
      const parsed = parseSnapshotName(name);
      if (parsed !== null) files.push({ name, ...parsed });
    }
    return files.sort(newestFirst);
  }

  private async check(path: string, groupId: number, index: number, term: number): Promise<{ metadata: StoredSnapshotMetadata; data: Uint8Array } | string> {
    const file = await this.disk.openForRead(path);
    let bytes: Uint8Array;
    try {
      const size = await file.size();
      if (size > this.limits.snapshotBytesMax + this.limits.snapshotMetadataBytesMax) return `${size} bytes is beyond the snapshot limits`;
      bytes = await file.read(0, size);
    } finally {
      await file.close();
    }
    const decoded = decodeSnapshotFile(bytes);
    if (typeof decoded === 'string') return decoded;
    if (decoded.groupId !== groupId) return `the file belongs to group ${decoded.groupId}`;
    if (decoded.metadata.index !== index || decoded.metadata.term !== term) {
      return `the file holds (${decoded.metadata.index}, ${decoded.metadata.term}), its name says (${index}, ${term})`;
    }
    return { metadata: decoded.metadata, data: decoded.data };
  }
}
