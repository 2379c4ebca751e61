// The local extent store of one data partition replica: extent files, their CRC tables
// and the partition's metadata in one directory (design.md). No networking and no
// replication here; the datanode's write path calls this after it has the packet.
import type { Disk, DiskFile } from '../../disk/index.js';
import { crc32, crc32Combine } from '../../checksum/index.js';
import { AtollError, StatusCode, assert } from '../../errors/index.js';
import {
  decodeBadBlockList,
  decodeCrcTable,
  decodeDeletionRecord,
  decodePartitionMeta,
  deletionRecordBytes,
  encodeBadBlockList,
  encodeCrcTable,
  encodeDeletionRecord,
  encodePartitionMeta,
} from './format.js';
import type { HolePuncher } from './hole-punch.js';
import { type ExtentLimits, extentLimitsDefault, normalExtentIdFirst } from './limits.js';

export const partitionMetaName = 'partition.meta';
export const deletionLogName = 'deleted-extents.log';
export const badBlockListName = 'bad-blocks.list';
export const extentFileName = (extentId: number): string => `${extentId}.extent`;
export const crcTableName = (extentId: number): string => `${extentId}.crc`;
const temporarySuffix = '.tmp';
const extentFilePattern = /^(\d+)\.(extent|crc)$/;

export interface ExtentInfo {
  readonly extentId: number;
  readonly size: number;
  readonly tiny: boolean;
}

export interface BadBlock {
  readonly extentId: number;
  readonly block: number;
}

export interface TinyLocation {
  readonly extentId: number;
  readonly offset: number;
}

export interface ExtentStoreOptions {
  /** Gives released tiny ranges back to the file system; without it they are zeroed. */
  readonly punchHole?: HolePuncher;
}

/** What open() found and repaired; the datanode logs it. */
export interface ExtentRecoveryReport {
  /** Unsynced tails cut back to the size the CRC table covers. */
  readonly trimmedTails: { readonly extentId: number; readonly fileBytes: number; readonly syncedBytes: number }[];
  /** Files of unfinished creates and deletes, and stale temporary files. */
  readonly removedFiles: string[];
}

interface ExtentState {
  readonly extentId: number;
  readonly tiny: boolean;
  readonly file: DiskFile;
  size: number;
  /** One CRC32 per block of `size` bytes. */
  readonly blockCrcs: number[];
  /** Tiny extents: bit per released page. Empty for normal extents. */
  readonly freedPages: Uint8Array;
  /** Bits set in freedPages: usedBytes runs on every packet's room check. */
  freedPageCount: number;
  readonly badBlocks: Set<number>;
  dataDirty: boolean;
  tableDirty: boolean;
}

/** One append waiting in a batch (see ExtentStore.append). */
interface AppendItem {
  readonly extentId: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly packetCrc: number | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface AppendBatch {
  bytes: number;
  readonly items: AppendItem[];
}

function refuse(status: StatusCode, message: string): never {
  throw new AtollError(status, message);
}

export class ExtentStore {
  private readonly extents = new Map<number, ExtentState>();
  /**
   * Every change runs alone, and reads run beside each other but never beside a change: a
   * read never sees half an overwrite (see design.md, "Concurrency"). `queue` is the last
   * change queued; `readers` are the reads started since then, which the next change waits for.
   */
  private queue: Promise<unknown> = Promise.resolve();
  private readers = new Set<Promise<unknown>>();
  /** Bad-block marks found by reads running side by side are written one after another. */
  private badBlockWrites: Promise<void> = Promise.resolve();
  private failure: AtollError | undefined;
  /** The batch of appends queued last, while later appends to its extent may join it. */
  private openAppends: AppendBatch | undefined;
  private closed = false;
  private nextTiny = 0;
  // The blocks an in-place write reads, checks and merges. Changes run one at a time
  // (serial), so one buffer of two blocks serves them: a new pair of 128 KiB buffers per
  // overwrite kept the garbage collector busy for about a quarter of a datanode's main thread.
  private inPlaceBlocks: Uint8Array | undefined;

  private constructor(
    private readonly disk: Disk,
    private readonly directory: string,
    private readonly limits: ExtentLimits,
    private readonly deletionLog: DiskFile,
    private readonly deleted: Set<number>,
    private nextExtentId: number,
    private extentIdReservedBelow: number,
    readonly recovery: ExtentRecoveryReport,
    private readonly options: ExtentStoreOptions,
  ) {}

  /** Opens (creating if needed) the partition directory and recovers it (design.md, "Recovery"). */
  static async open(disk: Disk, directory: string, limits: ExtentLimits = extentLimitsDefault, options: ExtentStoreOptions = {}): Promise<ExtentStore> {
    await disk.makeDirectory(directory);
    const names = await disk.list(directory);
    const report: ExtentRecoveryReport = { trimmedTails: [], removedFiles: [] };
    for (const name of names) {
      if (!name.endsWith(temporarySuffix)) continue;
      await disk.remove(`${directory}/${name}`);
      report.removedFiles.push(name);
    }

    let reservedBelow = normalExtentIdFirst;
    if (names.includes(partitionMetaName)) {
      const decoded = decodePartitionMeta(await readWhole(disk, `${directory}/${partitionMetaName}`));
      if (typeof decoded === 'string') refuse(StatusCode.INTERNAL, `open extent store ${directory}: ${partitionMetaName} is damaged: ${decoded}`);
      reservedBelow = decoded;
    }

    const deletionLog = await disk.openForAppend(`${directory}/${deletionLogName}`);
    const deleted = await recoverDeletionLog(deletionLog, directory);

    const states: ExtentState[] = [];
    const tableIds = new Set<number>();
    for (const name of names) {
      const match = extentFilePattern.exec(name);
      if (match === null || match[2] !== 'crc') continue;
      const extentId = Number(match[1]);
      tableIds.add(extentId);
      const extentPath = `${directory}/${extentFileName(extentId)}`;
      if (deleted.has(extentId)) {
        // A deletion that crashed half way: its record is durable, so finish it.
        await disk.remove(`${directory}/${name}`);
        report.removedFiles.push(name);
        if (names.includes(extentFileName(extentId))) {
          await disk.remove(extentPath);
          report.removedFiles.push(extentFileName(extentId));
        }
        continue;
      }
      const table = decodeCrcTable(await readWhole(disk, `${directory}/${name}`));
      if (typeof table === 'string') refuse(StatusCode.INTERNAL, `open extent store ${directory}: CRC table ${name} is damaged: ${table}`);
      if (table.extentId !== extentId || table.blockBytes !== limits.blockBytes) {
        refuse(StatusCode.INTERNAL, `open extent store ${directory}: CRC table ${name} holds extent ${table.extentId} in blocks of ${table.blockBytes} bytes, expected ${extentId} in ${limits.blockBytes}`);
      }
      const file = await disk.openForAppend(extentPath);
      const fileBytes = await file.size();
      if (fileBytes < table.size) {
        // Data is synced before its table is written, so only lost media can do this.
        refuse(StatusCode.INTERNAL, `open extent store ${directory}: ${extentFileName(extentId)} holds ${fileBytes} bytes, its CRC table covers ${table.size}`);
      }
      if (fileBytes > table.size) {
        // Bytes beyond the last synced size were never acknowledged as durable; their
        // CRCs were never persisted, so they are cut rather than trusted.
        await file.truncate(table.size);
        await file.sync();
        report.trimmedTails.push({ extentId, fileBytes, syncedBytes: table.size });
      }
      const freedPages = table.tiny ? new Uint8Array(freedBitmapBytes(limits)) : new Uint8Array(0);
      freedPages.set(table.freedPages.subarray(0, freedPages.byteLength));
      states.push({
        extentId,
        tiny: table.tiny,
        file,
        size: table.size,
        blockCrcs: [...table.blockCrcs],
        freedPages,
        freedPageCount: countBits(freedPages),
        badBlocks: new Set(),
        dataDirty: false,
        tableDirty: false,
      });
    }
    for (const name of names) {
      const match = extentFilePattern.exec(name);
      if (match === null || match[2] !== 'extent' || tableIds.has(Number(match[1]))) continue;
      // The table is written before the data file is created and removed before it, so a
      // data file alone is an unfinished create or delete: never acknowledged, or deleted.
      await disk.remove(`${directory}/${name}`);
      report.removedFiles.push(name);
    }

    let highestId = reservedBelow - 1;
    for (const state of states) highestId = Math.max(highestId, state.extentId);
    const store = new ExtentStore(disk, directory, limits, deletionLog, deleted, highestId + 1, reservedBelow, report, options);
    for (const state of states) store.extents.set(state.extentId, state);
    if (names.includes(badBlockListName)) {
      const entries = decodeBadBlockList(await readWhole(disk, `${directory}/${badBlockListName}`));
      if (typeof entries === 'string') refuse(StatusCode.INTERNAL, `open extent store ${directory}: ${badBlockListName} is damaged: ${entries}`);
      // Blocks of extents deleted since, or cut off with an unsynced tail, are gone.
      for (const { extentId, block } of entries) {
        const state = store.extents.get(extentId);
        if (state !== undefined && block * limits.blockBytes < state.size) state.badBlocks.add(block);
      }
    }
    for (let extentId = 1; extentId <= limits.tinyExtentCount; extentId++) {
      if (!store.extents.has(extentId)) await store.createDurable(extentId, true);
    }
    await disk.syncDirectory(directory);
    return store;
  }

  /**
   * A new normal extent, durable when this resolves. Ids are never reused. A follower
   * passes the id its leader chose (`extentId`); creating an existing extent again is a
   * no-op, a deleted one is refused with NOT_FOUND.
   */
  createExtent(extentId?: number): Promise<number> {
    return this.serial(async () => {
      if (extentId !== undefined) {
        if (!Number.isSafeInteger(extentId) || extentId < normalExtentIdFirst) refuse(StatusCode.INVALID_ARGUMENT, `create extent ${extentId}: normal extent ids start at ${normalExtentIdFirst}`);
        if (this.extents.has(extentId)) return extentId;
        if (this.deleted.has(extentId)) refuse(StatusCode.NOT_FOUND, `create extent ${extentId}: it was deleted in ${this.directory}`);
      }
      // The leader's id exactly, even below this store's own next id (which a reopen moves
      // up to the end of the reserved batch): creating the next id instead left the
      // follower without the extent its leader then appends to.
      const created = extentId ?? this.nextExtentId;
      if (created >= this.extentIdReservedBelow) {
        // Reserving ids in batches keeps creates cheap and still never hands out an id
        // twice: after a crash allocation resumes above everything reserved.
        const reservedBelow = created + this.limits.extentIdReserveCount;
        await this.writeAtomically(partitionMetaName, encodePartitionMeta(reservedBelow));
        this.extentIdReservedBelow = reservedBelow;
      }
      this.nextExtentId = Math.max(this.nextExtentId, created + 1);
      await this.createDurable(created, false);
      await this.disk.syncDirectory(this.directory);
      return created;
    });
  }

  /**
   * Repair: appends bytes copied from a replica at `offset` (the extent's size), tiny
   * extents included (their padding is copied as it is).
   */
  appendCopied(extentId: number, offset: number, bytes: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const state = this.extent('append copied bytes to', extentId);
      this.checkPacket('append copied bytes to', extentId, bytes);
      if (offset !== state.size) refuse(StatusCode.INVALID_ARGUMENT, `append copied bytes to extent ${extentId}: offset ${offset} is not the end: expected offset ${state.size}`);
      if (state.size + bytes.byteLength > this.limits.extentBytesMax) refuse(StatusCode.TOO_LARGE, `append copied bytes to extent ${extentId}: past extentBytesMax=${this.limits.extentBytesMax}`);
      await this.appendBytes(state, [bytes]);
    });
  }

  /**
   * Repair: replaces one whole block (its bytes up to the extent's size) with bytes copied
   * from a healthy replica, without checking the old bytes (they are what is bad), and
   * clears the block's bad mark. `expectedCrc` is the source's CRC of the block.
   */
  replaceBlock(extentId: number, block: number, bytes: Uint8Array, expectedCrc: number): Promise<void> {
    return this.serial(async () => {
      const state = this.extent('replace block of', extentId);
      const blockBytes = this.limits.blockBytes;
      const start = block * blockBytes;
      const end = Math.min(start + blockBytes, state.size);
      if (!Number.isSafeInteger(block) || block < 0 || start >= state.size) refuse(StatusCode.INVALID_ARGUMENT, `replace block ${block} of extent ${extentId}: outside the extent: size ${state.size}`);
      if (bytes.byteLength !== end - start) refuse(StatusCode.INVALID_ARGUMENT, `replace block ${block} of extent ${extentId}: ${bytes.byteLength} bytes given, the block holds ${end - start}`);
      const computed = crc32(bytes);
      if (computed !== expectedCrc) refuse(StatusCode.CHECKSUM_MISMATCH, `replace block ${block} of extent ${extentId}: copied bytes have CRC 0x${computed.toString(16)}, the source said 0x${expectedCrc.toString(16)}`);
      await state.file.write(start, bytes);
      if (state.tiny) await this.punchZeroPages(extentId, start, bytes);
      state.blockCrcs[block] = computed;
      state.dataDirty = true;
      state.tableDirty = true;
      if (state.badBlocks.delete(block)) {
        // The good bytes and their CRC are durable before the mark goes: a crash in
        // between finds the block marked and repairs it again.
        await this.syncNow();
        await this.writeBadBlocks();
      }
    });
  }

  /**
   * After repair copied a block of a tiny extent: runs of whole pages that are all zeros
   * are punched out of the file. A replica that missed a release (the leader's forward
   * failed) gets the released pages' zeros from repair, and without this would keep them
   * allocated for good. The bytes read the same either way; a page that is punched is not
   * counted as released (that count stays what deletions released here).
   */
  private async punchZeroPages(extentId: number, start: number, bytes: Uint8Array): Promise<void> {
    const punch = this.options.punchHole;
    if (punch === undefined) return;
    const page = this.limits.tinyAlignmentBytes;
    const path = `${this.directory}/${extentFileName(extentId)}`;
    let runStart = -1;
    // Bounded: one turn per whole page of the block, plus one to close the last run.
    for (let at = 0; at <= bytes.byteLength; at += page) {
      const whole = at + page <= bytes.byteLength && (start + at) % page === 0;
      const zero = whole && bytes.subarray(at, at + page).every((byte) => byte === 0);
      if (zero && runStart < 0) runStart = at;
      if (!zero && runStart >= 0) {
        // A failed punch leaves the zeros written: correct, only not given back.
        await punch(path, start + runStart, at - runStart);
        runStart = -1;
      }
    }
  }

  /** The CRC32 of each block of the extent, as kept in memory (what the next sync persists). */
  blockCrcs(extentId: number): readonly number[] {
    return this.extent('block CRCs of', extentId).blockCrcs;
  }

  /** Blocks of one extent that failed their CRC since open. */
  badBlocksOf(extentId: number): number[] {
    return [...this.extent('bad blocks of', extentId).badBlocks].sort((left, right) => left - right);
  }

  hasExtent(extentId: number): boolean {
    return this.extents.has(extentId);
  }

  deletedExtentIds(): number[] {
    return [...this.deleted].sort((left, right) => left - right);
  }

  /** Bytes the partition's extents hold, less released tiny pages. */
  usedBytes(): number {
    let used = 0;
    for (const state of this.extents.values()) used += state.size;
    for (let extentId = 1; extentId <= this.limits.tinyExtentCount; extentId++) if (this.extents.has(extentId)) used -= this.freedBytes(extentId);
    return Math.max(0, used);
  }

  /**
   * Appends one packet at `offset`, which must be the extent's size. Durable after sync().
   * `packetCrc`, when given, is the CRC32 of `bytes` the caller already checked (the
   * wire's): a packet that starts a block then needs no second pass for the block's CRC.
   * Appends queued back to back, with no other change or read queued between them, run
   * as one change: those to one extent reach its file in one write, the extents side by
   * side (design.md, "Concurrency"); each is still checked and answered on its own.
   */
  append(extentId: number, offset: number, bytes: Uint8Array, packetCrc?: number): Promise<void> {
    let batch = this.openAppends;
    if (batch === undefined || batch.bytes + bytes.byteLength > this.limits.appendBatchBytesMax) {
      const queued: AppendBatch = { bytes: 0, items: [] };
      // serial() closes the batch open before; this one stays open until it starts or
      // something else is queued.
      void this.serial(() => this.appendBatch(queued)).catch((error: unknown) => {
        // Refused as a whole (the store failed, the extent is gone): nothing joins it now.
        if (this.openAppends === queued) this.openAppends = undefined;
        for (const item of queued.items) item.reject(error);
      });
      this.openAppends = batch = queued;
    }
    batch.bytes += bytes.byteLength;
    const items = batch.items;
    return new Promise<void>((resolve, reject) => items.push({ extentId, offset, bytes, packetCrc, resolve, reject }));
  }

  /** `length` bytes from `offset`, after checking the CRC32 of every block they touch. */
  async read(extentId: number, offset: number, length: number): Promise<Uint8Array> {
    return (await this.readWithCrc(extentId, offset, length)).data;
  }

  /**
   * As `read`, with the CRC32 of the bytes returned. Whole blocks inside the range bring
   * the CRC they were just verified against, so only the partial blocks at its ends are
   * passed over again (crc32Combine joins the pieces). `buffer`, when given, provides the
   * memory the blocks are read into (at least the bytes asked for); the data is then a
   * view of it.
   */
  readWithCrc(extentId: number, offset: number, length: number, buffer?: (bytes: number) => Uint8Array): Promise<{ data: Uint8Array; crc32: number }> {
    return this.shared(async () => {
      const state = this.extent('read', extentId);
      checkRange('read', extentId, offset, length, state.size);
      if (length > this.limits.readBytesMax) refuse(StatusCode.TOO_LARGE, `read extent ${extentId}: ${length} bytes is over readBytesMax=${this.limits.readBytesMax}`);
      if (length === 0) return { data: new Uint8Array(0), crc32: 0 };
      const { start, data } = await this.readVerified('read', state, offset, offset + length, buffer);
      const blockBytes = this.limits.blockBytes;
      const end = offset + length;
      let crc = 0;
      // Bounded: one turn per block the range touches.
      for (let piece = offset; piece < end; ) {
        const block = Math.floor(piece / blockBytes);
        const pieceEnd = Math.min((block + 1) * blockBytes, end);
        const whole = piece === block * blockBytes && pieceEnd === Math.min((block + 1) * blockBytes, state.size);
        const pieceCrc = whole ? state.blockCrcs[block]! : crc32(data, piece - start, pieceEnd - start);
        crc = crc32Combine(crc, pieceCrc, pieceEnd - piece);
        piece = pieceEnd;
      }
      // The blocks were read into a buffer of their own: a view of it needs no copy.
      return { data: data.subarray(offset - start, offset - start + length), crc32: crc };
    });
  }

  /** Overwrites bytes within the extent's size and recomputes the CRCs of the blocks touched. */
  overwrite(extentId: number, offset: number, bytes: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const state = this.extent('overwrite', extentId);
      this.checkPacket('overwrite', extentId, bytes);
      checkRange('overwrite', extentId, offset, bytes.byteLength, state.size);
      if (bytes.byteLength === 0) return;
      await this.writeInPlace('overwrite', state, offset, bytes);
    });
  }

  /** Writes one small file into a tiny extent, at an offset aligned to tinyAlignmentBytes. */
  appendTiny(bytes: Uint8Array): Promise<TinyLocation> {
    return this.serial(async () => {
      this.checkTinyWrite('append tiny', bytes.byteLength);
      for (let tried = 0; tried < this.limits.tinyExtentCount; tried++) {
        const state = this.extents.get(1 + ((this.nextTiny + tried) % this.limits.tinyExtentCount))!;
        const offset = this.tinyEnd(state.size);
        if (offset + bytes.byteLength > this.limits.extentBytesMax) continue;
        // Spread small files over the tiny extents, so their appends do not all queue on one.
        this.nextTiny = (this.nextTiny + tried + 1) % this.limits.tinyExtentCount;
        await this.appendTinyBytes(state, offset, bytes);
        return { extentId: state.extentId, offset };
      }
      return refuse(StatusCode.NO_SPACE, `append tiny: ${bytes.byteLength} bytes fit in none of the ${this.limits.tinyExtentCount} tiny extents`);
    });
  }

  /**
   * Writes one small file into tiny extent `extentId` at `offset`, which must be the
   * extent's end rounded up to tinyAlignmentBytes (`tinyEnd(size)`): the leader of a
   * partition chooses the place and every replica writes there.
   */
  appendTinyAt(extentId: number, offset: number, bytes: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const action = `append tiny file to extent ${extentId}`;
      const state = this.extent(action, extentId);
      if (!state.tiny) refuse(StatusCode.INVALID_ARGUMENT, `${action}: not a tiny extent`);
      this.checkTinyWrite(action, bytes.byteLength);
      const expected = this.tinyEnd(state.size);
      if (offset !== expected) refuse(StatusCode.INVALID_ARGUMENT, `${action}: offset ${offset} is not the aligned end: expected offset ${expected}`);
      if (offset + bytes.byteLength > this.limits.extentBytesMax) refuse(StatusCode.NO_SPACE, `${action}: ${bytes.byteLength} bytes at ${offset} would pass extentBytesMax=${this.limits.extentBytesMax}`);
      await this.appendTinyBytes(state, offset, bytes);
    });
  }

  /** Where the next small file of a tiny extent of `size` bytes starts. */
  tinyEnd(size: number): number {
    const alignment = this.limits.tinyAlignmentBytes;
    return Math.ceil(size / alignment) * alignment;
  }

  private checkTinyWrite(action: string, bytes: number): void {
    if (bytes === 0) refuse(StatusCode.INVALID_ARGUMENT, `${action}: an empty file needs no extent`);
    if (bytes > this.limits.tinyWriteBytesMax) refuse(StatusCode.TOO_LARGE, `${action}: ${bytes} bytes is over tinyWriteBytesMax=${this.limits.tinyWriteBytesMax}`);
  }

  /** Padding up to `offset`, then the file, as one write. */
  private async appendTinyBytes(state: ExtentState, offset: number, bytes: Uint8Array): Promise<void> {
    if (offset === state.size) return this.appendBytes(state, [bytes]);
    const padded = new Uint8Array(offset - state.size + bytes.byteLength);
    padded.set(bytes, offset - state.size);
    await this.appendBytes(state, [padded]);
  }

  /**
   * Frees a small file's range of a tiny extent: the pages are marked free and punched
   * out of the file (zeroed in place where punching fails: see design.md). Returns the
   * bytes freed.
   */
  releaseTiny(extentId: number, offset: number, length: number): Promise<number> {
    return this.serial(async () => {
      const state = this.extent('release tiny', extentId);
      if (!state.tiny) refuse(StatusCode.INVALID_ARGUMENT, `release tiny range of extent ${extentId}: not a tiny extent; delete it instead`);
      const alignment = this.limits.tinyAlignmentBytes;
      if (offset % alignment !== 0) refuse(StatusCode.INVALID_ARGUMENT, `release tiny range of extent ${extentId}: offset ${offset} is not a multiple of ${alignment}`);
      if (length === 0) refuse(StatusCode.INVALID_ARGUMENT, `release tiny range of extent ${extentId}: empty range at ${offset}`);
      if (length > this.limits.packetBytesMax) refuse(StatusCode.TOO_LARGE, `release tiny range of extent ${extentId}: ${length} bytes is over packetBytesMax=${this.limits.packetBytesMax}`);
      checkRange('release tiny range of', extentId, offset, length, state.size);
      // The padding up to the next aligned offset belongs to this file: free it too.
      const end = Math.min(Math.ceil((offset + length) / alignment) * alignment, state.size);
      // A page whose end is the extent's end (a partial last page) stays allocated up to
      // there; a hole is only punched over whole pages.
      const holeEnd = Math.floor(end / alignment) * alignment;
      const punch = this.options.punchHole;
      const punchInstead =
        punch === undefined || holeEnd === offset
          ? undefined
          : async (): Promise<boolean> => {
              if (!(await punch(`${this.directory}/${extentFileName(extentId)}`, offset, holeEnd - offset))) return false;
              if (end > holeEnd) await state.file.write(holeEnd, new Uint8Array(end - holeEnd));
              return true;
            };
      await this.writeInPlace('release tiny range of', state, offset, new Uint8Array(end - offset), punchInstead);
      for (let page = offset / alignment; page * alignment < end; page++) {
        const mask = 1 << (page & 7);
        if ((state.freedPages[page >>> 3]! & mask) !== 0) continue;
        state.freedPages[page >>> 3] = state.freedPages[page >>> 3]! | mask;
        state.freedPageCount += 1;
      }
      return end - offset;
    });
  }

  /** Released bytes of a tiny extent (whole pages). */
  freedBytes(extentId: number): number {
    const state = this.extent('freed bytes of', extentId);
    return state.freedPageCount * this.limits.tinyAlignmentBytes;
  }

  /** Durably deletes a normal extent and removes its file. */
  deleteExtent(extentId: number): Promise<void> {
    return this.serial(async () => {
      const state = this.extent('delete', extentId);
      if (state.tiny) refuse(StatusCode.INVALID_ARGUMENT, `delete extent ${extentId}: a tiny extent is shared; release its ranges instead`);
      // The record first: a crash part way through is finished at open, and repair will
      // know the extent was deleted rather than never seen.
      await this.deletionLog.append(encodeDeletionRecord(extentId));
      await this.deletionLog.sync();
      this.deleted.add(extentId);
      this.extents.delete(extentId);
      if (state.badBlocks.size > 0) await this.writeBadBlocks();
      await state.file.close();
      await this.disk.remove(`${this.directory}/${crcTableName(extentId)}`);
      await this.disk.remove(`${this.directory}/${extentFileName(extentId)}`);
      await this.disk.syncDirectory(this.directory);
    });
  }

  /** One CRC32 covers this many bytes. */
  get blockBytes(): number {
    return this.limits.blockBytes;
  }

  size(extentId: number): number {
    return this.extent('size of', extentId).size;
  }

  isDeleted(extentId: number): boolean {
    return this.deleted.has(extentId);
  }

  list(): ExtentInfo[] {
    return [...this.extents.values()].sort((left, right) => left.extentId - right.extentId).map(({ extentId, size, tiny }) => ({ extentId, size, tiny }));
  }

  /** Blocks that failed their CRC since open, for repair from a replica. */
  badBlocks(): BadBlock[] {
    const blocks: BadBlock[] = [];
    for (const state of this.list().map((info) => this.extents.get(info.extentId)!)) {
      for (const block of [...state.badBlocks].sort((left, right) => left - right)) blocks.push({ extentId: state.extentId, block });
    }
    return blocks;
  }

  /**
   * The fsync contract: when this resolves, every append, overwrite and release made before
   * the call is durable, data first, then the CRC tables that cover it.
   */
  sync(): Promise<void> {
    return this.serial(() => this.syncNow());
  }

  /** Syncs, then closes every file. */
  close(): Promise<void> {
    return this.serial(async () => {
      await this.syncNow();
      this.closed = true;
      for (const state of this.extents.values()) await state.file.close();
      await this.deletionLog.close();
    });
  }

  private async syncNow(): Promise<void> {
    const dirty = [...this.extents.values()].filter((state) => state.dataDirty || state.tableDirty);
    try {
      for (const state of dirty) if (state.dataDirty) await state.file.sync();
      for (const state of dirty) {
        if (!state.tableDirty) continue;
        await this.writeAtomically(crcTableName(state.extentId), this.encodeTable(state));
      }
      if (dirty.some((state) => state.tableDirty)) await this.disk.syncDirectory(this.directory);
    } catch (error) {
      // After a failed fdatasync the page cache state is unknown (fsyncgate): the store
      // must be reopened, which recovers what is durable.
      this.failure = error instanceof AtollError ? error : new AtollError(StatusCode.INTERNAL, `sync extent store ${this.directory}: ${String(error)}`, { cause: error });
      throw this.failure;
    }
    for (const state of dirty) {
      state.dataDirty = false;
      state.tableDirty = false;
    }
  }

  /** The bad-block list as it is in memory, written atomically (an empty list removes it). */
  private async writeBadBlocks(): Promise<void> {
    const entries = this.badBlocks();
    if (entries.length === 0) await this.disk.remove(`${this.directory}/${badBlockListName}`).catch(() => undefined);
    else await this.writeAtomically(badBlockListName, encodeBadBlockList(entries));
    await this.disk.syncDirectory(this.directory);
  }

  private encodeTable(state: ExtentState): Uint8Array {
    return encodeCrcTable({
      extentId: state.extentId,
      tiny: state.tiny,
      size: state.size,
      blockBytes: this.limits.blockBytes,
      blockCrcs: Uint32Array.from(state.blockCrcs),
      freedPages: state.freedPages,
    });
  }

  private async createDurable(extentId: number, tiny: boolean): Promise<void> {
    const state: ExtentState = {
      extentId,
      tiny,
      file: undefined as unknown as DiskFile,
      size: 0,
      blockCrcs: [],
      freedPages: tiny ? new Uint8Array(freedBitmapBytes(this.limits)) : new Uint8Array(0),
      freedPageCount: 0,
      badBlocks: new Set(),
      dataDirty: false,
      tableDirty: false,
    };
    // The table before the data file: a data file without a table is then always garbage.
    await this.writeAtomically(crcTableName(extentId), this.encodeTable(state));
    const file = await this.disk.openForAppend(`${this.directory}/${extentFileName(extentId)}`);
    this.extents.set(extentId, { ...state, file });
  }

  /** tmp file, fdatasync, rename over the name. Durable after the directory's fsync. */
  private async writeAtomically(name: string, bytes: Uint8Array): Promise<void> {
    const temporary = `${this.directory}/${name}${temporarySuffix}`;
    const file = await this.disk.openForAppend(temporary);
    try {
      await file.append(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await this.disk.rename(temporary, `${this.directory}/${name}`);
  }

  /** Runs a batch of appends (see append): checks each, writes the accepted ones at once. */
  private async appendBatch(batch: AppendBatch): Promise<void> {
    if (this.openAppends === batch) this.openAppends = undefined;
    const byExtent = new Map<number, AppendItem[]>();
    for (const item of batch.items) {
      const items = byExtent.get(item.extentId);
      if (items === undefined) byExtent.set(item.extentId, [item]);
      else items.push(item);
    }
    await Promise.all([...byExtent].map(([extentId, items]) => this.appendToExtent(extentId, items)));
  }

  /** The part of a batch for one extent: checks each append, writes the accepted ones at once. */
  private async appendToExtent(extentId: number, items: readonly AppendItem[]): Promise<void> {
    let state: ExtentState;
    try {
      state = this.extent('append to', extentId);
      if (state.tiny) refuse(StatusCode.INVALID_ARGUMENT, `append to extent ${extentId}: a tiny extent takes appendTiny`);
    } catch (error) {
      for (const item of items) item.reject(error);
      return;
    }
    const accepted: AppendItem[] = [];
    let size = state.size;
    for (const item of items) {
      try {
        this.checkPacket('append to', extentId, item.bytes);
        if (item.offset !== size) refuse(StatusCode.INVALID_ARGUMENT, `append to extent ${extentId}: offset ${item.offset} is not the end: expected offset ${size}`);
        if (size + item.bytes.byteLength > this.limits.extentBytesMax) {
          refuse(StatusCode.TOO_LARGE, `append to extent ${extentId}: ${item.bytes.byteLength} bytes at ${item.offset} would pass the extent limit: extentBytesMax=${this.limits.extentBytesMax}`);
        }
      } catch (error) {
        item.reject(error);
        continue;
      }
      accepted.push(item);
      size += item.bytes.byteLength;
    }
    try {
      await this.appendBytes(
        state,
        accepted.map((item) => item.bytes),
        accepted.map((item) => item.packetCrc),
      );
    } catch (error) {
      for (const item of accepted) item.reject(error);
      return;
    }
    for (const item of accepted) item.resolve();
  }

  /**
   * Appends `pieces` to the extent's file in one write, then the CRCs of the blocks they
   * fill. `packetCrcs[i]`, when given, is the CRC32 of `pieces[i]`.
   */
  private async appendBytes(state: ExtentState, pieces: readonly Uint8Array[], packetCrcs: readonly (number | undefined)[] = []): Promise<void> {
    if (pieces.every((piece) => piece.byteLength === 0)) return;
    try {
      await state.file.append(pieces.length === 1 ? pieces[0]! : pieces);
    } catch (error) {
      // A short write must not leave bytes that later appends would land behind.
      await state.file.truncate(state.size).catch(() => undefined);
      throw error;
    }
    for (let index = 0; index < pieces.length; index++) this.addBlockCrcs(state, pieces[index]!, packetCrcs[index]);
    state.dataDirty = true;
    state.tableDirty = true;
  }

  /** Grows the extent's size and CRC table by `bytes`, just written at its end. */
  private addBlockCrcs(state: ExtentState, bytes: Uint8Array, packetCrc: number | undefined): void {
    const blockBytes = this.limits.blockBytes;
    let position = 0;
    // Bounded: each turn fills the rest of one block.
    for (let turn = 0; position < bytes.byteLength; turn++) {
      assert(turn <= bytes.byteLength / blockBytes + 1, 'append CRC loop runs past the blocks of the packet');
      const block = Math.floor(state.size / blockBytes);
      const within = state.size % blockBytes;
      const take = Math.min(blockBytes - within, bytes.byteLength - position);
      // A partial block's CRC continues from the CRC of the bytes already there; a block
      // that is the whole packet has the packet's CRC.
      state.blockCrcs[block] =
        within !== 0 ? crc32(bytes, position, position + take, state.blockCrcs[block]!) : packetCrc !== undefined && take === bytes.byteLength ? packetCrc : crc32(bytes, position, position + take);
      state.size += take;
      position += take;
    }
  }

  /** Reads the whole blocks around [from, to) and checks each one's CRC. */
  private async readVerified(action: string, state: ExtentState, from: number, to: number, buffer?: (bytes: number) => Uint8Array): Promise<{ start: number; data: Uint8Array }> {
    const blockBytes = this.limits.blockBytes;
    const firstBlock = Math.floor(from / blockBytes);
    const lastBlock = Math.floor((to - 1) / blockBytes);
    const start = firstBlock * blockBytes;
    const end = Math.min((lastBlock + 1) * blockBytes, state.size);
    const data = await state.file.read(start, end - start, buffer?.(end - start));
    for (let block = firstBlock; block <= lastBlock; block++) {
      const blockStart = block * blockBytes;
      const blockEnd = Math.min(blockStart + blockBytes, state.size);
      const present = Math.min(blockEnd, start + data.byteLength);
      const computed = present < blockEnd ? undefined : crc32(data, blockStart - start, blockEnd - start);
      const stored = state.blockCrcs[block]!;
      if (computed === stored) continue;
      if (!state.badBlocks.has(block)) {
        state.badBlocks.add(block);
        // Kept across a restart until repaired (a restart must not forget what repair needs).
        // Reads run side by side: their writes of the list go one after another.
        const write = this.badBlockWrites.then(() => this.writeBadBlocks()).catch(() => undefined);
        this.badBlockWrites = write;
        await write;
      }
      refuse(
        StatusCode.CHECKSUM_MISMATCH,
        `${action} extent ${state.extentId}: block ${block} [${blockStart}, ${blockEnd}) fails its CRC32: ` +
          (computed === undefined ? `the file ends at ${start + data.byteLength}` : `stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`),
      );
    }
    return { start, data };
  }

  /**
   * Writes bytes over [offset, offset + length). The blocks touched are checked first, so
   * that recomputing their CRCs never blesses corrupted bytes around the write.
   */
  private async writeInPlace(action: string, state: ExtentState, offset: number, bytes: Uint8Array, writeOtherwise?: () => Promise<boolean>): Promise<void> {
    // A packet spans two blocks at most; a longer range (a tiny file's release) gets a buffer of its own.
    const twoBlocks = 2 * this.limits.blockBytes;
    const blocks = (length: number): Uint8Array => (length > twoBlocks ? Buffer.allocUnsafe(length) : (this.inPlaceBlocks ??= Buffer.allocUnsafe(twoBlocks)));
    // The blocks as read, checked, then with the new bytes in place.
    const { start, data: merged } = await this.readVerified(action, state, offset, offset + bytes.byteLength, blocks);
    merged.set(bytes, offset - start);
    // `writeOtherwise` puts the same bytes there another way (a punched hole reads as
    // zeros); when it cannot, the bytes are written.
    if (writeOtherwise === undefined || !(await writeOtherwise())) await state.file.write(offset, bytes);
    const blockBytes = this.limits.blockBytes;
    for (let blockStart = start; blockStart < start + merged.byteLength; blockStart += blockBytes) {
      const blockEnd = Math.min(blockStart + blockBytes, start + merged.byteLength);
      state.blockCrcs[blockStart / blockBytes] = crc32(merged, blockStart - start, blockEnd - start);
    }
    state.dataDirty = true;
    state.tableDirty = true;
  }

  private checkPacket(action: string, extentId: number, bytes: Uint8Array): void {
    if (bytes.byteLength > this.limits.packetBytesMax) {
      refuse(StatusCode.TOO_LARGE, `${action} extent ${extentId}: ${bytes.byteLength} bytes is over packetBytesMax=${this.limits.packetBytesMax}`);
    }
  }

  private extent(action: string, extentId: number): ExtentState {
    assert(!this.closed, () => `${action} extent ${extentId}: the extent store is closed`);
    const state = this.extents.get(extentId);
    if (state === undefined) {
      refuse(StatusCode.NOT_FOUND, `${action} extent ${extentId}: no such extent in ${this.directory}${this.deleted.has(extentId) ? ' (deleted)' : ''}`);
    }
    return state;
  }

  /** A change: after every change and read queued before it, alone. */
  private serial<T>(operation: () => Promise<T>): Promise<T> {
    this.openAppends = undefined;
    const before = this.readers.size === 0 ? this.queue : Promise.all([this.queue, ...this.readers]);
    this.readers = new Set();
    const run = before.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return operation();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A read: after every change queued before it, beside other reads. */
  private shared<T>(operation: () => Promise<T>): Promise<T> {
    this.openAppends = undefined;
    const run = this.queue.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return operation();
    });
    const settled = run.catch(() => undefined);
    const readers = this.readers;
    readers.add(settled);
    void settled.then(() => readers.delete(settled));
    return run;
  }
}

function checkRange(action: string, extentId: number, offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    refuse(StatusCode.INVALID_ARGUMENT, `${action} extent ${extentId}: [${offset}, ${offset + length}) is outside the extent: size ${size}`);
  }
}

function countBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) for (let bit = 0; bit < 8; bit++) bits += (byte >>> bit) & 1;
  return bits;
}

function freedBitmapBytes(limits: ExtentLimits): number {
  return Math.ceil(limits.extentBytesMax / limits.tinyAlignmentBytes / 8);
}

async function readWhole(disk: Disk, path: string): Promise<Uint8Array> {
  const file = await disk.openForRead(path);
  try {
    return await file.read(0, await file.size());
  } finally {
    await file.close();
  }
}

/** The deleted ids; a torn last record (a crash during its append) is cut. */
async function recoverDeletionLog(log: DiskFile, directory: string): Promise<Set<number>> {
  const bytes = await log.read(0, await log.size());
  const deleted = new Set<number>();
  const whole = Math.floor(bytes.byteLength / deletionRecordBytes);
  let intactBytes = bytes.byteLength - (bytes.byteLength % deletionRecordBytes);
  for (let record = 0; record < whole; record++) {
    const extentId = decodeDeletionRecord(bytes, record * deletionRecordBytes);
    if (extentId !== undefined) {
      deleted.add(extentId);
      continue;
    }
    // Each record is synced before the next is appended: only the last one can be torn.
    if (record !== whole - 1) refuse(StatusCode.INTERNAL, `open extent store ${directory}: ${deletionLogName} record ${record} is damaged and not the last`);
    intactBytes = record * deletionRecordBytes;
  }
  if (intactBytes < bytes.byteLength) {
    await log.truncate(intactBytes);
    await log.sync();
  }
  return deleted;
}
