// The data side of one open inode in this client, shared by every handle of it: the
// inode as last known (size, extent keys), the write-behind stream of appends, in-place
// overwrites, reads with read-ahead, truncate and sync.
//
// Writes past the stored end are buffered: up to `smallFileBytesMax` in memory, beyond
// that streamed through an ExtentWriter in 128 KiB packets; the keys are published to the
// metanode (AppendExtents) on flush: fsync, close, a read of the buffered range, a
// non-contiguous write, or the flush timer. A write over stored bytes overwrites them in
// place (through the data partition's Raft group); a write into a hole is stored at once.
// Every mutation of the file's data runs under one lock, in order.
import { AtollError, StatusCode, assert } from '../errors/index.js';
import { writerBufferBytesMax, type DataClient, type ExtentKey, type ExtentWriter } from '../dataclient/index.js';
import type { Inode } from '../proto/generated/metanode.js';
import { segmentsOf, storedEnd } from './extent-map.js';
import type { VolumeLimits } from './limits.js';
import type { BufferBudget } from './buffer-budget.js';

/** The metadata calls an open file makes (the Volume provides them). */
export interface FileMetadata {
  appendExtents(ino: number, keys: readonly ExtentKey[]): Promise<Inode>;
  truncate(ino: number, size: number): Promise<Inode>;
}

const overwritePieceBytes = 128 * 1024;
const overwritesInFlightMax = 4;
const appendKeysPerCall = 1024;
// Reads in order in a row that make a reader sequential (besides one at the file's start).
const sequentialReadsMin = 2;
// How far from the last read's end, in reads of its own size, a read is still in order.
const inOrderSlackReads = 4;

interface Window {
  readonly offset: number;
  /** Bytes taken from the budget for it. */
  readonly length: number;
  readonly bytes: Promise<Uint8Array>;
}

export class OpenFile {
  #inode: Inode;
  #refs = 0;
  #lock: Promise<unknown> = Promise.resolve();
  // The write-behind stream: bytes [streamStart, streamEnd) not yet published.
  #streamStart = -1;
  #streamEnd = -1;
  #head: Uint8Array[] = [];
  #headBytes = 0;
  #writer: ExtentWriter | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #flushError: AtollError | null = null;
  readonly #unsynced = new Map<string, { partitionId: number; extentId: number }>();
  /** Read-ahead windows, contiguous: the one being read first, then those fetched beyond it. */
  #windows: Window[] = [];
  #lastReadEnd = -1;
  /** Reads in a row that were in order (near the last one's end, or in a window). */
  #readsInOrder = 0;
  /** Budget bytes the write-behind stream holds (0 when there is no stream). */
  #streamBudgetBytes = 0;

  constructor(
    inode: Inode,
    private readonly data: DataClient,
    private readonly metadata: FileMetadata,
    private readonly limits: VolumeLimits,
    private readonly budget: BufferBudget,
  ) {
    this.#inode = inode;
  }

  get ino(): number {
    return this.#inode.ino;
  }

  /** The inode with the size this client sees (buffered appends included). */
  inode(): Inode {
    if (this.#streamEnd <= this.#inode.size) return this.#inode;
    return { ...this.#inode, size: this.#streamEnd };
  }

  /** A newer copy of the inode from the metanode (not while this client has unpublished data). */
  refresh(inode: Inode): void {
    if (this.#streamStart >= 0) return;
    if (inode.extents !== this.#inode.extents || inode.size !== this.#inode.size) this.#dropReadAhead();
    this.#inode = inode;
  }

  /**
   * Mode, owner, times and link count from a newer copy of the inode (a setattr's answer),
   * kept even while this client has unpublished data, whose size and extents stay ours.
   */
  refreshAttributes(inode: Inode): void {
    if (this.#streamStart < 0) return this.refresh(inode);
    this.#inode = { ...inode, size: this.#inode.size, extents: this.#inode.extents };
  }

  get size(): number {
    return Math.max(this.#inode.size, this.#streamEnd);
  }

  retain(): void {
    this.#refs += 1;
  }

  /** True when the last handle let go. */
  release(): boolean {
    assert(this.#refs > 0, 'open file released more often than retained');
    this.#refs -= 1;
    return this.#refs === 0;
  }

  write(bytes: Uint8Array, position: number): Promise<void> {
    if (!Number.isSafeInteger(position) || position < 0) return Promise.reject(new AtollError(StatusCode.INVALID_ARGUMENT, `write at ${position}: the position must be a non-negative integer`));
    if (bytes.byteLength === 0) return Promise.resolve();
    return this.#locked(() => this.#write(bytes, position));
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `read of ${length} bytes at ${position}: both must be non-negative integers`);
    }
    if (this.#streamStart >= 0 && position + length > this.#streamStart) await this.flush();
    this.#throwFlushError();
    const size = this.#inode.size;
    if (position >= size || length === 0) return new Uint8Array(0);
    const end = Math.min(size, position + length);
    // In order: where the last read ended or near it, within a few reads of its size (the
    // kernel sends a FUSE reader's read-ahead as several requests at once, which may
    // arrive out of order), or inside the windows already read ahead. Sequential: at the
    // start of the file, inside the windows, or the latest of sequentialReadsMin reads in
    // order. Before, one read within readAheadBytes of the last was enough: a random
    // reader landed there now and then and was sent readAheadWindows windows it never read.
    const slack = Math.min(this.limits.readAheadBytes, inOrderSlackReads * length);
    const near = this.#lastReadEnd >= 0 && Math.abs(position - this.#lastReadEnd) <= slack;
    const inWindow = this.#inWindow(position);
    this.#readsInOrder = near || inWindow ? this.#readsInOrder + 1 : 0;
    // A reader that jumped away has no use for its windows.
    if (!near && !inWindow) this.#dropReadAhead();
    const sequential = position === 0 || inWindow || this.#readsInOrder >= sequentialReadsMin;
    this.#lastReadEnd = near ? Math.max(end, this.#lastReadEnd) : end;
    if (!sequential || end - position >= this.limits.readDirectBytesMin) return this.data.readFile(this.#inode.extents, position, end - position);
    return this.#readAhead(position, end);
  }

  /** Publishes buffered appends (their keys reach the metanode). */
  flush(): Promise<void> {
    return this.#locked(() => this.#flushStream());
  }

  /** Flush, then every replica of every extent written since the last sync makes it durable. */
  sync(): Promise<void> {
    return this.#locked(async () => {
      await this.#flushStream();
      const extents = [...this.#unsynced.values()];
      this.#unsynced.clear();
      try {
        await this.data.sync(extents);
      } catch (error) {
        for (const extent of extents) this.#unsynced.set(`${extent.partitionId}/${extent.extentId}`, extent);
        throw error;
      }
    });
  }

  truncate(size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) return Promise.reject(new AtollError(StatusCode.INVALID_ARGUMENT, `truncate to ${size}: the size must be a non-negative integer`));
    return this.#locked(async () => {
      await this.#flushStream();
      this.#dropReadAhead();
      this.#inode = await this.metadata.truncate(this.#inode.ino, size);
    });
  }

  async #write(bytes: Uint8Array, position: number): Promise<void> {
    this.#throwFlushError();
    this.#dropReadAhead();
    const end = position + bytes.byteLength;
    if (this.#streamStart >= 0 && position === this.#streamEnd) return this.#append(bytes);
    if (this.#streamStart >= 0) await this.#flushStream();
    const stored = storedEnd(this.#inode.extents);
    const direct: Array<{ from: number; to: number }> = [];
    const overwrites: Array<() => Promise<void>> = [];
    for (const segment of segmentsOf(this.#inode.extents, position, end)) {
      const piece = bytes.subarray(segment.from - position, segment.to - position);
      if (segment.key !== null) {
        const key = segment.key;
        for (let at = 0; at < piece.byteLength; at += overwritePieceBytes) {
          const part = piece.subarray(at, Math.min(piece.byteLength, at + overwritePieceBytes));
          overwrites.push(() => this.data.overwrite(key.partitionId, key.extentId, key.extentOffset + (segment.from - key.fileOffset) + at, part));
        }
      } else if (segment.to === end && segment.from >= stored && this.#takeStreamBudget()) {
        this.#streamStart = segment.from;
        this.#streamEnd = segment.from;
        await this.#append(piece);
      } else {
        direct.push(segment);
      }
    }
    // A few overwrites in flight at once: each is a Raft entry of up to 128 KiB.
    let nextOverwrite = 0;
    const worker = async (): Promise<void> => {
      // Bounded: each turn takes one overwrite.
      while (nextOverwrite < overwrites.length) await overwrites[nextOverwrite++]!();
    };
    await Promise.all(Array.from({ length: Math.min(overwritesInFlightMax, overwrites.length) }, worker));
    for (const segment of direct) {
      const { keys } = await this.data.write(bytes.subarray(segment.from - position, segment.to - position), segment.from);
      await this.#publish(keys);
    }
  }

  async #append(bytes: Uint8Array): Promise<void> {
    if (this.#writer === null && this.#headBytes + bytes.byteLength <= this.limits.smallFileBytesMax) {
      // A copy: the caller's buffer may be reused (FUSE's is gone once the write is answered), and Buffer#slice would share it.
      this.#head.push(Uint8Array.prototype.slice.call(bytes));
      this.#headBytes += bytes.byteLength;
    } else {
      if (this.#writer === null) {
        // The stream outgrows its small-file buffer: its writer's packets need budget too.
        // Without it (many files written at once), the buffered head is published as a
        // small file and these bytes are written and published at once.
        const writerBytes = writerBufferBytesMax(this.data.limits);
        if (!this.budget.tryTake(writerBytes)) {
          const position = this.#streamEnd;
          await this.#flushStream();
          const { keys } = await this.data.write(bytes, position);
          await this.#publish(keys);
          return;
        }
        this.#streamBudgetBytes += writerBytes;
        this.#writer = this.data.writer(this.#streamStart);
        for (const chunk of this.#head) await this.#writer.write(chunk);
        this.#head = [];
        this.#headBytes = 0;
      }
      await this.#writer.write(bytes);
    }
    this.#streamEnd += bytes.byteLength;
    if (this.#flushTimer === null) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = null;
        // A failure here is kept and reported by the next call on the file.
        this.flush().catch((error: unknown) => {
          this.#flushError = error instanceof AtollError ? error : new AtollError(StatusCode.INTERNAL, String(error));
        });
      }, this.limits.writeBehindFlushMs);
      this.#flushTimer.unref();
    }
  }

  async #flushStream(): Promise<void> {
    if (this.#flushTimer !== null) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    if (this.#streamStart < 0) return;
    const start = this.#streamStart;
    let keys: ExtentKey[];
    if (this.#writer === null) {
      // Up to smallFileBytesMax: one packet to a shared tiny extent (or a normal extent when no partition takes it).
      keys = (await this.data.writeSmall(Buffer.concat(this.#head), start)).keys;
    } else {
      keys = (await this.#writer.finish()).keys;
    }
    this.#writer = null;
    this.#head = [];
    this.#headBytes = 0;
    this.#streamStart = -1;
    this.#streamEnd = -1;
    this.budget.give(this.#streamBudgetBytes);
    this.#streamBudgetBytes = 0;
    await this.#publish(keys);
  }

  /** A stream starts with its small-file buffer; once it outgrows it, its writer's packets are taken too (#append). */
  #takeStreamBudget(): boolean {
    const bytes = this.limits.smallFileBytesMax;
    if (!this.budget.tryTake(bytes)) return false;
    this.#streamBudgetBytes = bytes;
    return true;
  }

  async #publish(keys: readonly ExtentKey[]): Promise<void> {
    for (let at = 0; at < keys.length; at += appendKeysPerCall) {
      const part = keys.slice(at, at + appendKeysPerCall);
      this.#inode = await this.metadata.appendExtents(this.#inode.ino, part);
      for (const key of part) this.#unsynced.set(`${key.partitionId}/${key.extentId}`, { partitionId: key.partitionId, extentId: key.extentId });
    }
  }

  async #readAhead(position: number, end: number): Promise<Uint8Array> {
    const windowBytes = this.limits.readAheadBytes;
    const size = this.#inode.size;
    const extents = this.#inode.extents;
    const fetch = (offset: number): Window | null => {
      const length = Math.min(windowBytes, size - offset);
      if (!this.budget.tryTake(length)) return null;
      const bytes = this.data.readFile(extents, offset, length);
      bytes.catch(() => undefined);
      return { offset, length, bytes };
    };
    // Windows wholly behind the reader are done with; a reader before the first window (a
    // jump back) starts again where it is.
    // Bounded: each turn removes a window.
    while (this.#windows.length > 0 && position >= this.#windows[0]!.offset + windowBytes) this.#giveWindow(this.#windows.shift()!);
    if (this.#windows.length > 0 && position < this.#windows[0]!.offset) this.#dropReadAhead();
    if (this.#windows.length === 0) {
      const first = fetch(position);
      // The budget is spent (many files read at once): read just what was asked.
      if (first === null) return this.data.readFile(extents, position, end - position);
      this.#windows.push(first);
    }
    // Keeps readAheadWindows windows on their way beyond the one being read, so the
    // datanodes always have the next reads in hand.
    // Bounded: at most readAheadWindows turns.
    while (this.#windows.length <= this.limits.readAheadWindows) {
      const next = this.#windows[this.#windows.length - 1]!.offset + windowBytes;
      const window = next < size ? fetch(next) : null;
      if (window === null) break;
      this.#windows.push(window);
    }
    const window = this.#windows[0]!;
    let bytes: Uint8Array;
    try {
      bytes = await window.bytes;
    } catch (error) {
      this.#dropReadAhead();
      throw error;
    }
    const from = position - window.offset;
    const to = Math.min(end - window.offset, bytes.byteLength);
    if (position + (to - from) >= end) return bytes.subarray(from, to);
    // The read crosses into the next window.
    const rest = await this.#readAhead(window.offset + bytes.byteLength, end);
    return Buffer.concat([bytes.subarray(from, to), rest]);
  }

  #inWindow(position: number): boolean {
    return this.#windows.some((window) => position >= window.offset && position < window.offset + window.length);
  }

  #dropReadAhead(): void {
    for (const window of this.#windows) this.#giveWindow(window);
    this.#windows = [];
  }

  #giveWindow(window: Window | null): void {
    if (window !== null) this.budget.give(window.length);
  }

  /** Lets go of the buffers (the last handle closed, after its flush). */
  dispose(): void {
    this.#dropReadAhead();
    this.budget.give(this.#streamBudgetBytes);
    this.#streamBudgetBytes = 0;
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
  }

  #throwFlushError(): void {
    const error = this.#flushError;
    if (error === null) return;
    this.#flushError = null;
    throw error;
  }

  #locked<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(step, step);
    this.#lock = run.catch(() => undefined);
    return run;
  }
}
