// The bytes of one simulated file, as the page cache holds them and as the device holds
// them. Files are only appended to and truncated, so the durable content is always the
// current content up to `divergeAt`, followed by the bytes a truncate cut off before they
// were synced (`durableBeyondDivergence`). That keeps a sync O(1) instead of a copy.
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

  get length(): number {
    return this.currentLength;
  }

  /** Bytes that a sync has not made durable yet (appended or cut). */
  get unsynced(): boolean {
    return this.divergeAt !== this.currentLength || this.durableLength !== this.currentLength;
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

  truncate(length: number): void {
    assert(length >= 0 && length <= this.currentLength, () => `truncate simulated file: ${length} outside [0, ${this.currentLength}]`);
    if (length < this.divergeAt) {
      // Remember the synced bytes being cut off: a crash before the next sync brings them back.
      const cut = this.buffer.slice(length, this.divergeAt);
      const beyond = new Uint8Array(cut.byteLength + this.durableBeyondDivergence.byteLength);
      beyond.set(cut, 0);
      beyond.set(this.durableBeyondDivergence, cut.byteLength);
      this.durableBeyondDivergence = beyond;
      this.divergeAt = length;
    }
    this.currentLength = length;
  }

  sync(): void {
    this.durableLength = this.currentLength;
    this.divergeAt = this.currentLength;
    this.durableBeyondDivergence = new Uint8Array(0);
  }

  /** Flips every bit of one durable byte (in the current view too: both read the device). */
  corrupt(position: number): void {
    assert(position >= 0 && position < this.durableLength, () => `corrupt simulated file: ${position} outside the durable [0, ${this.durableLength})`);
    if (position < this.divergeAt) {
      this.buffer[position] = this.buffer[position]! ^ 0xff;
    } else {
      const offset = position - this.divergeAt;
      this.durableBeyondDivergence[offset] = this.durableBeyondDivergence[offset]! ^ 0xff;
    }
  }

  /** What the device holds after power loss; afterwards current and durable agree. */
  crash(random: Random, options: ContentCrashOptions): void {
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
