// The low-level data client: writes byte streams into extents of a volume's data
// partitions and reads, syncs and deletes them by extent key. Used by tests, the
// benchmark and the SDK; it knows nothing of files beyond the keys it returns.
import { crc32 } from '../checksum/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import type { MasterClient } from '../masterclient/index.js';
import { normalExtentIdFirst } from '../datanode/extent/limits.js';
import { DataNode, type ExtentRange } from '../proto/generated/datanode.js';
import type { VolumeView } from '../proto/generated/master.js';
import type { RpcClient } from '../rpc/index.js';
import { ExtentWriter, type AbandonedExtent, type ExtentKey } from './extent-writer.js';
import { buildDataClientLimits, type DataClientLimits } from './limits.js';
import { PartitionRouter, toAtollError } from '../masterclient/partition-router.js';

/** What deleteKeys needs of a key: a tiny extent's range too (its extent is shared). */
export type KeyToDelete = Pick<ExtentKey, 'partitionId' | 'extentId'> & Partial<Pick<ExtentKey, 'extentOffset' | 'size'>>;

export interface DataClientOptions {
  readonly rpc: RpcClient;
  readonly masterClient: MasterClient;
  readonly volume: string;
  readonly limits?: Partial<DataClientLimits>;
}

export class DataClient {
  readonly limits: DataClientLimits;
  readonly #rpc: RpcClient;
  readonly #router: PartitionRouter;
  /** Partitions that refused a small file lately, until when. */
  readonly #tinyExcluded = new Map<number, number>();

  constructor(options: DataClientOptions) {
    this.limits = buildDataClientLimits(options.limits);
    this.#rpc = options.rpc;
    this.#router = new PartitionRouter(options.masterClient, options.volume, 'data', this.limits);
  }

  view(): Promise<VolumeView> {
    return this.#router.view();
  }

  refreshView(): Promise<VolumeView> {
    return this.#router.refresh();
  }

  /** A writer of one stream of bytes starting at `fileOffset` of a file. */
  writer(fileOffset = 0): ExtentWriter {
    return new ExtentWriter(this.#rpc, this.#router, this.limits, fileOffset);
  }

  /** Writes all of `data` (one buffer or chunks); the keys of the bytes, in file order. */
  async write(data: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, fileOffset = 0): Promise<{ keys: ExtentKey[]; abandoned: AbandonedExtent[] }> {
    const writer = this.writer(fileOffset);
    if (data instanceof Uint8Array) await writer.write(data);
    else for await (const chunk of data) await writer.write(chunk);
    return writer.finish();
  }

  /**
   * Writes a whole small file: `bytes` of up to `limits.tinyFileBytesMax` (128 KiB) go as
   * one packet into a shared tiny extent of some partition, at a 4 KiB-aligned offset the
   * partition's leader picks, on every replica before the answer (as appends are). The
   * result is one key (`extentId` < 1024, `extentOffset` that offset) or none for an empty
   * file. When no partition takes it (tiny extents closed after a failure, replicas down)
   * or the file is larger, it is written like `write()`, into a normal extent; either way
   * the keys are ordinary keys for readFile/readKey/sync/deleteKeys. A failed attempt may
   * leave up to one file's bytes unreferenced in a tiny extent (never shown in a file).
   */
  async writeSmall(bytes: Uint8Array, fileOffset = 0): Promise<{ keys: ExtentKey[]; abandoned: AbandonedExtent[] }> {
    if (bytes.byteLength === 0) return { keys: [], abandoned: [] };
    if (bytes.byteLength <= this.limits.tinyFileBytesMax) {
      const placed = await this.#writeTiny(bytes);
      if (placed !== null) return { keys: [{ ...placed, size: bytes.byteLength, fileOffset }], abandoned: [] };
    }
    return this.write(bytes, fileOffset);
  }

  /** Where a small file landed, or null when no partition took it (tried a few). */
  async #writeTiny(bytes: Uint8Array): Promise<{ partitionId: number; extentId: number; extentOffset: number } | null> {
    const now = Date.now();
    for (const [partitionId, until] of this.#tinyExcluded) if (until <= now) this.#tinyExcluded.delete(partitionId);
    const candidates = (await this.#router.writablePartitions(new Set(this.#tinyExcluded.keys()))).slice(0, this.limits.tinyPartitionsTriedMax);
    const header = { extentId: 0, offset: 0, size: bytes.byteLength, crc32: crc32(bytes), forwarded: false, tiny: true };
    for (const partitionId of candidates) {
      try {
        // Not repeated inside one partition when delivered (it may have landed): the next
        // partition is tried instead.
        const { result } = await this.#router.call(partitionId, { idempotent: false }, (address) =>
          this.#rpc.call(address, DataNode.write, { ...header, partitionId }, { payload: bytes, deadlineMs: this.limits.callDeadlineMs }),
        );
        return { partitionId, extentId: result.extentId, extentOffset: result.extentOffset };
      } catch (caught) {
        const error = toAtollError(caught);
        if (!error.retryable && error.status !== StatusCode.NO_SPACE && error.status !== StatusCode.READ_ONLY) throw error;
        this.#tinyExcluded.set(partitionId, Date.now() + this.limits.tinyPartitionExcludeMs);
      }
    }
    return null;
  }

  /** `length` bytes from `offset` within one key's range. */
  async readKey(key: ExtentKey, offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > key.size) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `read [${offset}, ${offset + length}) of a key of ${key.size} bytes: out of range`);
    }
    if (length === 0) return new Uint8Array(0);
    // One call's answer is handed back as it came (no second buffer, no copy) when it is
    // a buffer of its own, as answers that spanned socket reads are; a small answer that
    // is a view of a larger socket read is copied, so that a caller keeping it does not
    // keep the whole read alive.
    if (length <= this.limits.readChunkBytes) {
      const payload = await this.#readChunk(key.partitionId, key.extentId, key.extentOffset + offset, length);
      return payload.buffer.byteLength <= 2 * payload.byteLength ? new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) : new Uint8Array(payload);
    }
    // Every byte of it is written below before it is returned (a failed chunk fails the read).
    const unfilled = Buffer.allocUnsafe(length);
    const result = new Uint8Array(unfilled.buffer, unfilled.byteOffset, length);
    const chunks: Array<{ at: number; size: number }> = [];
    for (let at = 0; at < length; at += this.limits.readChunkBytes) chunks.push({ at, size: Math.min(this.limits.readChunkBytes, length - at) });
    let next = 0;
    const worker = async (): Promise<void> => {
      // Bounded: each turn takes one chunk.
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        result.set(await this.#readChunk(key.partitionId, key.extentId, key.extentOffset + offset + chunk.at, chunk.size), chunk.at);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.limits.readWindow, chunks.length) }, worker));
    return result;
  }

  /** A file's bytes [offset, offset + length) from its keys; bytes no key covers read as zeros. */
  async readFile(keys: readonly ExtentKey[], offset: number, length: number): Promise<Uint8Array> {
    const end = offset + length;
    // One key holding the whole range (the usual case for a sequential reader): its bytes
    // are the answer, without a second buffer.
    const holder = length > 0 ? keys.find((key) => key.fileOffset <= offset && end <= key.fileOffset + key.size) : undefined;
    if (holder !== undefined) return this.readKey(holder, offset - holder.fileOffset, length);
    const result = new Uint8Array(length);
    await Promise.all(
      keys.map(async (key) => {
        const from = Math.max(offset, key.fileOffset);
        const to = Math.min(end, key.fileOffset + key.size);
        if (from >= to) return;
        result.set(await this.readKey(key, from - key.fileOffset, to - from), from - offset);
      }),
    );
    return result;
  }

  async #readChunk(partitionId: number, extentId: number, offset: number, size: number): Promise<Uint8Array> {
    const { result } = await this.#router.call(partitionId, { idempotent: true, otherReplicaOnChecksum: true }, async (address) => {
      const { response, payload } = await this.#rpc.callWithPayload(address, DataNode.read, { partitionId, extentId, offset, size, forRepair: false }, { deadlineMs: this.limits.callDeadlineMs });
      if (payload.byteLength !== size || crc32(payload) !== response.crc32) {
        throw new AtollError(StatusCode.CHECKSUM_MISMATCH, `read of extent ${extentId} [${offset}, ${offset + size}) from ${address}: ${payload.byteLength} bytes whose CRC does not match the answer's`);
      }
      return payload;
    });
    return result;
  }

  /** The fsync of the keys' extents: every replica makes what it acknowledged durable. */
  async sync(keys: readonly Pick<ExtentKey, 'partitionId' | 'extentId'>[]): Promise<void> {
    const extents = new Map<string, { partitionId: number; extentId: number }>();
    for (const key of keys) extents.set(`${key.partitionId}/${key.extentId}`, { partitionId: key.partitionId, extentId: key.extentId });
    await Promise.all(
      [...extents.values()].map(({ partitionId, extentId }) =>
        this.#router.call(partitionId, { idempotent: true }, (address) => this.#rpc.call(address, DataNode.sync, { partitionId, extentId, forwarded: false }, { deadlineMs: this.limits.callDeadlineMs })),
      ),
    );
  }

  /** Frees extents (whole normal extents; tiny ranges) of one partition; the bytes freed. */
  async deleteExtents(partitionId: number, ranges: readonly ExtentRange[]): Promise<number> {
    const { result } = await this.#router.call(partitionId, { idempotent: true }, (address) =>
      this.#rpc.call(address, DataNode.deleteExtents, { partitionId, extents: [...ranges], forwarded: false }, { deadlineMs: this.limits.callDeadlineMs }),
    );
    return result.freedBytes;
  }

  /**
   * Deletes the extents of keys (and abandoned extents), grouped per partition: a normal
   * extent whole, a tiny extent's key only its range (which needs `extentOffset` and `size`).
   */
  async deleteKeys(keys: readonly KeyToDelete[]): Promise<number> {
    const byPartition = new Map<number, { normal: Set<number>; tiny: ExtentRange[] }>();
    for (const key of keys) {
      const entry = byPartition.get(key.partitionId) ?? { normal: new Set<number>(), tiny: [] };
      if (key.extentId >= normalExtentIdFirst) entry.normal.add(key.extentId);
      else if (key.extentOffset === undefined || key.size === undefined || key.size === 0) {
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `delete key of tiny extent ${key.extentId} in data partition ${key.partitionId}: a tiny extent is shared, the key needs its extentOffset and size`);
      } else entry.tiny.push({ extentId: key.extentId, offset: key.extentOffset, size: key.size });
      byPartition.set(key.partitionId, entry);
    }
    let freed = 0;
    for (const [partitionId, { normal, tiny }] of byPartition) {
      freed += await this.deleteExtents(partitionId, [...[...normal].map((extentId) => ({ extentId, offset: 0, size: 0 })), ...tiny]);
    }
    return freed;
  }

  /** Overwrites bytes within an extent's size (through the partition's Raft group). */
  async overwrite(partitionId: number, extentId: number, offset: number, bytes: Uint8Array): Promise<void> {
    await this.#router.call(partitionId, { idempotent: true }, (address) =>
      this.#rpc.call(address, DataNode.overwrite, { partitionId, extentId, offset, size: bytes.byteLength, crc32: crc32(bytes) }, { payload: bytes, deadlineMs: this.limits.callDeadlineMs }),
    );
  }
}
