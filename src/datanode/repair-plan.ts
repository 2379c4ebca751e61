// One repair round of a data partition, decided by its leader: pure, from what each
// replica reported (extent sizes, block CRCs, bad blocks, deletions). Rules (design.md,
// "Repair"):
// - an extent deleted on any replica is deleted on every replica;
// - the longest copy wins: every shorter or missing copy appends what it lacks from a
//   replica holding the most bytes (acknowledged bytes are on every replica, so the
//   longest copy holds them all; an unacknowledged tail gets copied too, never exposed);
// - a block that is whole on several replicas and differs, or failed its CRC on a read,
//   is copied again from a replica that holds the majority's CRC and reads it clean;
// - an extent appended to within `idleMs` is left alone (its stream is still going).

export interface ReplicaExtent {
  readonly size: number;
  readonly tiny: boolean;
  readonly blockCrcs: readonly number[];
  readonly badBlocks: readonly number[];
}

export interface ReplicaReport {
  readonly nodeId: number;
  /** Service address other replicas read from. */
  readonly address: string;
  readonly extents: ReadonlyMap<number, ReplicaExtent>;
  readonly deleted: ReadonlySet<number>;
}

export interface PlannedRepair {
  readonly extentId: number;
  /** Service address to copy from ('' for a delete). */
  readonly source: string;
  /** Append [own size, targetSize) from the source; 0: no tail to copy. */
  readonly targetSize: number;
  readonly blocks: readonly number[];
  readonly delete: boolean;
}

export interface RepairPlan {
  /** Per node id: what it must do (possibly nothing). */
  readonly repairs: ReadonlyMap<number, PlannedRepair[]>;
  /** Node ids that hold everything the round compared once their repairs are done. */
  readonly complete: ReadonlySet<number>;
}

export interface RepairPlanInput {
  readonly leaderNodeId: number;
  readonly replicas: readonly ReplicaReport[];
  readonly blockBytes: number;
  /** Extent ids the leader saw appended within the idle period. */
  readonly busyExtents: ReadonlySet<number>;
  readonly extentsPerReplicaMax: number;
}

export function planRepair(input: RepairPlanInput): RepairPlan {
  const { replicas, blockBytes } = input;
  const repairs = new Map<number, PlannedRepair[]>(replicas.map((replica) => [replica.nodeId, []]));
  const incomplete = new Set<number>();
  const add = (nodeId: number, repair: PlannedRepair): void => {
    const list = repairs.get(nodeId)!;
    if (list.length >= input.extentsPerReplicaMax) {
      incomplete.add(nodeId);
      return;
    }
    list.push(repair);
  };
  const ids = new Set<number>();
  for (const replica of replicas) {
    for (const extentId of replica.extents.keys()) ids.add(extentId);
  }
  const deletedAnywhere = new Set<number>();
  for (const replica of replicas) for (const extentId of replica.deleted) deletedAnywhere.add(extentId);
  // The leader first, so that on a tie it is the source.
  const ordered = [...replicas].sort((left, right) => (left.nodeId === input.leaderNodeId ? -1 : right.nodeId === input.leaderNodeId ? 1 : left.nodeId - right.nodeId));

  for (const extentId of [...ids].sort((left, right) => left - right)) {
    if (deletedAnywhere.has(extentId)) {
      for (const replica of ordered) if (replica.extents.has(extentId)) add(replica.nodeId, { extentId, source: '', targetSize: 0, blocks: [], delete: true });
      continue;
    }
    const holders = ordered.filter((replica) => replica.extents.has(extentId));
    let longest = holders[0]!;
    for (const holder of holders) if (holder.extents.get(extentId)!.size > longest.extents.get(extentId)!.size) longest = holder;
    const target = longest.extents.get(extentId)!.size;
    if (input.busyExtents.has(extentId)) {
      // A live stream: any replica that differs now is caught by a later round.
      for (const replica of ordered) if (replica.extents.get(extentId)?.size !== target) incomplete.add(replica.nodeId);
      continue;
    }
    const blocksFor = new Map<number, number[]>();
    const sourceFor = new Map<number, string>();
    const blockCount = Math.ceil(target / blockBytes);
    for (let block = 0; block < blockCount; block++) {
      const blockEnd = Math.min((block + 1) * blockBytes, target);
      // Replicas holding this block whole, as the longest copy has it.
      const whole = holders.filter((replica) => replica.extents.get(extentId)!.size >= blockEnd);
      const votes = new Map<number, { count: number; clean: ReplicaReport[] }>();
      for (const replica of whole) {
        const extent = replica.extents.get(extentId)!;
        if (extent.badBlocks.includes(block)) continue;
        const crc = extent.blockCrcs[block]!;
        const vote = votes.get(crc) ?? { count: 0, clean: [] };
        vote.count += 1;
        vote.clean.push(replica);
        votes.set(crc, vote);
      }
      let winner: { crc: number; count: number; clean: ReplicaReport[] } | undefined;
      for (const [crc, vote] of votes) if (winner === undefined || vote.count > winner.count) winner = { crc, ...vote };
      if (winner === undefined) continue; // no clean copy anywhere: nothing to copy from
      for (const replica of whole) {
        const extent = replica.extents.get(extentId)!;
        if (!extent.badBlocks.includes(block) && extent.blockCrcs[block] === winner.crc) continue;
        const list = blocksFor.get(replica.nodeId) ?? [];
        list.push(block);
        blocksFor.set(replica.nodeId, list);
        sourceFor.set(replica.nodeId, winner.clean[0]!.address);
      }
    }
    for (const replica of ordered) {
      const size = replica.extents.get(extentId)?.size ?? -1;
      const blocks = blocksFor.get(replica.nodeId) ?? [];
      if (blocks.length > 0) add(replica.nodeId, { extentId, source: sourceFor.get(replica.nodeId)!, targetSize: 0, blocks, delete: false });
      if (size < target) add(replica.nodeId, { extentId, source: longest.address, targetSize: target, blocks: [], delete: false });
    }
  }
  const complete = new Set<number>();
  for (const replica of replicas) if (!incomplete.has(replica.nodeId)) complete.add(replica.nodeId);
  return { repairs, complete };
}

/**
 * Tiny extents the leader may open to small files: the same size on every replica
 * reported, nothing planned for them this round, no file in flight (busy). The caller
 * passes the reports of every member, or none is known equal.
 */
export function equalTinyExtents(reports: readonly ReplicaReport[], plan: RepairPlan, busy: ReadonlySet<number>, extentsPerReplicaMax: number): number[] {
  const planned = new Set<number>();
  for (const repairs of plan.repairs.values()) {
    // A full list may have left repairs out: nothing is known to be equal.
    if (repairs.length >= extentsPerReplicaMax) return [];
    for (const repair of repairs) planned.add(repair.extentId);
  }
  const equal: number[] = [];
  for (const [extentId, extent] of reports[0]?.extents ?? []) {
    if (!extent.tiny || busy.has(extentId) || planned.has(extentId)) continue;
    if (reports.every((report) => report.extents.get(extentId)?.size === extent.size)) equal.push(extentId);
  }
  return equal;
}
