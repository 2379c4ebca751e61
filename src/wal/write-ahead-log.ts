// The write-ahead log of one server instance, shared by all its Raft groups. Records are
// buffered by the append methods and made durable by sync(), which writes everything
// buffered, from any number of groups, with one write and one fdatasync (group commit).
// design.md describes the format, the recovery rules and compaction.
import type { Disk, DiskFile } from '../disk/index.js';
import { AtollError, StatusCode, assert, isAtollError } from '../errors/index.js';
import type { Entry, HardState } from '../raft/index.js';
import { CompactionLedger, LedgerSegment } from './compaction-ledger.js';
import { RecordType } from './format.js';
import { FrameBuilder } from './frame-builder.js';
import type { RecordNote, SealedFrame } from './frame-builder.js';
import { buildWalLimits } from './limits.js';
import type { WalLimits } from './limits.js';
import { LogReplay } from './log-replay.js';
import type { RecoveredGroup } from './log-replay.js';
import { LogShape } from './log-shape.js';
import {
  encodeEntryRecord,
  encodeGroupRemovedRecord,
  encodeHardStateRecord,
  encodeSnapshotMarkRecord,
  entryRecordBytes,
  fixedRecordBytes,
} from './record.js';
import type { WalRecord } from './record.js';
import { readSegment } from './segment-reader.js';
import { parseSegmentName, segmentName } from './segment-name.js';

export interface WalStats {
  /** fdatasyncs of segment files (one per frame written). */
  readonly syncs: number;
  readonly framesWritten: number;
  readonly recordsWritten: number;
  readonly bytesWritten: number;
  /** Segment files that exist now. */
  readonly segments: number;
  readonly segmentsDeleted: number;
  readonly directorySyncs: number;
  /** Zeros written ahead of the frames (see WalLimits.preallocationBytes). */
  readonly bytesPreallocated: number;
  /** Hard states and snapshot marks written again so that an old segment could go. */
  readonly recordsRewritten: number;
  readonly bufferedBytes: number;
}

export interface WalRecoveryReport {
  readonly segments: number;
  readonly records: number;
  /** The torn tail cut off the last segment: where and why; null if there was none. */
  readonly tornTail: { readonly path: string; readonly offset: number; readonly reason: string } | null;
}

export interface WalOpenResult {
  readonly wal: WriteAheadLog;
  /** Every group with records that was not removed, by group id. */
  readonly recovered: Map<number, RecoveredGroup>;
  readonly report: WalRecoveryReport;
}

/** What the WAL keeps of a live group between syncs: enough to check and to rewrite. */
interface GroupState {
  readonly shape: LogShape;
  hardState: HardState | null;
  snapshotMarked: boolean;
}

function checkSafeInteger(value: number, what: string, minimum = 0): void {
  assert(Number.isSafeInteger(value) && value >= minimum, () => `write-ahead log: ${what} must be a safe integer >= ${minimum}: ${value}`);
}

function noteOf(record: WalRecord, sequence: number): RecordNote {
  switch (record.type) {
    case RecordType.Entry:
      return { type: record.type, groupId: record.groupId, index: record.entry.index, sequence, keepsEntriesAbove: false };
    case RecordType.HardState:
      return { type: record.type, groupId: record.groupId, index: record.hardState.commit, sequence, keepsEntriesAbove: false };
    case RecordType.SnapshotMark:
      return { type: record.type, groupId: record.groupId, index: record.index, sequence, keepsEntriesAbove: record.keepsEntriesAbove };
    case RecordType.GroupRemoved:
      return { type: record.type, groupId: record.groupId, index: 0, sequence, keepsEntriesAbove: false };
  }
}

async function readWholeFile(disk: Disk, path: string): Promise<Uint8Array> {
  const file = await disk.openForRead(path);
  try {
    return await file.read(0, await file.size());
  } finally {
    await file.close();
  }
}

function joinPath(directory: string, name: string): string {
  return directory.endsWith('/') ? `${directory}${name}` : `${directory}/${name}`;
}

export class WriteAheadLog {
  private readonly groups = new Map<number, GroupState>();
  private readonly builder: FrameBuilder;
  /** The flush in progress, if any. */
  private flushing: Promise<void> | null = null;
  /** A flush waiting for the current one, covering everything buffered meanwhile. */
  private queued: Promise<void> | null = null;
  /** Segment deletion after a flush; the next flush waits for it. */
  private compacting: Promise<void> = Promise.resolve();
  private compactionDue = false;
  private bytesSinceCompactionCheck = 0;
  private entryPins: number[] = [];
  private failure: AtollError | null = null;
  private closed = false;
  private counters = { syncs: 0, framesWritten: 0, recordsWritten: 0, bytesWritten: 0, segmentsDeleted: 0, directorySyncs: 0, recordsRewritten: 0, bytesPreallocated: 0 };

  private constructor(
    private readonly disk: Disk,
    private readonly directory: string,
    private readonly limits: WalLimits,
    private activeFile: DiskFile,
    /** Size of the active segment file: its frames (ledger bytes), then preallocated zeros. */
    private activeFileBytes: number,
    private readonly ledger: CompactionLedger,
    nextSequence: number,
  ) {
    this.builder = new FrameBuilder(limits.syncBatchBytesMax, nextSequence);
  }

  /**
   * Opens the log in `<dir>/wal`, creating it if needed, and recovers every group from
   * it. A torn tail of the last segment is cut off; damage anywhere else is refused
   * with an AtollError(INTERNAL) naming the file and offset.
   */
  static async open(disk: Disk, dir: string, options: Partial<WalLimits> = {}): Promise<WalOpenResult> {
    const limits = buildWalLimits(options);
    const directory = joinPath(dir, 'wal');
    await disk.makeDirectory(directory);
    await disk.syncDirectory(dir);
    const segments: { name: string; firstSequence: number }[] = [];
    for (const name of await disk.list(directory)) {
      const firstSequence = parseSegmentName(name);
      // Other names (an operator's notes, a copy in progress) are not the log's business.
      if (firstSequence !== null) segments.push({ name, firstSequence });
    }
    segments.sort((left, right) => left.firstSequence - right.firstSequence);

    const replay = new LogReplay();
    const ledger = new CompactionLedger();
    let nextSequence = segments[0]?.firstSequence ?? 0;
    let records = 0;
    let tornTail: WalRecoveryReport['tornTail'] = null;
    let lastFileBytes = 0;
    for (const [position, { name, firstSequence }] of segments.entries()) {
      const path = joinPath(directory, name);
      if (firstSequence !== nextSequence) {
        throw new AtollError(
          StatusCode.INTERNAL,
          `recover write-ahead log: ${path} starts at sequence ${firstSequence} but the segment before ends at ${nextSequence}: a segment is missing or damaged; refusing to go on`,
        );
      }
      const isLast = position === segments.length - 1;
      const bytes = await readWholeFile(disk, path);
      const content = readSegment(bytes, path, firstSequence, isLast);
      lastFileBytes = bytes.byteLength;
      const segment = new LedgerSegment(path, firstSequence);
      ledger.addSegment(segment);
      for (const frame of content.frames) {
        const where = (): string => `recover write-ahead log: ${path} frame at offset ${frame.offset}`;
        frame.records.forEach((record, index) => {
          replay.apply(record, where);
          ledger.noteDurable(noteOf(record, frame.header.firstSequence + index));
        });
        records += frame.records.length;
      }
      segment.bytes = content.intactBytes;
      nextSequence = content.endSequence;
      if (content.tornTail !== null) tornTail = { path, offset: content.intactBytes, reason: content.tornTail };
    }
    const recovered = replay.finish();

    let activeFile: DiskFile;
    if (segments.length === 0) {
      const segment = new LedgerSegment(joinPath(directory, segmentName(nextSequence)), nextSequence);
      activeFile = await disk.openForAppend(segment.path);
      await disk.syncDirectory(directory);
      ledger.addSegment(segment);
    } else {
      activeFile = await disk.openForAppend(ledger.activeSegment.path);
      if (tornTail !== null) {
        // Cut the torn tail and make the cut durable before anything is appended after it:
        // otherwise a crash could leave the damage in the middle of the log.
        // (In a preallocated segment this cuts the zeros after the damage too; the next
        // frame written preallocates again.)
        await activeFile.truncate(tornTail.offset);
        await activeFile.sync();
        lastFileBytes = tornTail.offset;
      }
    }
    const wal = new WriteAheadLog(disk, directory, limits, activeFile, segments.length === 0 ? 0 : lastFileBytes, ledger, nextSequence);
    for (const [groupId, group] of recovered) {
      wal.groups.set(groupId, { shape: LogShape.of(group.snapshot, group.entries), hardState: group.hardState, snapshotMarked: group.snapshot !== null });
    }
    wal.compactionDue = true;
    return { wal, recovered, report: { segments: Math.max(segments.length, 1), records, tornTail } };
  }

  /**
   * Buffers entries of one group, contiguous and in index order. An entry at an index the
   * group already has replaces it and everything after it (Raft's conflict rule); entries
   * at or below the group's snapshot mark are ignored. The bytes are copied at once.
   */
  appendEntries(groupId: number, entries: readonly Entry[]): void {
    this.checkWritable(groupId);
    if (entries.length === 0) return;
    let bytes = 0;
    for (let position = 0; position < entries.length; position++) {
      const entry = entries[position]!;
      checkSafeInteger(entry.index, 'entry index', 1);
      checkSafeInteger(entry.term, 'entry term');
      if (position > 0) {
        const previous = entries[position - 1]!;
        assert(entry.index === previous.index + 1, () => `append entries: group ${groupId}: index ${entry.index} follows ${previous.index}`);
        assert(entry.term >= previous.term, () => `append entries: group ${groupId}: term ${entry.term} at ${entry.index} below ${previous.term}`);
      }
      const recordBytes = entryRecordBytes(entry);
      if (recordBytes > this.limits.recordBytesMax) {
        throw new AtollError(StatusCode.TOO_LARGE, `append entries: group ${groupId}: entry ${entry.index} needs ${recordBytes} bytes, recordBytesMax is ${this.limits.recordBytesMax}`);
      }
      bytes += recordBytes;
    }
    this.checkBufferRoom(bytes);
    const state = this.groupState(groupId);
    // Checks for a gap before anything is buffered, so that a refused append leaves no trace.
    state.shape.append(entries);
    for (const entry of entries) {
      if (entry.index <= state.shape.snapshotIndex) continue;
      const offset = this.builder.reserve(entryRecordBytes(entry));
      const end = encodeEntryRecord(this.builder.buffer, offset, groupId, entry);
      this.builder.commit(end, RecordType.Entry, groupId, entry.index);
    }
  }

  /** Buffers the group's hard state; at recovery the last one wins. */
  setHardState(groupId: number, hardState: HardState): void {
    this.checkWritable(groupId);
    checkSafeInteger(hardState.term, 'hard state term');
    checkSafeInteger(hardState.vote, 'hard state vote');
    checkSafeInteger(hardState.commit, 'hard state commit');
    this.checkBufferRoom(fixedRecordBytes(RecordType.HardState));
    this.groupState(groupId).hardState = hardState;
    this.bufferHardState(groupId, hardState);
  }

  /**
   * Buffers the group's snapshot point: entries at or below index are obsolete. If the
   * log holds (index, term) the entries above stay; otherwise the snapshot replaced the
   * whole log (installed from the leader) and they go too. The index never goes back.
   */
  markSnapshot(groupId: number, index: number, term: number): void {
    this.checkWritable(groupId);
    checkSafeInteger(index, 'snapshot index');
    checkSafeInteger(term, 'snapshot term');
    this.checkBufferRoom(fixedRecordBytes(RecordType.SnapshotMark));
    this.bufferSnapshotMark(groupId, this.groupState(groupId), index, term);
  }

  /** Buffers the removal of a group: recovery forgets everything of it written before. */
  removeGroup(groupId: number): void {
    this.checkWritable(groupId);
    this.checkBufferRoom(fixedRecordBytes(RecordType.GroupRemoved));
    this.groups.delete(groupId);
    const offset = this.builder.reserve(fixedRecordBytes(RecordType.GroupRemoved));
    const end = encodeGroupRemovedRecord(this.builder.buffer, offset, groupId);
    this.builder.commit(end, RecordType.GroupRemoved, groupId, 0);
  }

  /**
   * Makes everything buffered so far durable. Calls made while a flush is in flight share
   * the next one, so N callers from M groups cost one write and one fdatasync (more only
   * when the buffered bytes exceed syncBatchBytesMax or a segment fills up).
   * After a failed write or fdatasync the log is failed for good: what reached the disk
   * is unknown, so every later call fails too, and the instance must reopen the log.
   */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    assert(!this.closed, 'write-ahead log: sync after close');
    if (this.builder.isEmpty()) return this.flushing ?? Promise.resolve();
    if (this.queued !== null) return this.queued;
    if (this.flushing === null) return this.startFlush();
    const ignore = (): void => undefined;
    this.queued = this.flushing.then(ignore, ignore).then(() => {
      this.queued = null;
      return this.startFlush();
    });
    return this.queued;
  }

  /** Syncs what is buffered, waits for work in flight, closes the segment. Rejects if the log failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.failure === null && !this.builder.isEmpty()) await this.sync();
    } finally {
      const ignore = (): void => undefined;
      await this.flushing?.then(ignore, ignore);
      await this.compacting;
      this.closed = true;
      await this.activeFile.close();
    }
    if (this.failure !== null) throw this.failure;
  }

  stats(): WalStats {
    return { ...this.counters, segments: this.ledger.segments.length, bufferedBytes: this.builder.bufferedBytes };
  }

  /**
   * Groups whose live entries keep the oldest segment from being deleted (as of the last
   * compaction check): the host should snapshot them so that the log can shrink.
   */
  groupsHoldingOldestSegment(): number[] {
    return [...this.entryPins];
  }

  private startFlush(): Promise<void> {
    const flushing = this.flush();
    this.flushing = flushing;
    const clear = (): void => {
      if (this.flushing === flushing) this.flushing = null;
    };
    flushing.then(clear, clear);
    return flushing;
  }

  private async flush(): Promise<void> {
    await this.compacting;
    if (this.failure !== null) throw this.failure;
    const frames = this.builder.take();
    try {
      for (const frame of frames) await this.writeFrame(frame);
    } catch (error) {
      throw this.fail('write', error);
    }
    if (this.shouldCheckCompaction()) {
      this.compacting = this.compact().catch((error: unknown) => {
        this.fail('delete an obsolete segment', error);
      });
    }
  }

  private async writeFrame(frame: SealedFrame): Promise<void> {
    const frameBytes = frame.bytes.byteLength;
    const active = this.ledger.activeSegment;
    if (active.bytes > 0 && active.bytes + frameBytes > this.limits.segmentBytesMax) await this.rotate(frame.firstSequence);
    await this.writeInSegment(frame.bytes);
    this.ledger.activeSegment.bytes += frameBytes;
    await this.activeFile.sync();
    for (const note of frame.notes) {
      this.ledger.noteDurable(note);
      // A durable mark or removal can free old segments at once.
      if (note.type === RecordType.SnapshotMark || note.type === RecordType.GroupRemoved) this.compactionDue = true;
    }
    this.counters.syncs += 1;
    this.counters.framesWritten += 1;
    this.counters.recordsWritten += frame.notes.length;
    this.counters.bytesWritten += frameBytes;
    this.bytesSinceCompactionCheck += frameBytes;
  }

  /**
   * Writes a frame at the end of the active segment's frames: in place over preallocated
   * zeros where the file has them, appended beyond. A frame that reaches the end of the
   * file is followed by preallocationBytes of zeros (within segmentBytesMax), made durable
   * by the frame's own sync; the frames after it overwrite those zeros, so their fdatasync
   * does not have to commit a new file size. Recovery reads the zeros as the end of the log.
   */
  private async writeInSegment(frame: Uint8Array): Promise<void> {
    const offset = this.ledger.activeSegment.bytes;
    const end = offset + frame.byteLength;
    assert(offset <= this.activeFileBytes, () => `write-ahead log: frames end at ${offset}, past the file size ${this.activeFileBytes}`);
    const inPlace = Math.min(end, this.activeFileBytes) - offset;
    if (inPlace === frame.byteLength) return this.activeFile.write(offset, frame);
    if (inPlace > 0) await this.activeFile.write(offset, frame.subarray(0, inPlace));
    const rest = inPlace === 0 ? frame : frame.subarray(inPlace);
    const zeroBytes = Math.max(0, Math.min(this.limits.preallocationBytes, this.limits.segmentBytesMax - end));
    if (zeroBytes === 0) {
      await this.activeFile.append(rest);
    } else {
      // One write for the frame and the zeros after it: a sync still costs one write.
      const extended = new Uint8Array(rest.byteLength + zeroBytes);
      extended.set(rest, 0);
      await this.activeFile.append(extended);
      this.counters.bytesPreallocated += zeroBytes;
    }
    this.activeFileBytes = end + zeroBytes;
  }

  /** Starts a new segment. The full one was synced frame by frame, so it is complete. */
  private async rotate(firstSequence: number): Promise<void> {
    await this.activeFile.close();
    const segment = new LedgerSegment(joinPath(this.directory, segmentName(firstSequence)), firstSequence);
    this.activeFile = await this.disk.openForAppend(segment.path);
    this.activeFileBytes = 0;
    const size = await this.activeFile.size();
    if (size !== 0) throw new AtollError(StatusCode.INTERNAL, `rotate write-ahead log: new segment ${segment.path} already holds ${size} bytes`);
    // The new file's name must be durable before records in it are acknowledged.
    await this.disk.syncDirectory(this.directory);
    this.counters.directorySyncs += 1;
    this.ledger.addSegment(segment);
    this.compactionDue = true;
  }

  /**
   * Checking walks the oldest segment's groups, so it runs only when something may have
   * changed: a new segment, a durable mark or removal, or a sixteenth of a segment written
   * (hard states written since, including rewrites).
   */
  private shouldCheckCompaction(): boolean {
    if (this.ledger.segments.length < 2) return false;
    return this.compactionDue || this.bytesSinceCompactionCheck * 16 >= this.limits.segmentBytesMax;
  }

  private async compact(): Promise<void> {
    this.compactionDue = false;
    this.bytesSinceCompactionCheck = 0;
    for (;;) {
      const verdict = this.ledger.judgeOldest();
      this.entryPins = verdict.entryPins;
      if (!verdict.deletable) {
        this.rewritePins(verdict.hardStatePins, verdict.snapshotMarkPins);
        return;
      }
      const dropped = this.ledger.dropOldest();
      await this.disk.remove(dropped.path);
      // One segment at a time, each removal durable before the next: a crash can then
      // only leave a prefix of them undone, never a hole in the middle of the log.
      await this.disk.syncDirectory(this.directory);
      this.counters.directorySyncs += 1;
      this.counters.segmentsDeleted += 1;
    }
  }

  /**
   * An idle group's last hard state or snapshot mark may sit in the oldest segment while
   * everything else there is obsolete. Writing them again (with the next sync) moves them
   * forward so the segment can go.
   */
  private rewritePins(hardStatePins: readonly number[], snapshotMarkPins: readonly number[]): void {
    for (const groupId of hardStatePins) {
      const state = this.groups.get(groupId);
      // A group removed (or removed and created again) since: its pending removal frees the segment.
      if (state?.hardState == null) continue;
      this.bufferHardState(groupId, state.hardState);
      this.counters.recordsRewritten += 1;
      this.compactionDue = true;
    }
    for (const groupId of snapshotMarkPins) {
      const state = this.groups.get(groupId);
      if (state === undefined || !state.snapshotMarked) continue;
      this.bufferSnapshotMark(groupId, state, state.shape.snapshotIndex, state.shape.snapshotTerm);
      this.counters.recordsRewritten += 1;
    }
  }

  private bufferHardState(groupId: number, hardState: HardState): void {
    const offset = this.builder.reserve(fixedRecordBytes(RecordType.HardState));
    const end = encodeHardStateRecord(this.builder.buffer, offset, groupId, hardState);
    this.builder.commit(end, RecordType.HardState, groupId, hardState.commit);
  }

  private bufferSnapshotMark(groupId: number, state: GroupState, index: number, term: number): void {
    const keepsEntriesAbove = state.shape.markSnapshot(index, term);
    state.snapshotMarked = true;
    const offset = this.builder.reserve(fixedRecordBytes(RecordType.SnapshotMark));
    const end = encodeSnapshotMarkRecord(this.builder.buffer, offset, groupId, index, term, keepsEntriesAbove);
    this.builder.commit(end, RecordType.SnapshotMark, groupId, index, keepsEntriesAbove);
  }

  private groupState(groupId: number): GroupState {
    let state = this.groups.get(groupId);
    if (state === undefined) {
      state = { shape: new LogShape(), hardState: null, snapshotMarked: false };
      this.groups.set(groupId, state);
    }
    return state;
  }

  private checkWritable(groupId: number): void {
    assert(!this.closed, 'write-ahead log: append after close');
    if (this.failure !== null) throw this.failure;
    checkSafeInteger(groupId, 'group id');
  }

  private checkBufferRoom(bytes: number): void {
    const buffered = this.builder.bufferedBytes;
    if (buffered + bytes > this.limits.bufferedBytesMax) {
      throw new AtollError(StatusCode.OVERLOADED, `write-ahead log: ${buffered} bytes buffered, ${bytes} more would pass bufferedBytesMax ${this.limits.bufferedBytesMax}; sync() first`);
    }
  }

  private fail(action: string, cause: unknown): AtollError {
    if (this.failure === null) {
      const status = isAtollError(cause) && cause.status === StatusCode.NO_SPACE ? StatusCode.NO_SPACE : StatusCode.INTERNAL;
      const reason = cause instanceof Error ? cause.message : String(cause);
      this.failure = new AtollError(status, `write-ahead log failed to ${action}: ${reason}; reopen the log to recover what is durable`, { cause });
    }
    return this.failure;
  }
}
