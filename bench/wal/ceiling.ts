// The disk's bare ceiling for a log that syncs every entry: append entryBytes to a file
// and fdatasync, one entry per sync, straight on a FileHandle. Shared by bench:wal and
// bench:raft, which both compare against it in the same run.
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface CeilingMeasurement {
  entriesPerSecond: number;
  syncsPerEntry: number;
  syncsPerSecond: number;
}

// Bounds the loop by count as well as by time (a disk that lies about syncs is fast).
const ceilingSyncsMax = 10_000_000;

export async function ceilingAppend(directory: string, seconds: number, entryBytes: number): Promise<CeilingMeasurement> {
  const path = join(directory, `ceiling-append-${process.pid}-${Date.now()}`);
  const payload = new Uint8Array(entryBytes).fill(0x5a);
  const handle = await open(path, 'a');
  let syncs = 0;
  let elapsed = 0;
  try {
    const started = process.hrtime.bigint();
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end && syncs < ceilingSyncsMax) {
      await handle.write(payload, 0, entryBytes, null);
      await handle.datasync();
      syncs += 1;
    }
    elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await handle.close();
    await rm(path, { force: true });
  }
  return { entriesPerSecond: syncs / elapsed, syncsPerEntry: 1, syncsPerSecond: syncs / elapsed };
}
