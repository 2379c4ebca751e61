// The master's state as etcd records, one key per record, under `<prefix>/state/`:
//
//   settings              the cluster settings
//   counters              nextNodeId, nextVolumeId, nextPartitionId (ids are never reused),
//                         strayPartitionIds
//   nodes/<id>            a NodeRecord
//   volumes/<name>        a VolumeRecord without viewVersion: the view version is the
//                         record's mod_revision (the record is rewritten whenever the
//                         volume's view changes)
//   partitions/<id>       a PartitionRecord
//
// Pure: the state to records, two states to the writes between them, records back to a
// state. The etcd backend (etcd-coordination.ts) does the I/O.
import { emptyMasterState } from './state-machine.js';
import { defaultClusterSettings, type MasterState, type NodeRecord, type PartitionRecord, type VolumeRecord } from './state.js';

export const settingsRecordKey = 'settings';
export const countersRecordKey = 'counters';

/** Relative key (under `<prefix>/state/`) → JSON text of the record. */
export type StateRecords = ReadonlyMap<string, string>;

export function stateRecords(state: MasterState): Map<string, string> {
  const records = new Map<string, string>();
  records.set(settingsRecordKey, JSON.stringify(state.settings));
  records.set(countersRecordKey, JSON.stringify({ nextNodeId: state.nextNodeId, nextVolumeId: state.nextVolumeId, nextPartitionId: state.nextPartitionId, strayPartitionIds: state.strayPartitionIds }));
  for (const node of Object.values(state.nodes)) records.set(`nodes/${node.id}`, JSON.stringify(node));
  for (const volume of Object.values(state.volumes)) {
    const { viewVersion: _viewVersion, ...stored } = volume;
    records.set(`volumes/${volume.name}`, JSON.stringify(stored));
  }
  for (const partition of Object.values(state.partitions)) records.set(`partitions/${partition.id}`, JSON.stringify(partition));
  return records;
}

export interface StateWrite {
  readonly key: string;
  /** undefined: delete the key. */
  readonly value: string | undefined;
}

// Writes are ordered so that a command split over several transactions never leaves a
// partition whose volume is not there before it, nor one after it (loadState drops such
// orphans): counters first (an id once handed out stays used), volumes deleted before
// their partitions, volumes put after theirs.
function writeRank(key: string, value: string | undefined): number {
  if (key === countersRecordKey) return 0;
  if (key === settingsRecordKey) return 1;
  if (key.startsWith('nodes/')) return 2;
  if (key.startsWith('volumes/')) return value === undefined ? 3 : 6;
  return value === undefined ? 5 : 4;
}

/**
 * The writes that turn `before` into `after`: every changed or new record, every removed
 * one, and the record of every volume in `viewsChanged` (its view version moves).
 */
export function stateWrites(before: StateRecords, after: StateRecords, viewsChanged: ReadonlySet<string>): StateWrite[] {
  const writes: StateWrite[] = [];
  for (const [key, value] of after) {
    const volumeName = key.startsWith('volumes/') ? key.slice('volumes/'.length) : null;
    if (before.get(key) !== value || (volumeName !== null && viewsChanged.has(volumeName))) writes.push({ key, value });
  }
  for (const key of before.keys()) if (!after.has(key)) writes.push({ key, value: undefined });
  return writes.sort((a, b) => writeRank(a.key, a.value) - writeRank(b.key, b.value) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Splits writes into transactions of at most `opsMax` operations and about `bytesMax` bytes. */
export function chunkWrites(writes: readonly StateWrite[], opsMax: number, bytesMax: number): StateWrite[][] {
  const chunks: StateWrite[][] = [];
  let current: StateWrite[] = [];
  let bytes = 0;
  for (const write of writes) {
    // Base64 grows by a third; keys and framing add a little.
    const size = Math.ceil(((write.value?.length ?? 0) + write.key.length) * 4 / 3) + 64;
    if (current.length > 0 && (current.length >= opsMax || bytes + size > bytesMax)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(write);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export interface LoadedRecord {
  /** Relative key. */
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
}

export interface LoadedState {
  readonly state: MasterState;
  /** Records in etcd, as loaded (orphans left out). */
  readonly records: Map<string, string>;
  /** Keys of partitions whose volume is missing: a split command cut short. */
  readonly orphans: readonly string[];
  /** mod_revision of the counters record, 0 if there is none yet. */
  readonly countersModRevision: number;
}

/** The state the records hold at `revision` (every record read at that one revision). */
export function loadState(clusterName: string, loaded: readonly LoadedRecord[], revision: number): LoadedState {
  const base = emptyMasterState(clusterName);
  let settings = base.settings;
  let counters = { nextNodeId: base.nextNodeId, nextVolumeId: base.nextVolumeId, nextPartitionId: base.nextPartitionId, strayPartitionIds: base.strayPartitionIds };
  let countersModRevision = 0;
  const nodes: Record<string, NodeRecord> = {};
  const volumes: Record<string, VolumeRecord> = {};
  const partitions: Record<string, PartitionRecord> = {};
  const records = new Map<string, string>();
  for (const record of loaded) {
    const parsed = JSON.parse(record.value) as Record<string, unknown>;
    if (record.key === settingsRecordKey) {
      settings = { ...defaultClusterSettings, ...parsed };
    } else if (record.key === countersRecordKey) {
      counters = { ...counters, ...(parsed as Partial<typeof counters>) };
      countersModRevision = record.modRevision;
    } else if (record.key.startsWith('nodes/')) {
      nodes[(parsed as unknown as NodeRecord).id] = parsed as unknown as NodeRecord;
    } else if (record.key.startsWith('volumes/')) {
      const volume = { ...parsed, viewVersion: record.modRevision } as unknown as VolumeRecord;
      volumes[volume.name] = volume;
    } else if (record.key.startsWith('partitions/')) {
      partitions[(parsed as unknown as PartitionRecord).id] = parsed as unknown as PartitionRecord;
    } else {
      continue;
    }
    records.set(record.key, record.value);
  }
  const orphans: string[] = [];
  for (const [id, partition] of Object.entries(partitions)) {
    if (volumes[partition.volume] !== undefined) continue;
    delete partitions[id];
    records.delete(`partitions/${id}`);
    orphans.push(`partitions/${id}`);
  }
  const state: MasterState = { ...base, ...counters, settings, appliedIndex: revision, nodes, volumes, partitions };
  return { state, records, orphans, countersModRevision };
}
