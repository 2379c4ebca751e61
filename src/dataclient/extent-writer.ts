// One stream of file data into extents: packets of up to 128 KiB go to the extent's
// leader with a bounded window in flight. When a packet fails (a replica died, the leader
// moved, the disk filled), the extent is abandoned: the packets after the last one
// acknowledged in order are sent again on a new extent, possibly in another partition.
// The result is the extent keys of the bytes acknowledged, in file order.
//
// A packet's buffer is used again for a later packet once the packet is acknowledged:
// the answer means the datanode had every byte, so the socket holds none of them any
// more. A packet sent more than once is never used again (an earlier send that failed
// may still sit in a socket's queue). A new zero-filled 128 KiB buffer per packet cost
// the mount about 0.25 ms per MiB written in filling it and kept its garbage collector
// busy for about a third of its main thread.
import { crc32 } from '../checksum/index.js';
import { AtollError, StatusCode, assert } from '../errors/index.js';
import { DataNode } from '../proto/generated/datanode.js';
import type { RpcClient } from '../rpc/index.js';
import type { DataClientLimits } from './limits.js';
import { backoffMs, sleep, toAtollError, type PartitionRouter } from '../masterclient/partition-router.js';

/** Where a run of a file's bytes lives: `size` bytes at `extentOffset` of one extent. */
export interface ExtentKey {
  readonly partitionId: number;
  readonly extentId: number;
  readonly extentOffset: number;
  readonly size: number;
  readonly fileOffset: number;
}

export interface AbandonedExtent {
  readonly partitionId: number;
  readonly extentId: number;
  readonly reason: string;
}

interface Packet {
  readonly fileOffset: number;
  readonly bytes: Uint8Array;
  readonly crc: number;
  /** Times handed to the RPC client. */
  sends: number;
}

interface OpenExtent {
  readonly partitionId: number;
  readonly extentId: number;
  readonly address: string;
  nextOffset: number;
  key: { partitionId: number; extentId: number; extentOffset: number; size: number; fileOffset: number } | null;
}

interface Inflight {
  readonly packet: Packet;
  readonly extent: OpenExtent;
  readonly done: Promise<AtollError | null>;
}

/**
 * The most packet memory one writer holds: a window in flight, as many packets queued
 * behind it (write() sends them before it returns once the queue reaches the window), and
 * the packet being filled. What a caller budgets for a writer.
 */
export function writerBufferBytesMax(limits: DataClientLimits): number {
  return limits.packetBytes * (2 * limits.windowPackets + 1);
}

export class ExtentWriter {
  readonly #keys: ExtentKey[] = [];
  readonly #abandoned: AbandonedExtent[] = [];
  readonly #queue: Packet[] = [];
  #inflight: Inflight[] = [];
  #extent: OpenExtent | null = null;
  #partial: Uint8Array;
  #partialBytes = 0;
  /** Buffers of acknowledged packets, for the next packets (at most the writer's packets). */
  readonly #free: Uint8Array[] = [];
  #nextFileOffset: number;
  #failures = 0;
  #firstFailureAtMs: number | null = null;
  readonly #excluded = new Map<number, number>();
  #finished = false;

  constructor(
    private readonly rpc: RpcClient,
    private readonly router: PartitionRouter,
    private readonly limits: DataClientLimits,
    fileOffset = 0,
  ) {
    this.#nextFileOffset = fileOffset;
    this.#partial = newPacketBuffer(limits.packetBytes);
  }

  /** Packet buffers this writer has made (for tests: acknowledged ones are used again). */
  get buffersMade(): number {
    return this.#buffersMade;
  }

  #buffersMade = 1;

  /** Keys of what is acknowledged so far (also after a failure, for cleaning up). */
  keys(): ExtentKey[] {
    return this.#keys.map((key) => ({ ...key }));
  }

  /** Extents given up after a failure; their acknowledged part is in keys(). */
  abandoned(): AbandonedExtent[] {
    return [...this.#abandoned];
  }

  /** The extent packets go to now, if any. */
  currentExtent(): { partitionId: number; extentId: number; address: string } | null {
    const extent = this.#extent;
    return extent === null ? null : { partitionId: extent.partitionId, extentId: extent.extentId, address: extent.address };
  }

  /** Takes the bytes (copied); resolves when they are queued or in flight, not acknowledged. */
  async write(bytes: Uint8Array): Promise<void> {
    assert(!this.#finished, 'extent writer: write after finish');
    let position = 0;
    // Bounded: each turn fills the rest of one packet.
    while (position < bytes.byteLength) {
      const take = Math.min(this.limits.packetBytes - this.#partialBytes, bytes.byteLength - position);
      this.#partial.set(bytes.subarray(position, position + take), this.#partialBytes);
      this.#partialBytes += take;
      position += take;
      if (this.#partialBytes === this.limits.packetBytes) {
        this.#enqueuePartial();
        if (this.#queue.length >= this.limits.windowPackets) await this.#pump(false);
      }
    }
  }

  /** Sends what is left and waits for every acknowledgement; the keys of the data. */
  async finish(): Promise<{ keys: ExtentKey[]; abandoned: AbandonedExtent[] }> {
    assert(!this.#finished, 'extent writer: finished twice');
    if (this.#partialBytes > 0) this.#enqueuePartial();
    await this.#pump(true);
    this.#finished = true;
    return { keys: [...this.#keys], abandoned: [...this.#abandoned] };
  }

  #enqueuePartial(): void {
    const bytes = this.#partial.subarray(0, this.#partialBytes);
    this.#queue.push({ fileOffset: this.#nextFileOffset, bytes, crc: crc32(bytes), sends: 0 });
    this.#nextFileOffset += bytes.byteLength;
    const free = this.#free.pop();
    if (free === undefined) this.#buffersMade += 1;
    this.#partial = free ?? newPacketBuffer(this.limits.packetBytes);
    this.#partialBytes = 0;
  }

  async #pump(final: boolean): Promise<void> {
    // Bounded: every turn sends a packet, settles one, or opens an extent; failures are
    // capped by extentFailuresMax.
    for (let turn = 0; ; turn++) {
      assert(turn < 100_000_000, 'extent writer: pump loop without end');
      const head = this.#queue[0];
      if (head !== undefined && this.#inflight.length < this.limits.windowPackets) {
        const extent = this.#extent;
        if (extent === null || extent.nextOffset + head.bytes.byteLength > this.limits.extentBytesMax) {
          if (this.#inflight.length > 0) {
            await this.#settleOldest();
            continue;
          }
          await this.#openExtent();
          continue;
        }
        this.#queue.shift();
        this.#send(extent, head);
        continue;
      }
      if (this.#inflight.length === 0) return;
      if (!final && this.#queue.length === 0) return;
      await this.#settleOldest();
    }
  }

  #send(extent: OpenExtent, packet: Packet): void {
    const offset = extent.nextOffset;
    extent.nextOffset += packet.bytes.byteLength;
    packet.sends += 1;
    const done = this.rpc
      .call(
        extent.address,
        DataNode.write,
        { partitionId: extent.partitionId, extentId: extent.extentId, offset, size: packet.bytes.byteLength, crc32: packet.crc, forwarded: false, tiny: false },
        { payload: packet.bytes, deadlineMs: this.limits.callDeadlineMs },
      )
      .then(
        () => null,
        (error: unknown) => toAtollError(error),
      );
    this.#inflight.push({ packet, extent, done });
  }

  async #settleOldest(): Promise<void> {
    const oldest = this.#inflight[0]!;
    const error = await oldest.done;
    if (error === null) {
      this.#inflight.shift();
      const extent = oldest.extent;
      if (extent.key === null) {
        extent.key = { partitionId: extent.partitionId, extentId: extent.extentId, extentOffset: 0, size: 0, fileOffset: oldest.packet.fileOffset };
        this.#keys.push(extent.key);
      }
      assert(extent.key.fileOffset + extent.key.size === oldest.packet.fileOffset, 'extent writer: packets acknowledged out of file order');
      extent.key.size += oldest.packet.bytes.byteLength;
      // Its one send was answered: no socket holds its bytes, the buffer can take more.
      if (oldest.packet.sends === 1) this.#free.push(new Uint8Array(oldest.packet.bytes.buffer, oldest.packet.bytes.byteOffset, this.limits.packetBytes));
      return;
    }
    // This packet failed: nothing after it on this extent counts, even if acknowledged
    // (its bytes would follow a gap). They all go again, in order, on a new extent.
    await Promise.all(this.#inflight.map((inflight) => inflight.done));
    const extent = oldest.extent;
    this.#queue.unshift(...this.#inflight.map((inflight) => inflight.packet));
    this.#inflight = [];
    this.#extent = null;
    this.#abandoned.push({ partitionId: extent.partitionId, extentId: extent.extentId, reason: `${error.statusName}: ${error.message}` });
    this.#failures += 1;
    this.#firstFailureAtMs ??= Date.now();
    if (!error.retryable && error.status !== StatusCode.NO_SPACE && error.status !== StatusCode.READ_ONLY && error.status !== StatusCode.NOT_FOUND) throw error;
    // Gives up after extentFailuresMax failed extents that also took longer than the retry
    // time when the failure is retryable: a replica restarting fails every extent of its
    // partitions quickly for a while.
    // Full or read-only partitions give up on the count alone: waiting does not free space.
    const outOfTime = !error.retryable || Date.now() - this.#firstFailureAtMs > this.limits.retryTotalMs;
    if (this.#failures > this.limits.extentFailuresMax && outOfTime) {
      throw new AtollError(error.status, `write gave up after ${this.#failures} failed extents in ${Date.now() - this.#firstFailureAtMs} ms; last: ${error.message}`, { cause: error });
    }
    this.#excluded.set(extent.partitionId, Date.now() + this.limits.partitionExcludeMs);
    await sleep(backoffMs(this.limits, this.#failures));
  }

  async #openExtent(): Promise<void> {
    const now = Date.now();
    for (const [partitionId, until] of this.#excluded) if (until <= now) this.#excluded.delete(partitionId);
    let lastError: AtollError | null = null;
    // Rounds over the writable partitions until one takes the extent or the time budget
    // is spent: while every partition has a replica down (a datanode restarting), writes
    // wait for it, up to retryTotalMs, instead of failing at once.
    const started = Date.now();
    for (let round = 0; round === 0 || Date.now() - started < this.limits.retryTotalMs; round++) {
      if (round > 0) {
        await sleep(backoffMs(this.limits, round));
        await this.router.refresh().catch(() => undefined);
      }
      // After failures everywhere, excluded partitions get another chance.
      let candidates = await this.router.writablePartitions(new Set(this.#excluded.keys()));
      if (candidates.length === 0) candidates = await this.router.writablePartitions(new Set());
      for (const partitionId of candidates) {
        try {
          // Not repeated on failure inside one partition (a replica may be down there):
          // the next partition is tried instead.
          const { result, address } = await this.router.call(partitionId, { idempotent: false }, (target) =>
            this.rpc.call(target, DataNode.createExtent, { partitionId, tiny: false, extentId: 0, forwarded: false }, { deadlineMs: this.limits.callDeadlineMs }),
          );
          this.#extent = { partitionId, extentId: result.extentId, address, nextOffset: 0, key: null };
          return;
        } catch (caught) {
          lastError = toAtollError(caught);
          if (!lastError.retryable && lastError.status !== StatusCode.NO_SPACE && lastError.status !== StatusCode.READ_ONLY) throw lastError;
          this.#excluded.set(partitionId, Date.now() + this.limits.partitionExcludeMs);
        }
      }
    }
    throw lastError ?? new AtollError(StatusCode.NO_SPACE, `volume ${this.router.volume} has no writable data partition`);
  }
}

/** Uninitialized: only the bytes a packet was filled with are ever sent. */
function newPacketBuffer(bytes: number): Uint8Array {
  return Buffer.allocUnsafeSlow(bytes);
}
