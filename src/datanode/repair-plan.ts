// One repair round of a data partition, decided by its leader: pure, from what each
// replica reported (extent sizes, block CRCs, bad blocks, deletions). Rules (design.md,
// "Repair"):
// - an extent deleted on any replica is deleted on every replica;
// - the longest copy wins: every shorter or missing copy appends what it lacks from a
//   replica holding the most bytes (acknowledged bytes are on every replica, so the
//   longest copy holds them all; an unacknowledged tail gets copied too, never exposed);
// - blocks are compared only between replicas whose CRCs stand at the same Raft index
//   (`writtenIndex`, the highest reported): a replica behind it may just not have written
//   an overwrite yet, and one ahead of the others holds an acknowledged overwrite the
//   others lack; neither is damage. Among those, the CRC held by the most (the leader's
//   on a tie) wins, and a block that differs from it is copied again from a holder;
// - a block that failed its CRC on a read is copied from a clean replica at the same or a
//   higher index (the majority's copy when there is one): never from one that may lack an
//   overwrite the damaged replica had;
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
  /** Raft index the block CRCs stand at (DataPartition.writtenIndex). */
  readonly writtenIndex: number;
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
  /** Extents whose copies differ with nothing decided this round (no majority, or a replica behind). */
  readonly undecided: ReadonlySet<number>;
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
  const undecided = new Set<number>();
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
  const newestIndex = Math.max(...replicas.map((replica) => replica.writtenIndex));
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
    // Per replica, per source address: the blocks to copy from it.
    const blocksFor = new Map<number, Map<string, number[]>>();
    const blockCount = Math.ceil(target / blockBytes);
    for (let block = 0; block < blockCount; block++) {
      const blockEnd = Math.min((block + 1) * blockBytes, target);
      // Replicas holding this block whole, as the longest copy has it.
      const whole = holders.filter((replica) => replica.extents.get(extentId)!.size >= blockEnd);
      const isBad = (replica: ReplicaReport): boolean => replica.extents.get(extentId)!.badBlocks.includes(block);
      const crcOf = (replica: ReplicaReport): number => replica.extents.get(extentId)!.blockCrcs[block]!;
      // Votes: clean copies at the newest index. The most votes win; a tie goes to the
      // copy seen first (the leader's when it votes): tiny extents' deletions and small
      // files reach replicas outside Raft, so after restarts every copy may differ a little
      // and the leader's, which took every acknowledged write, is the best source.
      const votes = new Map<number, ReplicaReport[]>();
      for (const replica of whole) {
        if (isBad(replica) || replica.writtenIndex !== newestIndex) continue;
        const list = votes.get(crcOf(replica)) ?? [];
        list.push(replica);
        votes.set(crcOf(replica), list);
      }
      let winner: { crc: number; holders: ReplicaReport[] } | undefined;
      for (const [crc, list] of votes) if (winner === undefined || list.length > winner.holders.length) winner = { crc, holders: list };
      for (const replica of whole) {
        const bad = isBad(replica);
        if (!bad) {
          if (winner === undefined || crcOf(replica) === winner.crc) continue;
          if (replica.writtenIndex !== newestIndex) {
            // It may only lack an overwrite still on its way: a later round compares it.
            incomplete.add(replica.nodeId);
            undecided.add(extentId);
            continue;
          }
        }
        // A bad block: the majority's copy, else the newest clean copy not behind this one.
        const source =
          winner?.holders.find((holder) => holder !== replica) ??
          whole.filter((other) => other !== replica && !isBad(other) && other.writtenIndex >= replica.writtenIndex).sort((left, right) => right.writtenIndex - left.writtenIndex)[0];
        if (source === undefined) {
          incomplete.add(replica.nodeId);
          undecided.add(extentId);
          continue;
        }
        const bySource = blocksFor.get(replica.nodeId) ?? new Map<string, number[]>();
        bySource.set(source.address, [...(bySource.get(source.address) ?? []), block]);
        blocksFor.set(replica.nodeId, bySource);
      }
    }
    for (const replica of ordered) {
      const size = replica.extents.get(extentId)?.size ?? -1;
      for (const [source, blocks] of blocksFor.get(replica.nodeId) ?? []) add(replica.nodeId, { extentId, source, targetSize: 0, blocks, delete: false });
      if (size < target) add(replica.nodeId, { extentId, source: longest.address, targetSize: target, blocks: [], delete: false });
    }
  }
  const complete = new Set<number>();
  for (const replica of replicas) if (!incomplete.has(replica.nodeId)) complete.add(replica.nodeId);
  return { repairs, complete, undecided };
}

/**
 * Tiny extents the leader may open to small files: the same size on every replica
 * reported, nothing planned or undecided for them this round, no file in flight (busy). The caller
 * passes the reports of every member, or none is known equal.
 */
export function equalTinyExtents(reports: readonly ReplicaReport[], plan: RepairPlan, busy: ReadonlySet<number>, extentsPerReplicaMax: number): number[] {
  const planned = new Set<number>(plan.undecided);
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
