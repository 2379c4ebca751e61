// Placement: which nodes get the replicas of a new partition, or the one replica that
// replaces a lost or leaving one. Pure: it reads the state and returns a decision; the
// leader puts the decision into a command, so apply never places anything and every
// replica applies the same peers.
//
// Spreading, in order of importance: distinct hosts (a machine that dies takes one
// replica, not a quorum), then distinct zones, then the fewest replicas already on the
// node, then the most free space, then the lowest id so that the choice is deterministic.
import { AtollError } from '../errors/atoll-error.js';
import { assert } from '../errors/assert.js';
import { StatusCode } from '../proto/generated/common.js';
import type { ClusterSettings, MasterState, NodeRecord, NodeRoleName, PartitionKindName } from './state.js';

export interface PlacementRequest {
  /** 'metanode' for meta partitions, 'datanode' for data partitions. */
  readonly role: NodeRoleName;
  /** Replicas wanted. */
  readonly count: number;
  /** Never chosen (e.g. the node being replaced). */
  readonly excludeNodeIds?: readonly number[];
  /** Replicas that stay: never chosen again, and their hosts and zones count as taken. */
  readonly keepNodeIds?: readonly number[];
}

export interface PlacementResult {
  /** Exactly `count` node ids, in the order they were chosen. */
  readonly nodeIds: number[];
  /** 'instances' when some chosen replica shares a host with another replica. */
  readonly spread: 'hosts' | 'instances';
  /** '' or a sentence for the log saying why the spread is weaker than wanted. */
  readonly note: string;
}

// A data partition is thin: it starts empty and grows with writes, so a datanode does
// not need room for a full one, but one with almost nothing left would take a replica it
// cannot fill. One sixteenth of a partition is room for it to start taking writes.
const dataNodeFreeShareDivisor = 16;

/**
 * A metanode whose reported memory use (resident memory) has reached this share of its
 * memory budget (`memory-budget`, reported as its capacity) takes no new meta partition
 * replicas: its partitions grow in memory with their files, so it needs headroom for
 * the ones it has (like CubeFS's metanode memory threshold). Splits and moves place the
 * new ranges on metanodes below it.
 */
export const metanodeMemoryUsedPercentMax = 75;

export function dataNodeFreeBytesMin(settings: ClusterSettings): number {
  return Math.floor(settings.dataPartitionCapacityBytes / dataNodeFreeShareDivisor);
}

export function roleForPartitionKind(kind: PartitionKindName): NodeRoleName {
  return kind === 'meta' ? 'metanode' : 'datanode';
}

/**
 * Replicas per node: built from every partition's `peers` (what the master wants, so a
 * move still in progress already counts on its destination). Placing several partitions
 * in one pass shares one load, and each placement adds to it, so they spread.
 */
export class PlacementLoad {
  private readonly replicas = new Map<number, number>();

  static fromState(state: MasterState): PlacementLoad {
    const load = new PlacementLoad();
    for (const partition of Object.values(state.partitions)) load.add(partition.peers);
    return load;
  }

  replicasOn(nodeId: number): number {
    return this.replicas.get(nodeId) ?? 0;
  }

  add(nodeIds: readonly number[]): void {
    for (const nodeId of nodeIds) this.replicas.set(nodeId, this.replicasOn(nodeId) + 1);
  }
}

/**
 * Chooses `count` nodes for new replicas. When `load` is given the chosen nodes are added
 * to it, so the next placement of the same pass sees them.
 * Throws AtollError NO_SPACE when fewer than `count` nodes can take a replica.
 */
export function choosePeers(state: MasterState, request: PlacementRequest, load?: PlacementLoad): PlacementResult {
  const { role, count } = request;
  assert(Number.isInteger(count) && count >= 1, () => `placement of ${count} replicas`);
  const replicaLoad = load ?? PlacementLoad.fromState(state);
  const candidates = eligibleNodes(state, request);
  const kept = (request.keepNodeIds ?? []).map((id) => state.nodes[String(id)]).filter((node) => node !== undefined);

  const takenHosts = new Set(kept.map((node) => node.host));
  const takenZones = new Set(kept.map((node) => node.zone));
  const chosen: NodeRecord[] = [];
  const sharedHosts = new Set<string>();
  const remaining = [...candidates];
  while (chosen.length < count) {
    let bestIndex = 0;
    for (let index = 1; index < remaining.length; index++) {
      if (compareCandidates(remaining[index], remaining[bestIndex], takenHosts, takenZones, replicaLoad) < 0) bestIndex = index;
    }
    const [best] = remaining.splice(bestIndex, 1);
    if (takenHosts.has(best.host)) sharedHosts.add(best.host);
    takenHosts.add(best.host);
    takenZones.add(best.zone);
    chosen.push(best);
  }

  const nodeIds = chosen.map((node) => node.id);
  if (load !== undefined) load.add(nodeIds);
  if (sharedHosts.size === 0) return { nodeIds, spread: 'hosts', note: '' };
  const hostCount = new Set([...candidates, ...kept].map((node) => node.host)).size;
  const note =
    `partition replicas share ${sharedHosts.size === 1 ? 'host' : 'hosts'} ${[...sharedHosts].sort().join(', ')}: ` +
    `only ${hostCount} ${hostCount === 1 ? 'host has' : 'hosts have'} ${eligibleDescription(role)}`;
  return { nodeIds, spread: 'instances', note };
}

export interface PartitionsPlacement {
  /** One list of `replicaCount` node ids per partition. */
  readonly peers: number[][];
  /** Distinct notes of the placements (see PlacementResult.note). */
  readonly notes: string[];
}

/** Places several new partitions in one pass, spreading them over the nodes. */
export function choosePeersForPartitions(
  state: MasterState,
  role: NodeRoleName,
  partitionCount: number,
  replicaCount: number,
  load: PlacementLoad = PlacementLoad.fromState(state),
): PartitionsPlacement {
  assert(Number.isInteger(partitionCount) && partitionCount >= 0, () => `placement of ${partitionCount} partitions`);
  const peers: number[][] = [];
  const notes = new Set<string>();
  for (let index = 0; index < partitionCount; index++) {
    const result = choosePeers(state, { role, count: replicaCount }, load);
    peers.push(result.nodeIds);
    if (result.note !== '') notes.add(result.note);
  }
  return { peers, notes: [...notes] };
}

function eligibleNodes(state: MasterState, request: PlacementRequest): NodeRecord[] {
  const { role, count } = request;
  const skipped = new Set([...(request.excludeNodeIds ?? []), ...(request.keepNodeIds ?? [])]);
  const freeBytesMin = dataNodeFreeBytesMin(state.settings);
  const eligible: NodeRecord[] = [];
  let inactive = 0;
  let excludedOrKept = 0;
  let shortOfSpace = 0;
  let overMemoryBudget = 0;
  for (const node of Object.values(state.nodes)) {
    if (node.role !== role) continue;
    if (node.state !== 'active') inactive++;
    else if (skipped.has(node.id)) excludedOrKept++;
    else if (role === 'datanode' && !hasRoomForPartition(node, freeBytesMin)) shortOfSpace++;
    else if (role === 'metanode' && isOverMemoryBudget(node)) overMemoryBudget++;
    else eligible.push(node);
  }
  if (eligible.length >= count) return eligible;

  const reasons: string[] = [];
  if (excludedOrKept > 0) reasons.push(`${excludedOrKept} excluded or already holding a replica`);
  if (shortOfSpace > 0) reasons.push(`${shortOfSpace} with less than ${freeBytesMin} bytes free`);
  if (overMemoryBudget > 0) reasons.push(`${overMemoryBudget} using ${metanodeMemoryUsedPercentMax}% or more of ${overMemoryBudget === 1 ? 'its' : 'their'} memory budget`);
  if (inactive > 0) reasons.push(`${inactive} not active`);
  throw new AtollError(
    StatusCode.NO_SPACE,
    `cannot place ${plural(count, `${role} replica`)}: only ${eligible.length} active ${eligible.length === 1 ? role : `${role}s`} can take one` +
      (reasons.length === 0 ? '' : ` (${reasons.join('; ')})`),
  );
}

// Unknown capacity (0: the node has not reported it yet) does not block placement: a new
// node would otherwise never get its first replica.
function hasRoomForPartition(node: NodeRecord, freeBytesMin: number): boolean {
  return node.capacityBytes === 0 || node.capacityBytes - node.usedBytes >= freeBytesMin;
}

// Unknown capacity (0) does not block, as for datanodes.
function isOverMemoryBudget(node: NodeRecord): boolean {
  return node.capacityBytes > 0 && node.usedBytes * 100 >= node.capacityBytes * metanodeMemoryUsedPercentMax;
}

// Unknown capacity ranks after any known free space: prefer nodes known to have room.
function freeRatio(node: NodeRecord): number {
  return node.capacityBytes === 0 ? 0 : (node.capacityBytes - node.usedBytes) / node.capacityBytes;
}

function compareCandidates(
  a: NodeRecord,
  b: NodeRecord,
  takenHosts: ReadonlySet<string>,
  takenZones: ReadonlySet<string>,
  load: PlacementLoad,
): number {
  return (
    Number(takenHosts.has(a.host)) - Number(takenHosts.has(b.host)) ||
    Number(takenZones.has(a.zone)) - Number(takenZones.has(b.zone)) ||
    load.replicasOn(a.id) - load.replicasOn(b.id) ||
    freeRatio(b) - freeRatio(a) ||
    a.id - b.id
  );
}

function eligibleDescription(role: NodeRoleName): string {
  return role === 'metanode' ? 'an active metanode' : 'an active datanode with free space';
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
