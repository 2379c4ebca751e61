// Recovery after simulated power loss at random points, from a seed. Every run checks:
// what recovery returns is the log after some prefix of the records, at least up to the
// last sync that resolved (nothing synced is lost, nothing after a torn frame appears),
// and the log goes on correctly from there through further crashes.
// ATOLL_WAL_SEED=<n> replays one seed; ATOLL_WAL_SEEDS=<count> runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedDisk } from '../disk/index.js';
import { EntryType } from '../raft/index.js';
import type { Random } from '../random/index.js';
import { createRandom } from '../random/index.js';
import type { WalLimits } from './limits.js';
import { WalModel, plainGroups } from './testing/wal-model.js';
import type { ModelOperation } from './testing/wal-model.js';
import { entry, hardState } from './testing/wal-suite.js';
import { WriteAheadLog } from './write-ahead-log.js';

const replaySeed = process.env.ATOLL_WAL_SEED;
const seedCount = Number(process.env.ATOLL_WAL_SEEDS ?? 40);
const seeds = replaySeed !== undefined ? [Number(replaySeed)] : Array.from({ length: seedCount }, (_, offset) => 20_260_000 + offset);
const limits: Partial<WalLimits> = { segmentBytesMax: 4096, syncBatchBytesMax: 2048, recordBytesMax: 1024, bufferedBytesMax: 1 << 20 };
const groupIds = [1, 2, 3, 4, 5, 9_007_199_254_740_991];

function fingerprint(model: WalModel): string {
  return JSON.stringify(plainGroups(model.expected()));
}

function clone(model: WalModel): WalModel {
  return WalModel.fromRecovered(model.expected());
}

/** A random operation that a Raft host could issue, given the log as buffered so far. */
function nextOperation(random: Random, model: WalModel, terms: Map<number, number>): ModelOperation {
  const groupId = groupIds[random.nextInt(groupIds.length)]!;
  const group = model.groups.get(groupId);
  const snapshotIndex = group?.snapshot?.index ?? 0;
  const lastIndex = model.lastIndex(groupId);
  let term = terms.get(groupId) ?? 1;
  const bumpTerm = (): number => {
    term += 1;
    terms.set(groupId, term);
    return term;
  };
  const roll = random.nextInt(100);
  if (roll < 55) {
    let first = lastIndex + 1;
    if (lastIndex > snapshotIndex && random.nextInt(5) === 0) {
      // A new leader overwrites part of the log.
      first = snapshotIndex + 1 + random.nextInt(lastIndex - snapshotIndex);
      bumpTerm();
    } else if (snapshotIndex > 0 && random.nextInt(20) === 0) {
      // Entries at or below the snapshot, which the log ignores.
      first = Math.max(1, snapshotIndex - random.nextInt(3));
    } else if (random.nextInt(10) === 0) {
      bumpTerm();
    }
    const count = 1 + random.nextInt(4);
    const entries = Array.from({ length: count }, (_, offset) => {
      const data = new Uint8Array(random.nextInt(5) === 0 ? 0 : random.nextInt(300));
      for (let position = 0; position < data.length; position++) data[position] = random.nextInt(256);
      return entry(first + offset, term, data, random.nextInt(8) === 0 ? EntryType.ConfChange : EntryType.Normal);
    });
    return { kind: 'append', groupId, entries };
  }
  if (roll < 80) return { kind: 'hardState', groupId, hardState: hardState(term, random.nextInt(4), random.nextInt(lastIndex + 1)) };
  if (roll < 96) {
    if (lastIndex > snapshotIndex && random.nextInt(5) !== 0) {
      // The application compacts its own log.
      const index = snapshotIndex + 1 + random.nextInt(lastIndex - snapshotIndex);
      return { kind: 'mark', groupId, index, term: group!.entries.get(index)!.term };
    }
    // A snapshot from the leader, beyond or conflicting with the log.
    return { kind: 'mark', groupId, index: snapshotIndex + random.nextInt(lastIndex - snapshotIndex + 5) + 1, term: bumpTerm() };
  }
  return { kind: 'remove', groupId };
}

function apply(wal: WriteAheadLog, operation: ModelOperation): void {
  switch (operation.kind) {
    case 'append':
      return wal.appendEntries(operation.groupId, operation.entries);
    case 'hardState':
      return wal.setHardState(operation.groupId, operation.hardState);
    case 'mark':
      return wal.markSnapshot(operation.groupId, operation.index, operation.term);
    case 'remove':
      return wal.removeGroup(operation.groupId);
  }
}

const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function runScenario(seed: number): Promise<{ crashes: number; tornTails: number; segmentsDeleted: number; recordsRewritten: number }> {
  const random = createRandom(seed);
  let disk = new SimulatedDisk();
  await disk.makeDirectory('/instance');
  await disk.syncDirectory('/');
  let { wal } = await WriteAheadLog.open(disk, '/instance', limits);
  let base = new WalModel();
  let current = new WalModel();
  let operations: ModelOperation[] = [];
  let durable = 0;
  let run = 0;
  const terms = new Map<number, number>();
  let tornTails = 0;
  let segmentsDeleted = 0;
  let recordsRewritten = 0;
  const crashes = 3 + random.nextInt(4);
  for (let crash = 0; crash < crashes; crash++) {
    const steps = 40 + random.nextInt(200);
    for (let step = 0; step < steps; step++) {
      const operation = nextOperation(random, current, terms);
      apply(wal, operation);
      current.apply(operation);
      // A crash keeps a prefix of the records, which may end inside one append (a frame is
      // full, the next is lost): the model counts entries one by one.
      if (operation.kind === 'append') {
        for (const single of operation.entries) operations.push({ kind: 'append', groupId: operation.groupId, entries: [single] });
      } else {
        operations.push(operation);
      }
      if (random.nextInt(4) === 0) {
        const covered = operations.length;
        const thisRun = run;
        const synced = wal.sync().then(
          () => {
            if (run === thisRun) durable = Math.max(durable, covered);
          },
          () => undefined,
        );
        if (random.nextInt(2) === 0) await synced;
      }
      for (let turn = random.nextInt(3); turn > 0; turn--) await Promise.resolve();
    }
    // Usually cut the power while a flush is on its way: let it get a random distance.
    if (random.nextInt(4) !== 0) {
      const covered = operations.length;
      const thisRun = run;
      void wal.sync().then(
        () => {
          if (run === thisRun) durable = Math.max(durable, covered);
        },
        () => undefined,
      );
    }
    for (let turn = random.nextInt(8); turn > 0; turn--) await Promise.resolve();
    segmentsDeleted += wal.stats().segmentsDeleted;
    recordsRewritten += wal.stats().recordsRewritten;
    disk = disk.crash(random, { reorderWriteback: random.nextInt(2) === 0 });
    // Syncs of the dead process that completed before the power went may still report.
    await drainMicrotasks();
    run += 1;
    const reopened = await WriteAheadLog.open(disk, '/instance', limits);
    if (reopened.report.tornTail !== null) tornTails += 1;
    const recovered = fingerprint(WalModel.fromRecovered(reopened.recovered));
    // Recovery must equal the log after some k operations, durable <= k <= all.
    const candidate = clone(base);
    for (const operation of operations.slice(0, durable)) candidate.apply(operation);
    let matched = fingerprint(candidate) === recovered;
    for (let count = durable; !matched && count < operations.length; count++) {
      candidate.apply(operations[count]!);
      matched = fingerprint(candidate) === recovered;
    }
    assert.ok(matched, `seed ${seed} crash ${crash}: recovery matches no prefix between the ${durable} synced and the ${operations.length} buffered records`);
    wal = reopened.wal;
    base = WalModel.fromRecovered(reopened.recovered);
    current = clone(base);
    operations = [];
    durable = 0;
  }
  await wal.close();
  segmentsDeleted += wal.stats().segmentsDeleted;
  recordsRewritten += wal.stats().recordsRewritten;
  const final = await WriteAheadLog.open(disk, '/instance', limits);
  assert.equal(fingerprint(WalModel.fromRecovered(final.recovered)), fingerprint(current), `seed ${seed}: clean reopen`);
  await final.wal.close();
  assert.equal(disk.openFileCount(), 0, `seed ${seed}: files left open`);
  return { crashes, tornTails, segmentsDeleted, recordsRewritten };
}

test('recovery after random crashes keeps every synced record and nothing after a torn frame', async () => {
  console.log(`wal crash seeds ${seeds[0]}..${seeds[seeds.length - 1]} (ATOLL_WAL_SEED=<seed> replays one)`);
  let crashes = 0;
  let tornTails = 0;
  let segmentsDeleted = 0;
  let recordsRewritten = 0;
  for (const seed of seeds) {
    try {
      const result = await runScenario(seed);
      crashes += result.crashes;
      tornTails += result.tornTails;
      segmentsDeleted += result.segmentsDeleted;
      recordsRewritten += result.recordsRewritten;
    } catch (error) {
      console.log(`wal crash test failed with seed ${seed}: replay with ATOLL_WAL_SEED=${seed}`);
      throw error;
    }
  }
  console.log(`wal crash: ${seeds.length} seeds, ${crashes} crashes, ${tornTails} torn tails cut, ${segmentsDeleted} segments deleted, ${recordsRewritten} records rewritten`);
  if (replaySeed === undefined) {
    // The scenario must exercise what it claims to.
    assert.ok(tornTails > 0, 'no crash tore a frame');
    assert.ok(segmentsDeleted > 0, 'no segment was ever deleted');
    assert.ok(recordsRewritten > 0, 'no hard state or mark was ever rewritten');
  }
});
