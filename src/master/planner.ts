// The leader's periodic background work: from the state (and the heartbeats it holds in
// memory) decide which commands to propose this round. Pure: time comes in as input, the
// result is a list of commands; the server proposes them and runs the next round on a
// state that has applied them, so a decision not yet applied is never taken twice.
//
// A round, in this order:
//   1. liveness: silent nodes become inactive, inactive nodes that speak again active;
//   2. replacement: replicas of nodes inactive for long get a replacement elsewhere;
//   3. decommission: replicas move off decommissioning nodes, a few at a time;
//   4. split: a volume's last meta partition splits when its inode cursor runs far in;
//   5. data floor: a volume gets new data partitions when too few are writable.
// No two commands of one round touch the same partition: a later rule skips a partition
// an earlier one changed, and takes it up at a later round.
import { AtollError, isAtollError } from '../errors/atoll-error.js';
import { assert } from '../errors/assert.js';
import { StatusCode } from '../proto/generated/common.js';
import type { MasterCommand, SetNodeStateCommand, SetPartitionPeersCommand } from './commands.js';
import { PlacementLoad, choosePeers, choosePeersForPartitions, roleForPartitionKind } from './placement.js';
import type { ClusterSettings, MasterState, MetaPartitionRecord, NodeRecord, NodeStateName, PartitionRecord, VolumeRecord } from './state.js';

/** Default of PlannerInput.movesInFlightMax. */
export const movesInFlightMaxDefault = 4;
/** New data partitions one volume gets in one round; the floor is reached over rounds. */
export const dataPartitionsCreatedPerVolumeMax = 8;
/** A data partition filled to this percentage of its capacity no longer counts as writable. */
export const dataPartitionWritableFillPercentMax = 90;

export interface PlannerInput {
  readonly state: MasterState;
  /** Wall clock, ms since the epoch. */
  readonly nowMs: number;
  /** When this master became leader (wall clock). */
  readonly leaderSinceMs: number;
  /** The leader's in-memory last heartbeat per node id (fresher than the state's). */
  readonly lastHeartbeatAtMs: ReadonlyMap<number, number>;
  /** At most this many partitions moving off one decommissioning node at a time (default 4). */
  readonly movesInFlightMax?: number;
}

export interface PlannedWork {
  readonly commands: MasterCommand[];
  /** Sentences for the log: what was decided and why, or why something could not be. */
  readonly notes: string[];
}

export interface DecommissionProgress {
  readonly nodeId: number;
  readonly state: NodeStateName;
  /** Replicas the node still holds or is still a Raft member of (one per partition). */
  readonly replicasRemaining: number;
  /** Their partition ids, ascending. */
  readonly partitionsRemaining: number[];
}

// What the rules of one round share.
interface Round {
  readonly input: PlannerInput;
  /** The state as placement should see it: with this round's liveness changes. */
  readonly placementState: MasterState;
  readonly load: PlacementLoad;
  readonly commands: MasterCommand[];
  readonly notes: string[];
  readonly touchedPartitionIds: Set<number>;
}

export function planBackgroundWork(input: PlannerInput): PlannedWork {
  const movesInFlightMax = input.movesInFlightMax ?? movesInFlightMaxDefault;
  assert(Number.isInteger(movesInFlightMax) && movesInFlightMax >= 1, () => `movesInFlightMax ${movesInFlightMax}`);
  const notes: string[] = [];
  const livenessChanges = planLiveness(input, notes);
  const placementState = withNodeStates(input.state, livenessChanges);
  const round: Round = {
    input,
    placementState,
    load: PlacementLoad.fromState(input.state),
    commands: [...livenessChanges],
    notes,
    touchedPartitionIds: new Set(),
  };
  planReplacements(round);
  planDecommissions(round, movesInFlightMax);
  planRepairs(round);
  planSplits(round);
  planDataFloor(round);
  return { commands: round.commands, notes: round.notes };
}

export function decommissionProgress(state: MasterState, nodeId: number): DecommissionProgress {
  const node = state.nodes[String(nodeId)];
  if (node === undefined) throw new AtollError(StatusCode.NOT_FOUND, `cannot report decommission progress of node ${nodeId}: no such node`);
  const partitionsRemaining = partitionsHolding(state, nodeId).map((partition) => partition.id);
  return { nodeId, state: node.state, replicasRemaining: partitionsRemaining.length, partitionsRemaining };
}

/** The later of the heartbeat recorded in the state and the one the leader holds in memory. */
export function lastHeartbeatOf(input: PlannerInput, node: NodeRecord): number {
  return Math.max(node.lastHeartbeatAtMs, input.lastHeartbeatAtMs.get(node.id) ?? 0);
}

// A new leader has heard from nobody yet: its in-memory heartbeats are empty and the
// state's are only as fresh as the last batch the old leader recorded. Until a full
// inactivity period has passed since it took over, silence proves nothing.
function leaderGraceOver(input: PlannerInput): boolean {
  return input.nowMs - input.leaderSinceMs >= input.state.settings.nodeInactiveAfterMs;
}

function planLiveness(input: PlannerInput, notes: string[]): SetNodeStateCommand[] {
  const { state, nowMs } = input;
  const inactiveAfterMs = state.settings.nodeInactiveAfterMs;
  const graceOver = leaderGraceOver(input);
  const changes: SetNodeStateCommand[] = [];
  for (const node of nodesById(state)) {
    const silentMs = nowMs - lastHeartbeatOf(input, node);
    if (node.state === 'active' && silentMs > inactiveAfterMs && graceOver) {
      changes.push({ type: 'setNodeState', nowMs, nodeId: node.id, state: 'inactive' });
      notes.push(`${describeNode(node)} marked inactive: no heartbeat for ${silentMs} ms`);
    } else if (node.state === 'inactive' && silentMs <= inactiveAfterMs) {
      changes.push({ type: 'setNodeState', nowMs, nodeId: node.id, state: 'active', replaced: false });
      notes.push(`${describeNode(node)} active again`);
    }
  }
  return changes;
}

function planReplacements(round: Round): void {
  const { state, nowMs } = round.input;
  // Replacing copies whole replicas: a new leader waits as for liveness, in case the node
  // is alive and talking only to it.
  if (!leaderGraceOver(round.input)) return;
  for (const node of nodesById(round.placementState)) {
    if (node.state !== 'inactive' || node.replaced) continue;
    if (nowMs - node.stateSinceMs <= state.settings.replicaReplaceAfterMs) continue;
    const failures: string[] = [];
    let waiting = 0;
    for (const partition of partitionsById(state)) {
      if (!partition.peers.includes(node.id)) continue;
      if (!mayChangePeers(round, partition)) {
        waiting++;
        continue;
      }
      const outcome = swapPeer(round, partition, node.id);
      if (typeof outcome === 'string') failures.push(outcome);
      else round.commands.push(outcome);
    }
    if (failures.length > 0) {
      round.notes.push(`${describeNode(node)} not replaced: ${failures.length} of its partitions got no new replica: ${failures[0]}`);
    } else if (waiting > 0) {
      round.notes.push(`${describeNode(node)} replacement waits on ${waiting} partitions (changed this round, or their Raft group has not formed)`);
    } else {
      round.commands.push({ type: 'setNodeState', nowMs, nodeId: node.id, state: 'inactive', replaced: true });
      round.notes.push(`${describeNode(node)} replaced: inactive for ${nowMs - node.stateSinceMs} ms`);
    }
  }
}

function planDecommissions(round: Round, movesInFlightMax: number): void {
  const { state, nowMs } = round.input;
  for (const node of nodesById(state)) {
    if (node.state !== 'decommissioning') continue;
    const holding = partitionsHolding(state, node.id);
    if (holding.length === 0) {
      round.commands.push({ type: 'setNodeState', nowMs, nodeId: node.id, state: 'decommissioned' });
      round.notes.push(`${describeNode(node)} decommissioned: it holds no replica any more`);
      continue;
    }
    // Out of `peers` but still a reported member: the move was decided and the partition's
    // leader has not finished it yet.
    const inFlight = holding.filter((partition) => !partition.peers.includes(node.id)).length;
    let budget = movesInFlightMax - inFlight;
    for (const partition of holding) {
      if (budget <= 0) break;
      if (!partition.peers.includes(node.id) || !mayChangePeers(round, partition)) continue;
      const outcome = swapPeer(round, partition, node.id);
      if (typeof outcome === 'string') {
        round.notes.push(`${describeNode(node)} decommission stalled: ${outcome}`);
        break;
      }
      round.commands.push(outcome);
      budget--;
    }
  }
}

// Where a split ends the last meta partition: it keeps room for the inodes it may still
// allocate while the split reaches its leader (the share of the range beyond the split
// threshold), and at least a whole range. Operators' splits use it too.
export function splitInodeEnd(settings: ClusterSettings, last: MetaPartitionRecord): number {
  const { metaPartitionInodeRange: range, metaPartitionSplitPercent: splitPercent } = settings;
  return Math.max(last.inodeStart + range, last.inodeCursor + Math.floor((range * (100 - splitPercent)) / 100));
}

function planSplits(round: Round): void {
  const { state, nowMs } = round.input;
  const { metaPartitionInodeRange: range, metaPartitionSplitPercent: splitPercent } = state.settings;
  for (const volume of activeVolumesByName(state)) {
    const last = lastMetaPartition(state, volume.name);
    if (last === undefined || round.touchedPartitionIds.has(last.id)) continue;
    if (last.inodeCursor - last.inodeStart < (range * splitPercent) / 100) continue;
    const inodeEnd = splitInodeEnd(state.settings, last);
    let peers: number[];
    try {
      peers = choosePeers(round.placementState, { role: 'metanode', count: volume.replicaCount }, round.load).nodeIds;
    } catch (error) {
      if (!isAtollError(error, StatusCode.NO_SPACE)) throw error;
      round.notes.push(`volume ${volume.name}: meta partition ${last.id} not split: ${error.message}`);
      continue;
    }
    round.touchedPartitionIds.add(last.id);
    round.commands.push({ type: 'splitMetaPartition', nowMs, partitionId: last.id, inodeEnd, peers });
    round.notes.push(`volume ${volume.name}: meta partition ${last.id} splits at inode ${inodeEnd} (cursor ${last.inodeCursor})`);
  }
}

function planDataFloor(round: Round): void {
  const { state, nowMs } = round.input;
  for (const volume of activeVolumesByName(state)) {
    const writable = partitionsById(state).filter((partition) => partition.volume === volume.name && isWritableDataPartition(partition)).length;
    const missing = state.settings.dataPartitionsWritableMin - writable;
    if (missing <= 0) continue;
    const count = Math.min(missing, dataPartitionsCreatedPerVolumeMax);
    try {
      const placement = choosePeersForPartitions(round.placementState, 'datanode', count, volume.replicaCount, round.load);
      round.commands.push({ type: 'createPartitions', nowMs, volume: volume.name, kind: 'data', partitions: placement.peers.map((peers) => ({ peers })) });
      round.notes.push(`volume ${volume.name}: ${count} data partitions created (${writable} writable, ${state.settings.dataPartitionsWritableMin} wanted)`);
      for (const note of placement.notes) round.notes.push(`volume ${volume.name}: ${note}`);
    } catch (error) {
      if (!isAtollError(error, StatusCode.NO_SPACE)) throw error;
      round.notes.push(`volume ${volume.name}: no data partition created (${writable} writable): ${error.message}`);
    }
  }
}

function isWritableDataPartition(partition: PartitionRecord): boolean {
  return (
    partition.kind === 'data' &&
    partition.status === 'read-write' &&
    partition.usedBytes < (partition.capacityBytes * dataPartitionWritableFillPercentMax) / 100
  );
}

// A group whose leader never reported has not formed: its founding replicas bootstrap
// with exactly `peers`, and a replica bootstrapped with different members would make a
// conflicting configuration at the same log index. Its peers change once it formed.
// A formed partition with fewer replicas than its volume's replica count (an operator
// removed one, or an earlier placement had too few nodes) gets one more per round.
// More replicas than the count are left alone: an operator may want them.
function planRepairs(round: Round): void {
  const { state } = round.input;
  for (const partition of partitionsById(state)) {
    const volume = state.volumes[partition.volume];
    if (volume === undefined || partition.peers.length >= volume.replicaCount || !mayChangePeers(round, partition)) continue;
    const leaving = partition.reportedMembers.filter((id) => !partition.peers.includes(id));
    try {
      const result = choosePeers(
        round.placementState,
        { role: roleForPartitionKind(partition.kind), count: 1, keepNodeIds: partition.peers, excludeNodeIds: leaving },
        round.load,
      );
      if (result.note !== '') round.notes.push(`partition ${partition.id}: ${result.note}`);
      round.touchedPartitionIds.add(partition.id);
      round.commands.push({ type: 'setPartitionPeers', partitionId: partition.id, expectedPeers: partition.peers, peers: [...partition.peers, result.nodeIds[0]!] });
    } catch (error) {
      if (!isAtollError(error, StatusCode.NO_SPACE)) throw error;
      round.notes.push(`partition ${partition.id} has ${partition.peers.length} of ${volume.replicaCount} replicas: ${error.message}`);
    }
  }
}

function mayChangePeers(round: Round, partition: PartitionRecord): boolean {
  return !round.touchedPartitionIds.has(partition.id) && partition.reportedMembers.length !== 0;
}

// The partition's peers with `nodeId` replaced by a newly placed node (same position), or
// why none could be placed.
function swapPeer(round: Round, partition: PartitionRecord, nodeId: number): SetPartitionPeersCommand | string {
  const keepNodeIds = partition.peers.filter((id) => id !== nodeId);
  // Members being removed are leaving for a reason; do not bring them back.
  const leaving = partition.reportedMembers.filter((id) => !partition.peers.includes(id));
  let chosen: number;
  try {
    const result = choosePeers(
      round.placementState,
      { role: roleForPartitionKind(partition.kind), count: 1, keepNodeIds, excludeNodeIds: [nodeId, ...leaving] },
      round.load,
    );
    chosen = result.nodeIds[0];
    if (result.note !== '') round.notes.push(`partition ${partition.id}: ${result.note}`);
  } catch (error) {
    if (!isAtollError(error, StatusCode.NO_SPACE)) throw error;
    return `partition ${partition.id}: ${error.message}`;
  }
  round.touchedPartitionIds.add(partition.id);
  return { type: 'setPartitionPeers', partitionId: partition.id, expectedPeers: partition.peers, peers: partition.peers.map((id) => (id === nodeId ? chosen : id)) };
}

function withNodeStates(state: MasterState, changes: readonly SetNodeStateCommand[]): MasterState {
  if (changes.length === 0) return state;
  const nodes = { ...state.nodes };
  for (const change of changes) {
    const node = nodes[String(change.nodeId)];
    nodes[String(change.nodeId)] = { ...node, state: change.state, stateSinceMs: change.nowMs, replaced: change.replaced ?? node.replaced };
  }
  return { ...state, nodes };
}

/** Partitions that have the node in `peers` or `reportedMembers`, ascending by id. */
function partitionsHolding(state: MasterState, nodeId: number): PartitionRecord[] {
  return partitionsById(state).filter((partition) => partition.peers.includes(nodeId) || partition.reportedMembers.includes(nodeId));
}

function lastMetaPartition(state: MasterState, volume: string): MetaPartitionRecord | undefined {
  let last: MetaPartitionRecord | undefined;
  for (const partition of Object.values(state.partitions)) {
    if (partition.kind !== 'meta' || partition.volume !== volume || partition.inodeEnd !== 0) continue;
    if (last === undefined || partition.inodeStart > last.inodeStart) last = partition;
  }
  return last;
}

function nodesById(state: MasterState): NodeRecord[] {
  return Object.values(state.nodes).sort((a, b) => a.id - b.id);
}

function partitionsById(state: MasterState): PartitionRecord[] {
  return Object.values(state.partitions).sort((a, b) => a.id - b.id);
}

// Code-unit order, not localeCompare: the same on every machine.
function activeVolumesByName(state: MasterState): VolumeRecord[] {
  return Object.values(state.volumes)
    .filter((volume) => volume.status === 'active')
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function describeNode(node: NodeRecord): string {
  return `${node.role} ${node.id} (${node.instance} on ${node.host})`;
}
