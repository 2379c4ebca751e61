// Writes frames into a batch buffer as they are queued and hands the batch to the socket
// once per tick: many small calls cost one syscall, which is where most of the throughput
// comes from. Each frame's protobuf header is encoded in place (no buffer of its own,
// no copy); large payloads are not copied but passed to the socket beside the batch,
// under one cork so the kernel sees a single writev.
//
// The batch buffer is used like a slab: the part handed to the socket is never written
// again, the rest keeps taking frames until it is full, then a new one is allocated.
import type { Socket } from 'node:net';
import { frameHeaderBytes, sealFrame, writeFramePrefix, type FrameKind } from './frame.js';
import type { MessageCodec } from './method.js';

const batchBytesMin = 64 * 1024;
const emptyHeader = new Uint8Array(0);

export class FrameWriter {
  private batch: Buffer = Buffer.allocUnsafe(batchBytesMin);
  // Frames from batchStart to position are queued but not yet handed to the socket.
  private batchStart = 0;
  private position = 0;
  // Pieces queued before the current batch range, in order: earlier batch ranges and
  // large payloads.
  private segments: Uint8Array[] = [];
  // For a payload among the segments whose sender wants to know when it has left: its
  // index there and the callback (called from the socket write's callback).
  private sentCallbacks: Array<{ segment: number; onSent: () => void }> = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly coalesceFrameBytesMax: number,
  ) {}

  // Bytes accepted by the socket but not yet sent.
  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  // Queues a frame whose header is already encoded (handshakes, errors, cancels).
  enqueue(kind: FrameKind, method: number, requestId: number, deadlineMs: number, header: Uint8Array, payload: Uint8Array | null): void {
    if (this.closed) return;
    const offset = this.reserve(frameHeaderBytes + header.length, payload);
    this.batch.set(header, offset + frameHeaderBytes);
    this.finishFrame(offset, kind, method, requestId, deadlineMs, header.length, payload);
  }

  // Queues a frame, encoding `message` straight into the batch. `headerLength` is
  // codec.encodedSize(message), which the caller has computed (and range-checked) already.
  // `onSent`: called once the payload's bytes have left it (see ReplyWithPayload).
  enqueueMessage<T>(kind: FrameKind, method: number, requestId: number, deadlineMs: number, codec: MessageCodec<T>, message: T, headerLength: number, payload: Uint8Array | null, onSent?: () => void): void {
    if (this.closed) return;
    const offset = this.reserve(frameHeaderBytes + headerLength, payload);
    const end = codec.encodeInto(message, this.batch, offset + frameHeaderBytes);
    if (end !== offset + frameHeaderBytes + headerLength) throw new Error(`rpc: header codec wrote ${end - offset - frameHeaderBytes} bytes, measured ${headerLength}`);
    this.finishFrame(offset, kind, method, requestId, deadlineMs, headerLength, payload, onSent);
  }

  enqueueEmpty(kind: FrameKind, method: number, requestId: number): void {
    this.enqueue(kind, method, requestId, 0, emptyHeader, null);
  }

  close(): void {
    this.closed = true;
    this.segments = [];
    this.sentCallbacks = [];
    this.batchStart = this.position;
  }

  flush(): void {
    this.scheduled = false;
    if (this.closed || this.socket.destroyed) return;
    this.cutBatch();
    const segments = this.segments;
    if (segments.length === 0) return;
    this.segments = [];
    const callbacks = this.sentCallbacks;
    this.sentCallbacks = [];
    let next = 0;
    // A payload whose sender is told when it has left: its own write's callback tells it
    // (the socket is done with the bytes, or the write failed and dropped them).
    const write = (segment: Uint8Array, index: number): void => {
      const callback = callbacks[next];
      if (callback === undefined || callback.segment !== index) {
        this.socket.write(segment);
        return;
      }
      next += 1;
      this.socket.write(segment, () => callback.onSent());
    };
    if (segments.length === 1) {
      write(segments[0]!, 0);
      return;
    }
    this.socket.cork();
    segments.forEach(write);
    this.socket.uncork();
  }

  // Room for `bytes` of prefix and header (and a small payload) in the batch; returns
  // the offset where the frame starts.
  private reserve(bytes: number, payload: Uint8Array | null): number {
    const inline = payload !== null && payload.length <= this.coalesceFrameBytesMax ? payload.length : 0;
    const needed = bytes + inline;
    if (this.batch.length - this.position < needed) {
      this.cutBatch();
      this.batch = Buffer.allocUnsafe(Math.max(batchBytesMin, needed));
      this.batchStart = 0;
      this.position = 0;
    }
    const offset = this.position;
    this.position += needed;
    return offset;
  }

  private finishFrame(offset: number, kind: FrameKind, method: number, requestId: number, deadlineMs: number, headerLength: number, payload: Uint8Array | null, onSent?: () => void): void {
    const payloadLength = payload === null ? 0 : payload.length;
    writeFramePrefix(this.batch, offset, kind, method, requestId, deadlineMs, headerLength, payloadLength);
    sealFrame(this.batch, offset, headerLength);
    if (payloadLength > 0 && payloadLength <= this.coalesceFrameBytesMax) {
      this.batch.set(payload!, offset + frameHeaderBytes + headerLength);
      // Copied: the sender's memory is free at once.
      onSent?.();
    } else if (payloadLength > 0) {
      // Large payload: the batch so far, then the payload itself, uncopied.
      this.cutBatch();
      if (onSent !== undefined) this.sentCallbacks.push({ segment: this.segments.length, onSent });
      this.segments.push(payload!);
    } else {
      onSent?.();
    }
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushWriter, this);
    }
  }

  // Moves the queued part of the batch into the segment list.
  private cutBatch(): void {
    if (this.position > this.batchStart) {
      this.segments.push(this.batch.subarray(this.batchStart, this.position));
      this.batchStart = this.position;
    }
  }
}

function flushWriter(writer: FrameWriter): void {
  writer.flush();
}
