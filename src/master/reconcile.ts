// The tasks a node gets back in its heartbeat. Level-triggered: computed afresh at every
// heartbeat from the state (what the master wants) and the node's own report (what it
// has), so a lost or failed task comes back until the report shows it done, tasks need no
// ids, and a new master leader gives the same tasks as the old one. Pure.
//
// Membership moves one change at a time, adds before removes: a group of 3 losing a
// member goes 3 -> 4 -> 3, never 3 -> 2 -> 3, so it keeps its fault tolerance throughout.
import { assert } from '../errors/assert.js';
import { NodeTask, NodeTaskKind, PartitionKind } from '../proto/generated/master.js';
import type { PartitionReport } from '../proto/generated/master.js';
import type { PeerAddress } from '../proto/generated/raft.js';
import type { MasterState, PartitionKindName, PartitionRecord } from './state.js';

/** Tasks in one heartbeat response; the rest come at later heartbeats (level-triggered). */
export const nodeTasksPerHeartbeatMax = 64;

export function peerAddressOf(state: MasterState, nodeId: number): PeerAddress | undefined {
  const node = state.nodes[String(nodeId)];
  if (node === undefined) return undefined;
  return { nodeId, host: node.host, heartbeatPort: node.raftHeartbeatPort, replicaPort: node.raftReplicaPort };
}

/** The tasks for `nodeId`, ascending by partition id, at most nodeTasksPerHeartbeatMax. */
export function tasksForNode(state: MasterState, nodeId: number, reports: readonly PartitionReport[]): NodeTask[] {
  const reportById = new Map(reports.map((report) => [report.partitionId, report]));
  const partitionIds = new Set([...Object.values(state.partitions).map((partition) => partition.id), ...reportById.keys()]);
  const tasks: NodeTask[] = [];
  for (const partitionId of [...partitionIds].sort((a, b) => a - b)) {
    const partition = state.partitions[String(partitionId)];
    const report = reportById.get(partitionId);
    if (partition !== undefined) tasks.push(...taskForPartition(state, nodeId, partition, report));
    else {
      assert(report !== undefined, () => `partition ${partitionId} is neither in the state nor reported`);
      tasks.push(...taskForUnknownPartition(state, report));
    }
    if (tasks.length >= nodeTasksPerHeartbeatMax) return tasks.slice(0, nodeTasksPerHeartbeatMax);
  }
  return tasks;
}

// A partition the state does not have: deleted with its volume. One whose id the state
// has not allocated yet is newer than this state (a master whose apply lags, or a state
// restored from an older copy, which records it as a stray): keep it, as a stray too.
function taskForUnknownPartition(state: MasterState, report: PartitionReport): NodeTask[] {
  if (report.partitionId >= state.nextPartitionId || state.strayPartitionIds.includes(report.partitionId)) return [];
  return [NodeTask.create({ kind: NodeTaskKind.TASK_DELETE_PARTITION, partitionKind: report.kind, partitionId: report.partitionId })];
}

function taskForPartition(state: MasterState, nodeId: number, partition: PartitionRecord, report: PartitionReport | undefined): NodeTask[] {
  if (report === undefined) {
    if (!partition.peers.includes(nodeId)) return [];
    const create = createTask(state, nodeId, partition);
    return create === undefined ? [] : [create];
  }
  // A leader of an older term than the recorded one was deposed and does not know yet:
  // whatever it was told to do could not commit.
  const leading = report.isLeader && report.term >= partition.leaderTerm;
  // The recorded members lag the leader's own report by up to one recording batch; a
  // leader still in its own configuration hands over before its replica goes.
  const member = partition.peers.includes(nodeId) || partition.reportedMembers.includes(nodeId) || (leading && report.members.includes(nodeId));
  if (!member) return [partitionTask(partition, NodeTaskKind.TASK_DELETE_PARTITION)];
  if (!leading) return [];
  const tasks: NodeTask[] = [];
  const membership = membershipTask(state, nodeId, partition, report);
  if (membership !== undefined) tasks.push(membership);
  if (partition.kind === 'meta' && partition.inodeEnd !== 0 && report.inodeEnd !== partition.inodeEnd) {
    tasks.push(partitionTask(partition, NodeTaskKind.TASK_SET_INODE_END));
  }
  return tasks;
}

// A replica starts either a new group (no leader ever reported members: every founding
// replica bootstraps with exactly `peers`) or joins the formed one empty, knowing its
// current members and itself. Without every member's address no task is sent: a
// bootstrap with fewer members would found a different group.
function createTask(state: MasterState, nodeId: number, partition: PartitionRecord): NodeTask | undefined {
  const bootstrap = partition.reportedMembers.length === 0;
  const memberIds = bootstrap ? [...partition.peers] : [...new Set([...partition.reportedMembers, nodeId])].sort((a, b) => a - b);
  const peers: PeerAddress[] = [];
  for (const memberId of memberIds) {
    const address = peerAddressOf(state, memberId);
    if (address === undefined) return undefined;
    peers.push(address);
  }
  return { ...partitionTask(partition, NodeTaskKind.TASK_CREATE_PARTITION), peers, bootstrap };
}

// Sent to the leader only. One membership change at a time; members missing from the
// state (mid-change) are skipped, never guessed.
function membershipTask(state: MasterState, nodeId: number, partition: PartitionRecord, report: PartitionReport): NodeTask | undefined {
  const members = new Set(report.members);
  const wanted = new Set(partition.peers);
  const toAdd = ascending(partition.peers.filter((id) => !members.has(id)));
  if (toAdd.length > 0) return memberTask(state, partition, NodeTaskKind.TASK_ADD_MEMBER, toAdd);

  const toRemove = ascending(report.members.filter((id) => !wanted.has(id)));
  const othersToRemove = toRemove.filter((id) => id !== nodeId);
  if (othersToRemove.length > 0) return memberTask(state, partition, NodeTaskKind.TASK_REMOVE_MEMBER, othersToRemove);
  // A leader cannot remove itself and keep leading: it hands over first, and the next
  // leader removes it.
  if (toRemove.includes(nodeId)) {
    const successors = ascending(partition.peers.filter((id) => id !== nodeId && members.has(id)));
    return memberTask(state, partition, NodeTaskKind.TASK_TRANSFER_LEADER, successors);
  }

  const preferred = partition.preferredLeaderNodeId;
  if (preferred !== 0 && preferred !== nodeId && members.has(preferred)) {
    return memberTask(state, partition, NodeTaskKind.TASK_TRANSFER_LEADER, [preferred]);
  }
  return undefined;
}

// The task about the first of `candidateIds` whose node the state knows.
function memberTask(state: MasterState, partition: PartitionRecord, kind: NodeTaskKind, candidateIds: readonly number[]): NodeTask | undefined {
  for (const candidateId of candidateIds) {
    const member = peerAddressOf(state, candidateId);
    if (member !== undefined) return { ...partitionTask(partition, kind), member };
  }
  return undefined;
}

function partitionTask(partition: PartitionRecord, kind: NodeTaskKind): NodeTask {
  return NodeTask.create({
    kind,
    partitionKind: protoPartitionKind(partition.kind),
    partitionId: partition.id,
    volume: partition.volume,
    inodeStart: partition.kind === 'meta' ? partition.inodeStart : 0,
    inodeEnd: partition.kind === 'meta' ? partition.inodeEnd : 0,
    capacityBytes: partition.kind === 'data' ? partition.capacityBytes : 0,
  });
}

function protoPartitionKind(kind: PartitionKindName): PartitionKind {
  return kind === 'meta' ? PartitionKind.PARTITION_META : PartitionKind.PARTITION_DATA;
}

function ascending(ids: readonly number[]): number[] {
  return [...ids].sort((a, b) => a - b);
}
