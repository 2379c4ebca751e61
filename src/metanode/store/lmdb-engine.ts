// The on-disk engine: one LMDB environment per meta partition directory, for metadata
// larger than memory and restarts that need no snapshot load.
//
// Layout (README.md): the file `data.mdb` (and LMDB's `data.mdb-lock`) in the partition
// directory, holding two named databases. `records` holds the partition's keys, as they
// are, in LMDB's default order (memcmp, shorter first: unsigned bytes, as the memory
// engine). `meta` holds one key, "appliedIndex", a u64 big-endian, written in the same
// transaction as every batch. Keeping the index in its own database rather than under a
// reserved key of the record space means no key is forbidden to the state machine and no
// scan or count has to step over it. (The main database holds only the two names.)
//
// Durability: `overlappingSync: false` keeps LMDB's classic commit, which returns only
// after the data pages are fdatasync'd (lmdb-js otherwise flushes after the commit
// returns). `noMetaSync: true` leaves the meta page to the next commit's fdatasync: one
// sync per commit instead of two (about a fifth of a commit here), and LMDB stays intact
// but a machine crash may undo the last commit. Nothing acknowledged depends on it: the
// entries are durable in the Raft log before they are applied, an engine that comes back
// behind the newest snapshot is rebuilt from that snapshot's file (MetaPartition's
// restore), and the log keeps every entry after the snapshot, so the lost commit is
// applied again. A process crash loses nothing (the page cache survives it).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import { assert } from '../../errors/index.js';
import type { KvEngine, KvEntry, KvKey, KvMutation, KvRange, KvSnapshotView, KvValue } from './kv-engine.js';
import { checkAppliedIndex, checkBatch, checkEntryOrder, checkKey, checkRange, compareKeys, hasPrefix, prefixEnd } from './key-order.js';

export const lmdbDataFileName = 'data.mdb';
const appliedIndexKey = Buffer.from('appliedIndex');

export interface LmdbEngineOptions {
  /** The most the environment may grow to (LMDB reserves, not allocates, this address space). */
  readonly mapSizeBytes?: number;
}

/** 16 GiB: address space only; the file grows with the data. */
const defaultMapSizeBytes = 16 * 1024 * 1024 * 1024;

type BinaryDatabase = Database<Buffer, Buffer>;

/**
 * The caller's bytes as the key or value lmdb-js takes, without a copy (LMDB copies into
 * the page). Typed as Buffer for lmdb-js's types only: with binary key and value
 * encodings lmdb-js reads both through Uint8Array members alone (`set` for keys;
 * `buffer`, `byteOffset` and `length` for values), so no Buffer view is made (making one
 * per key and value was a twentieth of an LMDB create's apply).
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return bytes as Buffer;
}

function encodeIndex(index: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(index));
  return bytes;
}

function decodeIndex(bytes: Buffer | undefined): number {
  if (bytes === undefined) return 0;
  assert(bytes.byteLength === 8, () => `lmdb engine: the applied index record has ${bytes.byteLength} bytes, not 8`);
  const index = Number(bytes.readBigUInt64BE());
  assert(Number.isSafeInteger(index), 'lmdb engine: the applied index is beyond 2^53');
  return index;
}

export class LmdbEngine implements KvEngine {
  readonly kind = 'lmdb' as const;
  private index: number;
  private closed = false;
  // Inside writeBatch: writes go straight into the batch's transaction, and the first one
  // that fails is kept here so the whole batch aborts even if a caller caught the throw.
  private batching = false;
  private batchFailure: { error: unknown } | null = null;

  private constructor(
    private readonly root: RootDatabase,
    private readonly records: BinaryDatabase,
    private readonly meta: BinaryDatabase,
  ) {
    this.index = decodeIndex(meta.get(appliedIndexKey));
  }

  /** Opens (creating if needed) the engine of the partition whose directory this is. */
  static async open(directory: string, options: LmdbEngineOptions = {}): Promise<LmdbEngine> {
    await mkdir(directory, { recursive: true });
    const root = open({
      path: join(directory, lmdbDataFileName),
      maxDbs: 2,
      mapSize: options.mapSizeBytes ?? defaultMapSizeBytes,
      overlappingSync: false,
      noMetaSync: true,
      // Values are stored as given; lmdb-js's msgpack structures and cache stay off.
      encoding: 'binary',
      keyEncoding: 'binary',
      cache: false,
    });
    const databaseOptions = { keyEncoding: 'binary', encoding: 'binary', cache: false } as const;
    const records = root.openDB<Buffer, Buffer>('records', databaseOptions);
    const meta = root.openDB<Buffer, Buffer>('meta', databaseOptions);
    return new LmdbEngine(root, records, meta);
  }

  get appliedIndex(): number {
    return this.index;
  }

  get(key: KvKey): KvValue | undefined {
    this.checkOpen('get');
    checkKey(key, 'get');
    // get() with binary encoding returns a copy (getBinaryFast would hand out a reused buffer).
    return this.records.get(asBuffer(key));
  }

  scan(range: KvRange): KvEntry[] {
    this.checkOpen('scan');
    checkRange(range);
    return scanDatabase(this.records, range);
  }

  count(prefix: KvKey): number {
    this.checkOpen('count');
    assert(prefix instanceof Uint8Array, 'count: prefix must be a Uint8Array');
    const end = prefixEnd(prefix);
    return this.records.getKeysCount({ start: asBuffer(prefix), ...(end === undefined ? {} : { end }) });
  }

  write(appliedIndex: number, mutations: readonly KvMutation[], sameEntry = false): void {
    this.checkOpen('write');
    checkBatch(this.index, appliedIndex, mutations, sameEntry);
    if (this.batching) {
      // In the batch's transaction itself, not a child transaction per entry (a child's
      // begin and commit were a tenth of an LMDB create's apply). A failure here fails
      // the batch, which then aborts whole: nothing of it reaches the disk.
      assert(this.batchFailure === null, 'lmdb engine: write after a failed write in the same batch');
      try {
        this.putMutations(appliedIndex, mutations);
      } catch (error) {
        this.batchFailure = { error };
        throw error;
      }
    } else {
      // A throw inside the callback aborts the transaction: all or nothing on disk too.
      this.root.transactionSync(() => this.putMutations(appliedIndex, mutations));
    }
    this.index = appliedIndex;
  }

  private putMutations(appliedIndex: number, mutations: readonly KvMutation[]): void {
    for (const mutation of mutations) {
      if (mutation.op === 'set') this.records.putSync(asBuffer(mutation.key), asBuffer(mutation.value));
      else this.records.removeSync(asBuffer(mutation.key));
    }
    this.meta.putSync(appliedIndexKey, encodeIndex(appliedIndex));
  }

  // The writes inside share one transaction: one commit and one fdatasync for a whole
  // run of log entries instead of one per entry (a write() inside joins it).
  writeBatch<T>(work: () => T): T {
    this.checkOpen('writeBatch');
    assert(!this.batching, 'lmdb engine: writeBatch inside writeBatch');
    const before = this.index;
    this.batching = true;
    this.batchFailure = null;
    try {
      return this.root.transactionSync(() => {
        const result = work();
        // A write failed and its throw was caught inside: the batch must not commit.
        if (this.batchFailure !== null) throw this.batchFailure.error;
        return result;
      });
    } catch (error) {
      // Aborted: nothing of the batch is on disk.
      this.index = before;
      throw error;
    } finally {
      this.batching = false;
      this.batchFailure = null;
    }
  }

  replaceAll(appliedIndex: number, entries: Iterable<KvEntry>): void {
    this.checkOpen('replaceAll');
    checkAppliedIndex(appliedIndex, 'replaceAll');
    // One transaction: a failing check or a throwing iterator (a corrupt snapshot file)
    // aborts it and the old content stays.
    this.root.transactionSync(() => {
      this.records.clearSync();
      let previous: KvKey | undefined;
      for (const entry of entries) {
        checkEntryOrder(previous, entry);
        this.records.putSync(asBuffer(entry.key), asBuffer(entry.value));
        previous = entry.key;
      }
      this.meta.putSync(appliedIndexKey, encodeIndex(appliedIndex));
    });
    this.index = appliedIndex;
  }

  snapshotView(): KvSnapshotView {
    this.checkOpen('snapshotView');
    // A read transaction pins the database as of now: later commits do not show in it.
    // It also pins pages from reuse, so a view should be released once written out.
    const transaction = this.root.useReadTransaction();
    const appliedIndex = decodeIndex(this.meta.get(appliedIndexKey, { transaction }));
    assert(appliedIndex === this.index, () => `lmdb engine: read transaction at index ${appliedIndex}, engine at ${this.index}`);
    const records = this.records;
    let released = false;
    return {
      appliedIndex,
      *entries(): Iterable<KvEntry> {
        assert(!released, 'snapshot view: entries() after release()');
        for (const { key, value } of records.getRange({ transaction })) {
          assert(!released, 'snapshot view: released while its entries were iterated');
          yield { key, value };
        }
      },
      release(): void {
        if (released) return;
        released = true;
        transaction.done();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  private checkOpen(action: string): void {
    assert(!this.closed, () => `${action}: the lmdb engine is closed`);
  }
}

function scanDatabase(records: BinaryDatabase, range: KvRange): KvEntry[] {
  const { prefix, after, limit } = range;
  const end = prefixEnd(prefix);
  const resumes = after !== undefined && compareKeys(after, prefix) >= 0;
  // Past the prefix's last possible key: nothing (and LMDB must not see start > end).
  if (resumes && end !== undefined && compareKeys(after, end) >= 0) return [];
  const found: KvEntry[] = [];
  const iterable = records.getRange({
    start: asBuffer(resumes ? after : prefix),
    ...(end === undefined ? {} : { end }),
    exclusiveStart: resumes,
    limit,
  });
  for (const { key, value } of iterable) {
    // A prefix of only 0xff bytes has no end key: its range stops here instead.
    if (end === undefined && !hasPrefix(key, prefix)) break;
    found.push({ key, value });
  }
  return found;
}

