// The bytes of one simulated file, as the page cache holds them and as the device holds
// them. Files are mostly appended to and truncated, so the durable content is the current
// content up to `divergeAt`, followed by the bytes a truncate cut off before they were
// synced (`durableBeyondDivergence`). That keeps a sync O(1) instead of a copy. An
// in-place write below `divergeAt` first saves the durable bytes of each page it touches
// (`overwrittenPages`); a crash then keeps the new or the old content of each such page,
// independently, as page writeback in any order would.
import { assert } from '../errors/index.js';
import type { Random } from '../random/index.js';

/** Writeback happens in pages; a reordered crash loses whole pages of the unsynced tail. */
export const simulatedPageBytes = 4096;

export interface ContentCrashOptions {
  /**
   * false: a random prefix of the unsynced tail survives (appends reach the device in
   * order). true: in addition each page of the surviving tail may read back as zeros,
   * as when the file size reached the device but some data pages never did.
   */
  readonly reorderWriteback: boolean;
}

export class SimulatedFileContent {
  private buffer = new Uint8Array(0);
  private currentLength = 0;
  private durableLength = 0;
  /** current[0, divergeAt) equals durable[0, divergeAt); divergeAt <= durableLength. */
  private divergeAt = 0;
  /** durable[divergeAt, durableLength) when a truncate cut into synced data; else empty. */
  private durableBeyondDivergence = new Uint8Array(0);
  /** Page index -> durable bytes of that page below divergeAt, for pages written in place since the last sync. */
  private overwrittenPages = new Map<number, Uint8Array>();

  get length(): number {
    return this.currentLength;
  }

  /** Bytes that a sync has not made durable yet (appended or cut). */
  get unsynced(): boolean {
    return this.divergeAt !== this.currentLength || this.durableLength !== this.currentLength || this.overwrittenPages.size > 0;
  }

  read(position: number, length: number): Uint8Array {
    const end = Math.min(this.currentLength, position + length);
    if (position >= end) return new Uint8Array(0);
    return this.buffer.slice(position, end);
  }

  append(bytes: Uint8Array): void {
    this.reserve(this.currentLength + bytes.byteLength);
    this.buffer.set(bytes, this.currentLength);
    this.currentLength += bytes.byteLength;
  }

  /** Overwrites bytes within the current length. */
  write(position: number, bytes: Uint8Array): void {
    const end = position + bytes.byteLength;
    assert(position >= 0 && end <= this.currentLength, () => `write simulated file: [${position}, ${end}) outside [0, ${this.currentLength})`);
    const durableEnd = Math.min(end, this.divergeAt);
    if (position < durableEnd) {
      const lastPage = Math.floor((durableEnd - 1) / simulatedPageBytes);
      for (let page = Math.floor(position / simulatedPageBytes); page <= lastPage; page++) {
        if (this.overwrittenPages.has(page)) continue;
        const pageStart = page * simulatedPageBytes;
        this.overwrittenPages.set(page, this.buffer.slice(pageStart, Math.min(pageStart + simulatedPageBytes, this.divergeAt)));
      }
    }
    this.buffer.set(bytes, position);
  }

  truncate(length: number): void {
    assert(length >= 0 && length <= this.currentLength, () => `truncate simulated file: ${length} outside [0, ${this.currentLength}]`);
    if (length < this.divergeAt) {
      // Remember the synced bytes being cut off: a crash before the next sync brings them back.
      const cut = this.durableRange(length, this.divergeAt);
      for (const [page, saved] of this.overwrittenPages) {
        const pageStart = page * simulatedPageBytes;
        if (pageStart >= length) this.overwrittenPages.delete(page);
        else if (pageStart + saved.byteLength > length) this.overwrittenPages.set(page, saved.slice(0, length - pageStart));
      }
      const beyond = new Uint8Array(cut.byteLength + this.durableBeyondDivergence.byteLength);
      beyond.set(cut, 0);
      beyond.set(this.durableBeyondDivergence, cut.byteLength);
      this.durableBeyondDivergence = beyond;
      this.divergeAt = length;
    }
    this.currentLength = length;
  }

  sync(): void {
    this.overwrittenPages.clear();
    this.durableLength = this.currentLength;
    this.divergeAt = this.currentLength;
    this.durableBeyondDivergence = new Uint8Array(0);
  }

  /** Flips every bit of one durable byte (in the current view too: both read the device). */
  corrupt(position: number): void {
    assert(position >= 0 && position < this.durableLength, () => `corrupt simulated file: ${position} outside the durable [0, ${this.durableLength})`);
    const saved = this.overwrittenPages.get(Math.floor(position / simulatedPageBytes));
    const inSaved = position - Math.floor(position / simulatedPageBytes) * simulatedPageBytes;
    if (position < this.divergeAt && saved !== undefined && inSaved < saved.byteLength) {
      saved[inSaved] = saved[inSaved]! ^ 0xff;
    } else if (position < this.divergeAt) {
      this.buffer[position] = this.buffer[position]! ^ 0xff;
    } else {
      const offset = position - this.divergeAt;
      this.durableBeyondDivergence[offset] = this.durableBeyondDivergence[offset]! ^ 0xff;
    }
  }

  /** What the device holds after power loss; afterwards current and durable agree. */
  crash(random: Random, options: ContentCrashOptions): void {
    // Pages written in place since the sync: each reached the device or did not.
    for (const page of [...this.overwrittenPages.keys()].sort((left, right) => left - right)) {
      if (random.nextInt(2) === 0) this.buffer.set(this.overwrittenPages.get(page)!, page * simulatedPageBytes);
    }
    this.overwrittenPages.clear();
    if (this.divergeAt < this.durableLength && random.nextInt(2) === 0) {
      // The truncate never reached the device: the synced content comes back whole.
      this.reserve(this.durableLength);
      this.buffer.set(this.durableBeyondDivergence, this.divergeAt);
      this.currentLength = this.durableLength;
    } else {
      // Appends since the sync reach the device in order up to a random point, which may
      // cut a record in half (a torn write).
      const unsyncedBytes = this.currentLength - this.divergeAt;
      const kept = random.nextInt(unsyncedBytes + 1);
      if (options.reorderWriteback) this.zeroRandomPages(this.divergeAt, this.divergeAt + kept, random);
      this.currentLength = this.divergeAt + kept;
    }
    this.sync();
  }

  /** The durable bytes [start, end), end <= divergeAt: the buffer with saved pages laid over it. */
  private durableRange(start: number, end: number): Uint8Array {
    const range = this.buffer.slice(start, end);
    for (const [page, saved] of this.overwrittenPages) {
      const pageStart = page * simulatedPageBytes;
      const from = Math.max(pageStart, start);
      const to = Math.min(pageStart + saved.byteLength, end);
      if (from < to) range.set(saved.subarray(from - pageStart, to - pageStart), from - start);
    }
    return range;
  }

  private zeroRandomPages(start: number, end: number, random: Random): void {
    for (let pageStart = start - (start % simulatedPageBytes); pageStart < end; pageStart += simulatedPageBytes) {
      if (random.nextInt(2) === 0) continue;
      // Bytes of the page that were synced before stay: sectors are written atomically.
      this.buffer.fill(0, Math.max(pageStart, start), Math.min(pageStart + simulatedPageBytes, end));
    }
  }

  private reserve(capacity: number): void {
    if (capacity <= this.buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(capacity, this.buffer.byteLength * 2, 256));
    grown.set(this.buffer.subarray(0, this.currentLength), 0);
    this.buffer = grown;
  }
}
