// The low-level data client: writes byte streams into extents of a volume's data
// partitions and reads, syncs and deletes them by extent key. Used by tests, the
// benchmark and the SDK; it knows nothing of files beyond the keys it returns.
import { crc32 } from '../checksum/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import type { MasterClient } from '../masterclient/index.js';
import { DataNode, type ExtentRange } from '../proto/generated/datanode.js';
import type { VolumeView } from '../proto/generated/master.js';
import type { RpcClient } from '../rpc/index.js';
import { ExtentWriter, type AbandonedExtent, type ExtentKey } from './extent-writer.js';
import { buildDataClientLimits, type DataClientLimits } from './limits.js';
import { PartitionRouter } from '../masterclient/partition-router.js';

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

  /** `length` bytes from `offset` within one key's range. */
  async readKey(key: ExtentKey, offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > key.size) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `read [${offset}, ${offset + length}) of a key of ${key.size} bytes: out of range`);
    }
    const result = new Uint8Array(length);
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
    const result = new Uint8Array(length);
    const end = offset + length;
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

  /** Deletes the extents of keys (and abandoned extents), grouped per partition. */
  async deleteKeys(keys: readonly Pick<ExtentKey, 'partitionId' | 'extentId'>[]): Promise<number> {
    const byPartition = new Map<number, Set<number>>();
    for (const key of keys) {
      const set = byPartition.get(key.partitionId) ?? new Set<number>();
      set.add(key.extentId);
      byPartition.set(key.partitionId, set);
    }
    let freed = 0;
    for (const [partitionId, extentIds] of byPartition) freed += await this.deleteExtents(partitionId, [...extentIds].map((extentId) => ({ extentId, offset: 0, size: 0 })));
    return freed;
  }

  /** Overwrites bytes within an extent's size (through the partition's Raft group). */
  async overwrite(partitionId: number, extentId: number, offset: number, bytes: Uint8Array): Promise<void> {
    await this.#router.call(partitionId, { idempotent: true }, (address) =>
      this.#rpc.call(address, DataNode.overwrite, { partitionId, extentId, offset, size: bytes.byteLength, crc32: crc32(bytes) }, { payload: bytes, deadlineMs: this.limits.callDeadlineMs }),
    );
  }
}
