// The behaviour of the write-ahead log on any Disk: run on SimulatedDisk
// (wal-simulated-disk.test.ts) and on the real file system (wal-node-disk.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CountingDisk } from '../../disk/index.js';
import type { Disk } from '../../disk/index.js';
import { StatusCode, isAtollError } from '../../errors/index.js';
import type { Entry, HardState, LogIndex, NodeId, Term } from '../../raft/index.js';
import { EntryType } from '../../raft/index.js';
import { frameHeaderBytes } from '../format.js';
import type { WalLimits } from '../limits.js';
import { parseSegmentName } from '../segment-name.js';
import { WriteAheadLog } from '../write-ahead-log.js';
import { WalModel, plainGroups } from './wal-model.js';
import type { ModelOperation } from './wal-model.js';

export interface WalHarness {
  readonly disk: Disk;
  /** The instance directory; the log lives in `<dir>/wal`. */
  readonly dir: string;
  /** Flips one byte of a file at rest. */
  corruptByte(path: string, position: number): Promise<void>;
  /** Cuts a file at rest to `length` bytes, as a torn write leaves it. */
  cutFile(path: string, length: number): Promise<void>;
  /** Checks that nothing is left open, then removes what the test made. */
  cleanup(): Promise<void>;
}

export function entry(index: number, term: number, data: Uint8Array | string = '', type = EntryType.Normal): Entry {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return { index: index as LogIndex, term: term as Term, type, data: bytes };
}

export function hardState(term: number, vote: number, commit: number): HardState {
  return { term: term as Term, vote: vote as NodeId, commit: commit as LogIndex };
}

export function entriesFrom(first: number, count: number, term: number, salt = ''): Entry[] {
  return Array.from({ length: count }, (_, offset) => entry(first + offset, term, `${salt}${first + offset}:${term}`));
}

/** A WAL and a model fed the same operations. */
class Recorder {
  readonly model: WalModel;

  constructor(
    readonly wal: WriteAheadLog,
    model = new WalModel(),
  ) {
    this.model = model;
  }

  do(operation: ModelOperation): void {
    switch (operation.kind) {
      case 'append':
        this.wal.appendEntries(operation.groupId, operation.entries);
        break;
      case 'hardState':
        this.wal.setHardState(operation.groupId, operation.hardState);
        break;
      case 'mark':
        this.wal.markSnapshot(operation.groupId, operation.index, operation.term);
        break;
      case 'remove':
        this.wal.removeGroup(operation.groupId);
        break;
    }
    this.model.apply(operation);
  }

  append(groupId: number, entries: readonly Entry[]): void {
    this.do({ kind: 'append', groupId, entries });
  }

  hardState(groupId: number, state: HardState): void {
    this.do({ kind: 'hardState', groupId, hardState: state });
  }

  mark(groupId: number, index: number, term: number): void {
    this.do({ kind: 'mark', groupId, index, term });
  }

  remove(groupId: number): void {
    this.do({ kind: 'remove', groupId });
  }
}

async function statusAndMessage(action: () => Promise<unknown>): Promise<{ status: StatusCode; message: string }> {
  try {
    await action();
  } catch (error) {
    assert.ok(isAtollError(error), `expected an AtollError, got ${String(error)}`);
    return { status: error.status, message: error.message };
  }
  assert.fail('expected the action to fail');
}

export function describeWalBehaviour(implementation: string, create: () => Promise<WalHarness>): void {
  const withHarness = (name: string, body: (harness: WalHarness) => Promise<void>): void => {
    test(`${implementation}: ${name}`, async () => {
      const harness = await create();
      try {
        await body(harness);
      } catch (error) {
        // The test's own failure matters more than what it left open.
        await harness.cleanup().catch(() => undefined);
        throw error;
      }
      await harness.cleanup();
    });
  };
  const walDirectory = (harness: WalHarness): string => `${harness.dir}/wal`;
  const segmentPaths = async (harness: WalHarness): Promise<string[]> =>
    (await harness.disk.list(walDirectory(harness))).filter((name) => parseSegmentName(name) !== null).map((name) => `${walDirectory(harness)}/${name}`);
  const reopen = async (harness: WalHarness, limits: Partial<WalLimits> = {}) => WriteAheadLog.open(harness.disk, harness.dir, limits);
  const smallSegments: Partial<WalLimits> = { segmentBytesMax: 4096, syncBatchBytesMax: 2048, recordBytesMax: 1024, bufferedBytesMax: 1 << 20 };

  withHarness('a new log is empty and names its first segment for sequence 0', async (harness) => {
    const { wal, recovered, report } = await reopen(harness);
    assert.equal(recovered.size, 0);
    assert.equal(report.tornTail, null);
    assert.deepEqual(await harness.disk.list(walDirectory(harness)), ['0000000000000000.log']);
    await wal.close();
  });

  withHarness('every record type round-trips across many groups', async (harness) => {
    const { wal } = await reopen(harness);
    const recorder = new Recorder(wal);
    for (let groupId = 0; groupId < 50; groupId++) {
      // Ids across the whole safe range, the largest included.
      const id = groupId === 49 ? Number.MAX_SAFE_INTEGER : groupId * 1_000_003;
      recorder.append(id, [entry(1, 1, '', EntryType.ConfChange), ...entriesFrom(2, groupId % 7, 1, `g${groupId}-`)]);
      recorder.hardState(id, hardState(1 + (groupId % 3), groupId % 5, Math.min(1, groupId % 7)));
      if (groupId % 4 === 0) recorder.mark(id, 1, 1);
      if (groupId % 10 === 9) recorder.remove(id);
      if (groupId % 5 === 0) await wal.sync();
    }
    recorder.append(7, [entry(1, 2, new Uint8Array(3000).fill(7))]);
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness);
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    // 5 of the 50 were removed; group 7 came on top.
    assert.equal(recovered.size, 46);
    await reopened.close();
  });

  withHarness('N appends from M groups then one sync is exactly one write and one fdatasync', async (harness) => {
    const counting = new CountingDisk(harness.disk);
    const { wal } = await WriteAheadLog.open(counting, harness.dir);
    counting.takeCounts();
    for (let round = 0; round < 16; round++) {
      for (let groupId = 1; groupId <= 64; groupId++) {
        wal.appendEntries(groupId, [entry(round + 1, 1, new Uint8Array(128))]);
        wal.setHardState(groupId, hardState(1, 1, round));
      }
    }
    await wal.sync();
    const counts = counting.takeCounts();
    assert.equal(counts.fileSyncs, 1);
    assert.equal(counts.appends + counts.writes, 1);
    assert.equal(counts.directorySyncs, 0);
    assert.equal(wal.stats().recordsWritten, 16 * 64 * 2);
    assert.equal(wal.stats().syncs, 1);
    await wal.close();
  });

  withHarness('concurrent syncs share one flush; records appended meanwhile share the next', async (harness) => {
    const counting = new CountingDisk(harness.disk);
    const { wal } = await WriteAheadLog.open(counting, harness.dir);
    counting.takeCounts();
    wal.appendEntries(1, entriesFrom(1, 3, 1));
    const first = Array.from({ length: 10 }, () => wal.sync());
    // Once the flush has taken what was buffered, later appends wait for one more flush.
    for (let turn = 0; turn < 100 && wal.stats().bufferedBytes > 0; turn++) await Promise.resolve();
    assert.equal(wal.stats().bufferedBytes, 0);
    wal.appendEntries(2, entriesFrom(1, 3, 1));
    const second = wal.sync();
    wal.appendEntries(3, entriesFrom(1, 3, 1));
    const third = wal.sync();
    assert.equal(second, third, 'callers waiting for the next flush share it');
    await Promise.all([...first, second, third]);
    assert.equal(counting.takeCounts().fileSyncs, 2);
    await wal.sync();
    assert.equal(counting.takeCounts().fileSyncs, 0, 'a sync with nothing buffered writes nothing');
    await wal.close();
  });

  withHarness('a later append at an index supersedes everything from that index on', async (harness) => {
    const { wal } = await reopen(harness);
    const recorder = new Recorder(wal);
    recorder.append(1, entriesFrom(1, 10, 1));
    await wal.sync();
    recorder.append(1, entriesFrom(5, 3, 2, 'second-'));
    recorder.append(2, entriesFrom(1, 4, 1));
    await wal.sync();
    recorder.append(1, [entry(3, 3, 'third')]);
    recorder.append(1, entriesFrom(4, 2, 3));
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness);
    assert.deepEqual(
      recovered.get(1)!.entries.map((item) => [item.index, item.term]),
      [[1, 1], [2, 1], [3, 3], [4, 3], [5, 3]],
    );
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    await reopened.close();
  });

  withHarness('a snapshot mark drops entries at or below it; one the log does not hold replaces the whole log', async (harness) => {
    const { wal } = await reopen(harness);
    const recorder = new Recorder(wal);
    recorder.append(1, entriesFrom(1, 10, 1));
    recorder.mark(1, 6, 1);
    recorder.append(2, entriesFrom(1, 10, 1));
    // A leader's snapshot at (8, term 2) conflicts with the local entry 8 (term 1): all goes.
    recorder.mark(2, 8, 2);
    recorder.append(2, entriesFrom(9, 2, 2));
    recorder.append(3, entriesFrom(1, 3, 1));
    // A snapshot beyond the log.
    recorder.mark(3, 20, 4);
    // Entries at or below the mark are ignored on append.
    recorder.append(1, entriesFrom(5, 3, 1, 'ignored-or-replacing-'));
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness);
    assert.deepEqual(recovered.get(1)!.snapshot, { index: 6, term: 1 });
    assert.deepEqual(recovered.get(1)!.entries.map((item) => item.index), [7]);
    assert.deepEqual(recovered.get(2)!.entries.map((item) => [item.index, item.term]), [[9, 2], [10, 2]]);
    assert.deepEqual(recovered.get(3)!.entries, []);
    assert.deepEqual(recovered.get(3)!.snapshot, { index: 20, term: 4 });
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    // The log goes on from the snapshot.
    reopened.appendEntries(3, [entry(21, 4)]);
    assert.throws(() => reopened.appendEntries(3, [entry(23, 4)]), /gap/);
    await reopened.close();
  });

  withHarness('removed groups are not recovered, and a group created again starts empty', async (harness) => {
    const { wal } = await reopen(harness);
    const recorder = new Recorder(wal);
    recorder.append(1, entriesFrom(1, 5, 1));
    recorder.hardState(1, hardState(1, 1, 5));
    recorder.append(2, entriesFrom(1, 5, 1));
    recorder.mark(2, 5, 1);
    await wal.sync();
    recorder.remove(1);
    recorder.remove(2);
    recorder.append(2, [entry(1, 7, 'again')]);
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness);
    assert.deepEqual([...recovered.keys()], [2]);
    assert.deepEqual(recovered.get(2)!.snapshot, null);
    assert.deepEqual(recovered.get(2)!.hardState, hardState(0, 0, 0));
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    await reopened.close();
  });

  withHarness('segments rotate at segmentBytesMax and are named for their first sequence', async (harness) => {
    const { wal } = await reopen(harness, smallSegments);
    const recorder = new Recorder(wal);
    for (let index = 1; index <= 120; index++) {
      recorder.append(index % 3, [entry(Math.ceil(index / 3), 1, new Uint8Array(100).fill(index))]);
      if (index % 4 === 0) await wal.sync();
    }
    await wal.close();
    const paths = await segmentPaths(harness);
    assert.ok(paths.length >= 3, `expected several segments, got ${paths.length}`);
    let previousSequence = -1;
    for (const path of paths) {
      const file = await harness.disk.openForRead(path);
      const size = await file.size();
      const header = await file.read(0, frameHeaderBytes);
      await file.close();
      assert.ok(size <= 4096, `${path} holds ${size} bytes`);
      const sequence = parseSegmentName(path.slice(path.lastIndexOf('/') + 1))!;
      assert.ok(sequence > previousSequence);
      // The first frame's sequence (bytes 12..20) is the one in the name.
      assert.equal(Buffer.from(header).readBigUInt64BE(12), BigInt(sequence));
      previousSequence = sequence;
    }
    const { wal: reopened, recovered } = await reopen(harness, smallSegments);
    assert.equal(reopened.stats().segments, paths.length);
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    await reopened.close();
  });

  withHarness('a segment whose records are all obsolete is deleted after a sync, oldest first', async (harness) => {
    const { wal } = await reopen(harness, smallSegments);
    const recorder = new Recorder(wal);
    let index = 0;
    for (let round = 0; round < 60; round++) {
      for (const groupId of [1, 2]) {
        recorder.append(groupId, [entry(index + 1, 1, new Uint8Array(80).fill(round))]);
        recorder.hardState(groupId, hardState(1, 1, index + 1));
      }
      index += 1;
      await wal.sync();
    }
    const before = (await segmentPaths(harness)).length;
    assert.ok(before >= 4, `expected at least 4 segments, got ${before}`);
    assert.deepEqual(wal.groupsHoldingOldestSegment().sort(), [1, 2]);
    recorder.mark(1, index - 2, 1);
    recorder.mark(2, index - 2, 1);
    await wal.sync();
    // Deletion runs after the sync resolves; the next sync waits for it.
    await wal.sync();
    recorder.hardState(1, hardState(1, 1, index));
    await wal.sync();
    const after = await segmentPaths(harness);
    assert.ok(after.length < before, `segments: ${before} before, ${after.length} after`);
    assert.ok(wal.stats().segmentsDeleted >= before - after.length);
    assert.equal(wal.stats().segments, after.length);
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness, smallSegments);
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    await reopened.close();
  });

  withHarness("an idle group's last hard state and mark are written again so the oldest segment can go", async (harness) => {
    const { wal } = await reopen(harness, smallSegments);
    const recorder = new Recorder(wal);
    recorder.append(9, entriesFrom(1, 2, 1));
    recorder.mark(9, 2, 1);
    recorder.hardState(9, hardState(3, 2, 2));
    await wal.sync();
    for (let index = 1; index <= 80; index++) {
      recorder.append(1, [entry(index, 1, new Uint8Array(100))]);
      if (index % 10 === 0) recorder.mark(1, index, 1);
      await wal.sync();
    }
    await wal.sync();
    assert.ok(wal.stats().recordsRewritten >= 2, `rewritten: ${wal.stats().recordsRewritten}`);
    assert.ok(wal.stats().segmentsDeleted >= 1);
    const first = parseSegmentName((await segmentPaths(harness))[0]!.split('/').pop()!);
    assert.ok(first !== null && first > 0, 'the first segment was deleted');
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness, smallSegments);
    assert.deepEqual(recovered.get(9)!.hardState, hardState(3, 2, 2));
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    await reopened.close();
  });

  withHarness('a flipped byte in the middle of the log is refused, naming the file and the offset', async (harness) => {
    const { wal } = await reopen(harness);
    const frameOffsets: number[] = [];
    for (let round = 0; round < 5; round++) {
      frameOffsets.push(wal.stats().bytesWritten);
      wal.appendEntries(1, entriesFrom(round * 4 + 1, 4, 1));
      await wal.sync();
    }
    await wal.close();
    const [path] = await segmentPaths(harness);
    await harness.corruptByte(path!, frameOffsets[2]! + 40);
    const { status, message } = await statusAndMessage(() => reopen(harness));
    assert.equal(status, StatusCode.INTERNAL);
    assert.ok(message.includes(path!), message);
    assert.ok(message.includes(`offset ${frameOffsets[2]}`), message);
    assert.match(message, /checksum mismatch/);
    assert.match(message, new RegExp(`intact frame follows at offset ${frameOffsets[3]}`));
  });

  withHarness('a flipped byte in a segment that is not the last is refused', async (harness) => {
    const { wal } = await reopen(harness, smallSegments);
    for (let index = 1; index <= 60; index++) {
      wal.appendEntries(1, [entry(index, 1, new Uint8Array(100))]);
      await wal.sync();
    }
    await wal.close();
    const paths = await segmentPaths(harness);
    assert.ok(paths.length >= 2);
    // Byte 30 lies in the first frame's records.
    await harness.corruptByte(paths[0]!, 30);
    const { status, message } = await statusAndMessage(() => reopen(harness, smallSegments));
    assert.equal(status, StatusCode.INTERNAL);
    assert.ok(message.includes(`${paths[0]} at offset 0`), message);
    assert.match(message, /not the last/);
  });

  withHarness('a flipped byte in the last frame is a torn tail: that frame is dropped, the log goes on', async (harness) => {
    const { wal } = await reopen(harness);
    const recorder = new Recorder(wal);
    recorder.append(1, entriesFrom(1, 4, 1));
    recorder.hardState(1, hardState(1, 1, 2));
    await wal.sync();
    const model = WalModel.fromRecovered(recorder.model.expected());
    const lastFrameOffset = wal.stats().bytesWritten;
    recorder.append(1, entriesFrom(5, 4, 1));
    recorder.hardState(1, hardState(1, 1, 8));
    await wal.sync();
    const end = wal.stats().bytesWritten;
    await wal.close();
    const [path] = await segmentPaths(harness);
    await harness.corruptByte(path!, end - 3);
    const { wal: reopened, recovered, report } = await reopen(harness);
    assert.deepEqual(plainGroups(recovered), plainGroups(model.expected()));
    assert.equal(report.tornTail?.path, path);
    assert.equal(report.tornTail?.offset, lastFrameOffset);
    assert.match(report.tornTail!.reason, /checksum mismatch/);
    // The cut is durable and the log continues after it.
    const after = new Recorder(reopened, model);
    after.append(1, entriesFrom(5, 2, 2));
    await reopened.close();
    const { wal: third, recovered: again, report: clean } = await reopen(harness);
    assert.equal(clean.tornTail, null);
    assert.deepEqual(plainGroups(again), plainGroups(after.model.expected()));
    await third.close();
  });

  withHarness('a write torn in the middle of the last frame is cut off at that frame', async (harness) => {
    for (const fraction of [0.01, 0.5, 0.99]) {
      // A fresh instance directory per cut, since recovery shortens the file.
      const dir = `${harness.dir}/cut-${fraction}`;
      const { wal } = await WriteAheadLog.open(harness.disk, dir);
      const recorder = new Recorder(wal);
      recorder.append(1, entriesFrom(1, 3, 1));
      await wal.sync();
      const model = WalModel.fromRecovered(recorder.model.expected());
      const lastFrameOffset = wal.stats().bytesWritten;
      recorder.append(1, entriesFrom(4, 30, 1));
      await wal.sync();
      const end = wal.stats().bytesWritten;
      await wal.close();
      const cut = lastFrameOffset + Math.max(1, Math.floor((end - lastFrameOffset) * fraction));
      await harness.cutFile(`${dir}/wal/0000000000000000.log`, cut);
      const { wal: reopened, recovered, report } = await WriteAheadLog.open(harness.disk, dir);
      assert.deepEqual(plainGroups(recovered), plainGroups(model.expected()), `cut at ${cut}`);
      assert.equal(report.tornTail?.offset, lastFrameOffset);
      await reopened.close();
    }
  });

  withHarness('frames overwrite preallocated zeros in place; recovery reads the zeros as the end and the log goes on from there', async (harness) => {
    const limits = { preallocationBytes: 64 * 1024 };
    const counting = new CountingDisk(harness.disk);
    const { wal } = await WriteAheadLog.open(counting, harness.dir, limits);
    counting.takeCounts();
    const recorder = new Recorder(wal);
    for (let round = 0; round < 10; round++) {
      recorder.append(1, entriesFrom(round * 3 + 1, 3, 1));
      recorder.hardState(1, hardState(1, 1, round * 3));
      await wal.sync();
    }
    const counts = counting.takeCounts();
    assert.deepEqual([counts.appends, counts.writes, counts.fileSyncs], [1, 9, 10], 'the first frame appends the zeros, the others overwrite them');
    assert.equal(counts.bytesAppended - (wal.stats().bytesWritten - counts.bytesWritten), 64 * 1024);
    await wal.close();
    const [path] = await segmentPaths(harness);
    const fileBytes = async (): Promise<number> => {
      const file = await harness.disk.openForRead(path!);
      const size = await file.size();
      await file.close();
      return size;
    };
    const preallocated = await fileBytes();
    for (let reopening = 0; reopening < 2; reopening++) {
      const { wal: reopened, recovered, report } = await WriteAheadLog.open(harness.disk, harness.dir, limits);
      assert.equal(report.tornTail, null, 'zeros after the last frame are not damage');
      assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
      // The next frames go where the last one ended, over the zeros: the file keeps its size.
      new Recorder(reopened, recorder.model).append(1, entriesFrom(31 + reopening * 2, 2, 2));
      await reopened.close();
      assert.equal(await fileBytes(), preallocated);
    }
  });

  withHarness('stray bytes of a torn write in the preallocated zeros are a torn tail, cut off', async (harness) => {
    const limits = { preallocationBytes: 64 * 1024 };
    const { wal } = await WriteAheadLog.open(harness.disk, harness.dir, limits);
    const recorder = new Recorder(wal);
    recorder.append(1, entriesFrom(1, 5, 1));
    await wal.sync();
    const end = wal.stats().bytesWritten;
    await wal.close();
    const [path] = await segmentPaths(harness);
    // The next frame's first page never reached the device, a later one did.
    await harness.corruptByte(path!, end + 5000);
    const { wal: reopened, recovered, report } = await WriteAheadLog.open(harness.disk, harness.dir, limits);
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    assert.equal(report.tornTail?.offset, end);
    assert.match(report.tornTail!.reason, /bad frame magic 0x00000000/);
    const after = new Recorder(reopened, WalModel.fromRecovered(recovered));
    after.append(1, entriesFrom(6, 2, 1));
    await reopened.close();
    const { wal: third, recovered: again, report: clean } = await WriteAheadLog.open(harness.disk, harness.dir, limits);
    assert.equal(clean.tornTail, null);
    assert.deepEqual(plainGroups(again), plainGroups(after.model.expected()));
    await third.close();
  });

  withHarness('a missing segment in the middle is refused', async (harness) => {
    const { wal } = await reopen(harness, smallSegments);
    for (let index = 1; index <= 100; index++) {
      wal.appendEntries(1, [entry(index, 1, new Uint8Array(100))]);
      await wal.sync();
    }
    await wal.close();
    const paths = await segmentPaths(harness);
    assert.ok(paths.length >= 3);
    await harness.disk.remove(paths[1]!);
    const { status, message } = await statusAndMessage(() => reopen(harness, smallSegments));
    assert.equal(status, StatusCode.INTERNAL);
    assert.ok(message.includes(paths[2]!), message);
    assert.match(message, /a segment is missing/);
  });

  withHarness('an entry larger than recordBytesMax is refused with TOO_LARGE and nothing of the call is buffered', async (harness) => {
    const { wal } = await reopen(harness, smallSegments);
    assert.throws(
      () => wal.appendEntries(1, [entry(1, 1, 'small'), entry(2, 1, new Uint8Array(2000))]),
      (error: unknown) => isAtollError(error, StatusCode.TOO_LARGE),
    );
    assert.equal(wal.stats().bufferedBytes, 0);
    wal.appendEntries(1, [entry(1, 1, 'small')]);
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness, smallSegments);
    assert.deepEqual(recovered.get(1)!.entries.map((item) => item.index), [1]);
    await reopened.close();
  });

  withHarness('more than syncBatchBytesMax buffered is written as several frames, each synced', async (harness) => {
    const counting = new CountingDisk(harness.disk);
    const { wal } = await WriteAheadLog.open(counting, harness.dir, smallSegments);
    counting.takeCounts();
    const recorder = new Recorder(wal);
    for (let index = 1; index <= 30; index++) recorder.append(1, [entry(index, 1, new Uint8Array(200).fill(index))]);
    await wal.sync();
    const counts = counting.takeCounts();
    assert.ok(counts.fileSyncs >= 3, `fdatasyncs: ${counts.fileSyncs}`);
    assert.equal(counts.fileSyncs, counts.appends + counts.writes, 'one write per frame');
    await wal.close();
    const { wal: reopened, recovered } = await reopen(harness, smallSegments);
    assert.deepEqual(plainGroups(recovered), plainGroups(recorder.model.expected()));
    await reopened.close();
  });
}
