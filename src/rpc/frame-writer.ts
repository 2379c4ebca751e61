// Queues outgoing frames and writes them once per tick: small frames are copied into one
// buffer (one syscall for many calls, which is where most of the throughput comes from),
// large payloads are handed to the socket as they are (no copy), all under one cork so
// the kernel sees a single writev.
import type { Socket } from 'node:net';
import { frameHeaderBytes, sealFrame, writeFramePrefix, type FrameKind } from './frame.js';

interface QueuedFrame {
  kind: FrameKind;
  method: number;
  requestId: number;
  deadlineMs: number;
  header: Uint8Array;
  payload: Uint8Array | null;
}

export class FrameWriter {
  private queue: QueuedFrame[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly coalesceFrameBytesMax: number,
  ) {}

  // Bytes accepted by the socket but not yet sent, plus what waits here.
  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  enqueue(kind: FrameKind, method: number, requestId: number, deadlineMs: number, header: Uint8Array, payload: Uint8Array | null): void {
    if (this.closed) return;
    this.queue.push({ kind, method, requestId, deadlineMs, header, payload: payload !== null && payload.length > 0 ? payload : null });
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushWriter, this);
    }
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }

  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0 || this.closed || this.socket.destroyed) return;
    this.queue = [];
    // Size of the coalesced part: every prefix and header, plus small payloads.
    let batchBytes = 0;
    for (const frame of queue) {
      batchBytes += frameHeaderBytes + frame.header.length;
      if (frame.payload !== null && frame.payload.length <= this.coalesceFrameBytesMax) batchBytes += frame.payload.length;
    }
    const socket = this.socket;
    const batch = Buffer.allocUnsafe(batchBytes);
    let position = 0;
    let batchStart = 0;
    let corked = false;
    for (const frame of queue) {
      const payloadLength = frame.payload === null ? 0 : frame.payload.length;
      writeFramePrefix(batch, position, frame.kind, frame.method, frame.requestId, frame.deadlineMs, frame.header.length, payloadLength);
      batch.set(frame.header, position + frameHeaderBytes);
      sealFrame(batch, position, frame.header.length);
      position += frameHeaderBytes + frame.header.length;
      if (frame.payload === null) continue;
      if (payloadLength <= this.coalesceFrameBytesMax) {
        batch.set(frame.payload, position);
        position += payloadLength;
        continue;
      }
      if (!corked) {
        socket.cork();
        corked = true;
      }
      socket.write(batch.subarray(batchStart, position));
      socket.write(frame.payload);
      batchStart = position;
    }
    if (position > batchStart) socket.write(batchStart === 0 ? batch : batch.subarray(batchStart, position));
    if (corked) socket.uncork();
  }
}

function flushWriter(writer: FrameWriter): void {
  writer.flush();
}
