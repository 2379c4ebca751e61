// bench:wal — what the disk allows and what the write-ahead log makes of it, in a
// temporary directory on the real disk (BENCH_DIR, default the OS temp directory):
// (a) the ceiling: append 128 bytes + fdatasync, one entry per sync; and for the
//     preallocation question, the same overwriting a file zero-filled in advance;
// (b) the WAL: 128-byte entries from 1 and 64 groups, 1, 64 and 1024 entries per sync;
// (c) group commit: 64 groups each appending one entry and awaiting sync() on its own.
//
// The disk's fdatasync rate drifts a lot here (1,500 to 4,300 per second between
// consecutive runs on the shared VM), so rounds run every measurement in turn, the best
// of each is reported, and the comparisons are medians of per-round ratios of
// measurements taken back to back (the WAL at one entry per sync right after the bare
// ceiling, the zeroed-file overwrite right after that).
// Environment: BENCH_SECONDS (per measurement, default 2), BENCH_ROUNDS (default 3),
// BENCH_ONLY (run only measurements whose key contains it), BENCH_DIR.
// The last line printed is one JSON object with every figure.
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeDisk } from '../../src/disk/index.js';
import type { Entry, LogIndex, Term } from '../../src/raft/index.js';
import { EntryType } from '../../src/raft/index.js';
import { WriteAheadLog } from '../../src/wal/index.js';
import { ceilingAppend, type CeilingMeasurement } from './ceiling.js';

const seconds = Number(process.env.BENCH_SECONDS ?? '2');
const rounds = Number(process.env.BENCH_ROUNDS ?? '3');
const only = process.env.BENCH_ONLY ?? '';
const entryBytes = 128;
const payload = new Uint8Array(entryBytes).fill(0x5a);

type Measurement = CeilingMeasurement;

function elapsedSeconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function ceilingPreallocated(directory: string): Promise<Measurement> {
  // Zero-filled and synced in advance, so each fdatasync flushes data only, not a new size.
  const fileBytes = 32 * 1024 * 1024;
  const handle = await open(join(directory, `ceiling-preallocated-${Date.now()}`), 'w+');
  const zeros = new Uint8Array(1024 * 1024);
  for (let offset = 0; offset < fileBytes; offset += zeros.byteLength) await handle.write(zeros, 0, zeros.byteLength, offset);
  await handle.sync();
  let syncs = 0;
  let position = 0;
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await handle.write(payload, 0, entryBytes, position);
    await handle.datasync();
    syncs += 1;
    position = (position + entryBytes) % fileBytes;
  }
  const elapsed = elapsedSeconds(started);
  await handle.close();
  return { entriesPerSecond: syncs / elapsed, syncsPerEntry: 1, syncsPerSecond: syncs / elapsed };
}

function makeEntry(index: number, term: number): Entry {
  return { index: index as LogIndex, term: term as Term, type: EntryType.Normal, data: payload };
}

async function walBatches(directory: string, groups: number, entriesPerSync: number): Promise<Measurement> {
  const dir = await mkdtemp(join(directory, 'wal-'));
  const { wal } = await WriteAheadLog.open(new NodeDisk(), dir);
  const nextIndex = new Array<number>(groups).fill(1);
  let entries = 0;
  let group = 0;
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (let count = 0; count < entriesPerSync; count++) {
      wal.appendEntries(group + 1, [makeEntry(nextIndex[group]!++, 1)]);
      group = (group + 1) % groups;
    }
    await wal.sync();
    entries += entriesPerSync;
  }
  const elapsed = elapsedSeconds(started);
  const { syncs } = wal.stats();
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  return { entriesPerSecond: entries / elapsed, syncsPerEntry: syncs / entries, syncsPerSecond: syncs / elapsed };
}

async function walConcurrentGroups(directory: string, groups: number): Promise<Measurement> {
  const dir = await mkdtemp(join(directory, 'wal-'));
  const { wal } = await WriteAheadLog.open(new NodeDisk(), dir);
  let entries = 0;
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  // Each group is a Raft replica persisting one entry per Ready and waiting for it.
  const replica = async (groupId: number): Promise<void> => {
    for (let index = 1; Date.now() < end; index++) {
      wal.appendEntries(groupId, [makeEntry(index, 1)]);
      await wal.sync();
      entries += 1;
    }
  };
  await Promise.all(Array.from({ length: groups }, (_, offset) => replica(offset + 1)));
  const elapsed = elapsedSeconds(started);
  const { syncs } = wal.stats();
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  return { entriesPerSecond: entries / elapsed, syncsPerEntry: syncs / entries, syncsPerSecond: syncs / elapsed };
}

function line(name: string, measurement: Measurement): void {
  const rate = Math.round(measurement.entriesPerSecond).toLocaleString('en-US').padStart(10);
  const syncs = Math.round(measurement.syncsPerSecond).toLocaleString('en-US').padStart(7);
  console.log(`${name.padEnd(52)} ${rate} entries/s  ${measurement.syncsPerEntry.toFixed(4)} syncs/entry  ${syncs} fdatasync/s`);
}

async function main(): Promise<void> {
  const base = process.env.BENCH_DIR ?? tmpdir();
  const directory = await mkdtemp(join(base, 'atoll-bench-wal-'));
  const fileSystem = await statfs(directory);
  console.log(
    `bench:wal on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, dir ${directory} (fs type 0x${fileSystem.type.toString(16)}), ${seconds}s per measurement, best of ${rounds}`,
  );
  const measurements: { key: string; name: string; measure: () => Promise<Measurement> }[] = [
    { key: 'ceilingAppend', name: 'ceiling: append 128 B + fdatasync', measure: () => ceilingAppend(directory, seconds, entryBytes) },
  ];
  for (const groups of [1, 64]) {
    for (const entriesPerSync of [1, 64, 1024]) {
      measurements.push({
        key: `wal_${groups}groups_${entriesPerSync}perSync`,
        name: `wal: ${groups} group${groups > 1 ? 's' : ''}, ${entriesPerSync} entries per sync`,
        measure: () => walBatches(directory, groups, entriesPerSync),
      });
    }
  }
  measurements.push({ key: 'wal_64groups_concurrent', name: 'wal: 64 groups, each 1 entry + await sync()', measure: () => walConcurrentGroups(directory, 64) });
  // Right after the WAL at one entry per sync, so that the pairs are back to back.
  measurements.splice(2, 0, { key: 'ceilingPreallocated', name: 'ceiling: overwrite 128 B in a zeroed file + fdatasync', measure: () => ceilingPreallocated(directory) });
  const selected = measurements.filter((measurement) => measurement.key.includes(only));
  const perRound: Record<string, Measurement[]> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const { key, measure } of selected) (perRound[key] ??= []).push(await measure());
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  const results: Record<string, Measurement> = {};
  for (const { key, name } of selected) {
    results[key] = perRound[key]!.reduce((left, right) => (right.entriesPerSecond > left.entriesPerSecond ? right : left));
    line(name, results[key]!);
  }
  const medianRatio = (numerator: string, denominator: string): number | undefined => {
    const top = perRound[numerator];
    const bottom = perRound[denominator];
    if (top === undefined || bottom === undefined) return undefined;
    const ratios = top.map((measurement, round) => measurement.entriesPerSecond / bottom[round]!.entriesPerSecond).sort((left, right) => left - right);
    return ratios[Math.floor(ratios.length / 2)];
  };
  const comparisons = {
    walOneEntryPerSyncOverCeiling: medianRatio('wal_1groups_1perSync', 'ceilingAppend'),
    preallocatedOverAppendCeiling: medianRatio('ceilingPreallocated', 'ceilingAppend'),
  };
  const percent = (ratio: number | undefined): string => (ratio === undefined ? '-' : `${(ratio * 100).toFixed(0)}%`);
  console.log(
    `median of back-to-back pairs: wal at 1 entry per sync / bare ceiling ${percent(comparisons.walOneEntryPerSyncOverCeiling)}; zeroed-file overwrite / append ceiling ${percent(comparisons.preallocatedOverAppendCeiling)}`,
  );
  console.log(JSON.stringify({ bench: 'wal', seconds, rounds, entryBytes, node: process.version, results, comparisons }));
}

await main();
