// Buffers records into frames until the next sync. Records are encoded when they are
// appended (callers may reuse their buffers at once), straight into the frame that will
// be written, so a sync costs one copy-free write per frame. A frame sealed with room
// left behind it leaves that room to the next frame: a sealed frame's bytes are never
// written again, so the next one can lie after them in the same memory. One small frame
// per sync (a Raft cycle of one entry) then costs no allocation, where a fresh 64 KiB
// buffer per frame kept the garbage collector busy (a metanode following one create at a
// time spent about a fifth of its main thread collecting).
import { assert } from '../errors/index.js';
import { frameHeaderBytes } from './format.js';
import type { RecordType } from './format.js';
import { sealFrame } from './frame.js';

/** What compaction needs to know of a record once it is durable (see segment-usage.ts). */
export interface RecordNote {
  readonly type: RecordType;
  readonly groupId: number;
  readonly index: number;
  readonly sequence: number;
  readonly keepsEntriesAbove: boolean;
}

export interface SealedFrame {
  readonly bytes: Uint8Array;
  readonly firstSequence: number;
  readonly notes: readonly RecordNote[];
}

const initialFrameCapacityBytes = 64 * 1024;
/** Room left behind a sealed frame below which the next frame gets a fresh buffer. */
const reusedRoomBytesMin = 4 * 1024;

export class FrameBuilder {
  /** Where the caller encodes the record it reserved room for. */
  buffer: Uint8Array;
  private length = frameHeaderBytes;
  private firstSequence: number;
  private notes: RecordNote[] = [];
  private sealed: SealedFrame[] = [];
  private sealedBytes = 0;

  constructor(
    private readonly frameBytesMax: number,
    /** The sequence number the next record gets. Sequences count records from the log's start. */
    public nextSequence: number,
  ) {
    assert(Number.isSafeInteger(nextSequence) && nextSequence >= 0, () => `frame builder: bad sequence ${nextSequence}`);
    this.firstSequence = nextSequence;
    this.buffer = new Uint8Array(Math.min(initialFrameCapacityBytes, frameBytesMax));
  }

  /** Bytes buffered and not yet taken, frame headers included. */
  get bufferedBytes(): number {
    return this.sealedBytes + (this.notes.length === 0 ? 0 : this.length);
  }

  isEmpty(): boolean {
    return this.notes.length === 0 && this.sealed.length === 0;
  }

  /** Makes room for a record of recordBytes and returns the offset in `buffer` to encode it at. */
  reserve(recordBytes: number): number {
    assert(recordBytes + frameHeaderBytes <= this.frameBytesMax, () => `frame builder: record of ${recordBytes} bytes cannot fit a frame of ${this.frameBytesMax}`);
    if (this.notes.length > 0 && this.length + recordBytes > this.frameBytesMax) this.sealCurrent();
    const needed = this.length + recordBytes;
    if (needed > this.buffer.byteLength) {
      const grown = new Uint8Array(Math.min(this.frameBytesMax, Math.max(needed, this.buffer.byteLength * 2)));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    return this.length;
  }

  /** Records that the reserved record is encoded; returns its sequence number. */
  commit(end: number, type: RecordType, groupId: number, index: number, keepsEntriesAbove = false): number {
    assert(end > this.length && end <= this.buffer.byteLength, () => `frame builder: commit end ${end} outside the reserved room`);
    const sequence = this.nextSequence++;
    this.notes.push({ type, groupId, index, sequence, keepsEntriesAbove });
    this.length = end;
    return sequence;
  }

  /** Every frame buffered so far, sealed, oldest first; the builder starts empty again. */
  take(): SealedFrame[] {
    if (this.notes.length > 0) this.sealCurrent();
    const frames = this.sealed;
    this.sealed = [];
    this.sealedBytes = 0;
    return frames;
  }

  private sealCurrent(): void {
    assert(this.notes.length > 0, 'frame builder: sealing an empty frame');
    sealFrame(this.buffer, this.length, this.firstSequence, this.notes.length);
    this.sealed.push({ bytes: this.buffer.subarray(0, this.length), firstSequence: this.firstSequence, notes: this.notes });
    this.sealedBytes += this.length;
    const room = this.buffer.byteLength - this.length;
    this.buffer = room >= reusedRoomBytesMin ? this.buffer.subarray(this.length) : new Uint8Array(Math.min(initialFrameCapacityBytes, this.frameBytesMax));
    this.length = frameHeaderBytes;
    this.firstSequence = this.nextSequence;
    this.notes = [];
  }
}
