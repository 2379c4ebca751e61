// The repair protocol around the pure planner (repair-plan.ts): the leader gathers every
// replica's extent summary (ExtentInfo), plans, and sends each replica its repairs
// (Repair); a replica copies what it lacks from the named source with repair reads,
// throttled per node.
import { crc32 } from '../checksum/index.js';
import { AtollError, StatusCode, isAtollError } from '../errors/index.js';
import { DataNode, ExtentInfoResponse, type ExtentRepair, type ExtentSummary } from '../proto/generated/datanode.js';
import type { RpcClient } from '../rpc/index.js';
import type { DataPartition } from './data-partition.js';
import type { DataNodeLimits } from './limits.js';
import type { PeerDirectory } from './peer-directory.js';
import { equalTinyExtents, planRepair, type ReplicaExtent, type ReplicaReport } from './repair-plan.js';
import type { RepairSlots } from './repair-slots.js';
import type { RepairThrottle } from './repair-throttle.js';

export interface RepairDeps {
  readonly rpc: RpcClient;
  readonly peers: PeerDirectory;
  readonly selfAddress: string;
  readonly limits: DataNodeLimits;
  readonly throttle: RepairThrottle;
  /** Repairs of this node in flight, bounded by `repairs-in-flight-max`. */
  readonly slots: RepairSlots;
}

/** What this replica holds, as ExtentInfo answers it. */
export function summarize(partition: DataPartition): ExtentInfoResponse {
  const store = partition.store;
  const extents: ExtentSummary[] = store.list().map((extent) => {
    const crcs = store.blockCrcs(extent.extentId);
    const packed = new Uint8Array(crcs.length * 4);
    const view = new DataView(packed.buffer);
    crcs.forEach((crc, index) => view.setUint32(index * 4, crc));
    return { extentId: extent.extentId, size: extent.size, tiny: extent.tiny, blockCrcs: packed, badBlocks: store.badBlocksOf(extent.extentId) };
  });
  return ExtentInfoResponse.create({ extents, deletedExtentIds: store.deletedExtentIds(), caughtUp: partition.caughtUp, writtenIndex: partition.writtenIndex() });
}

function reportOf(nodeId: number, address: string, info: ExtentInfoResponse): ReplicaReport {
  const extents = new Map<number, ReplicaExtent>();
  for (const extent of info.extents) {
    const view = new DataView(extent.blockCrcs.buffer, extent.blockCrcs.byteOffset, extent.blockCrcs.byteLength);
    const blockCrcs: number[] = [];
    for (let offset = 0; offset + 4 <= extent.blockCrcs.byteLength; offset += 4) blockCrcs.push(view.getUint32(offset));
    extents.set(extent.extentId, { size: extent.size, tiny: extent.tiny, blockCrcs, badBlocks: extent.badBlocks });
  }
  return { nodeId, address, extents, deleted: new Set(info.deletedExtentIds), writtenIndex: info.writtenIndex };
}

/** One round, run by the leader. Unreachable followers are left for a later round. */
export async function runRepairRound(partition: DataPartition, deps: RepairDeps): Promise<void> {
  const context = partition.context;
  const partitionId = partition.partitionId;
  const self = context.nodeId;
  const followers = context.members().filter((nodeId) => nodeId !== self);
  let addresses: string[];
  try {
    addresses = await deps.peers.resolve(partition.spec.volume, followers);
  } catch (error) {
    context.logger.warn({ err: (error as Error).message }, 'repair round skipped: follower addresses unknown');
    return;
  }
  const reports: ReplicaReport[] = [reportOf(self, deps.selfAddress, summarize(partition))];
  await Promise.all(
    followers.map(async (nodeId, index) => {
      try {
        const info = await deps.rpc.call(addresses[index]!, DataNode.extentInfo, { partitionId }, { deadlineMs: deps.limits.forwardDeadlineMs });
        reports.push(reportOf(nodeId, addresses[index]!, info));
      } catch (error) {
        context.logger.debug({ follower: nodeId, err: (error as Error).message }, 'repair: follower did not answer');
      }
    }),
  );
  const busy = partition.busyExtents(Date.now());
  const plan = planRepair({ leaderNodeId: self, replicas: reports, blockBytes: blockBytesOf(partition), busyExtents: busy, extentsPerReplicaMax: deps.limits.repairExtentsPerRoundMax });
  if (reports.length === followers.length + 1) partition.tinyVerified(equalTinyExtents(reports, plan, busy, deps.limits.repairExtentsPerRoundMax));
  // The leader repairs itself first: a follower may be about to copy from it.
  const own = plan.repairs.get(self) ?? [];
  if (own.length > 0) {
    try {
      const copied = await executeRepairs(partition, own.map(toWire), deps);
      context.logger.info({ repairs: own.length, copiedBytes: copied }, 'repaired this replica (leader)');
    } catch (error) {
      context.logger.warn({ err: (error as Error).message }, 'repair of the leader failed; retried next round');
      return;
    }
  }
  if (plan.complete.has(self)) partition.caughtUp = true;
  await Promise.all(
    reports
      .filter((report) => report.nodeId !== self)
      .map(async (report) => {
        const repairs = (plan.repairs.get(report.nodeId) ?? []).map(toWire);
        try {
          await deps.rpc.call(report.address, DataNode.repair, { partitionId, repairs, caughtUp: plan.complete.has(report.nodeId) }, { deadlineMs: 120_000 });
          if (repairs.length > 0) context.logger.info({ follower: report.nodeId, repairs: repairs.length }, 'repaired a follower');
        } catch (error) {
          context.logger.warn({ follower: report.nodeId, err: (error as Error).message }, 'repair of a follower failed; retried next round');
        }
      }),
  );
}

function toWire(repair: { extentId: number; source: string; targetSize: number; blocks: readonly number[]; delete: boolean }): ExtentRepair {
  return { extentId: repair.extentId, source: repair.source, targetSize: repair.targetSize, blocks: [...repair.blocks], delete: repair.delete };
}

function blockBytesOf(partition: DataPartition): number {
  return partition.store.blockBytes;
}

/**
 * Carries out repairs on this replica; resolves with the bytes copied. Throws OVERLOADED
 * when the node already has `repairs-in-flight-max` repairs running.
 */
export function executeRepairs(partition: DataPartition, repairs: readonly ExtentRepair[], deps: RepairDeps): Promise<number> {
  return deps.slots.run(partition.partitionId, () => copyRepairs(partition, repairs, deps));
}

async function copyRepairs(partition: DataPartition, repairs: readonly ExtentRepair[], deps: RepairDeps): Promise<number> {
  const store = partition.store;
  const partitionId = partition.partitionId;
  const blockBytes = blockBytesOf(partition);
  let copied = 0;
  const fetch = async (source: string, extentId: number, offset: number, size: number): Promise<{ bytes: Uint8Array; crc: number }> => {
    await deps.throttle.take(size);
    const { response, payload } = await deps.rpc.callWithPayload(source, DataNode.read, { partitionId, extentId, offset, size, forRepair: true }, { deadlineMs: deps.limits.forwardDeadlineMs });
    if (payload.byteLength !== size || crc32(payload) !== response.crc32) {
      throw new AtollError(StatusCode.CHECKSUM_MISMATCH, `repair read of extent ${extentId} [${offset}, ${offset + size}) from ${source}: ${payload.byteLength} bytes, CRC does not match`);
    }
    copied += size;
    return { bytes: new Uint8Array(payload), crc: response.crc32 };
  };
  for (const repair of repairs) {
    const extentId = repair.extentId;
    if (repair.delete) {
      if (store.hasExtent(extentId) && extentId >= 1024) {
        try {
          await store.deleteExtent(extentId);
        } catch (error) {
          // A client's delete of the same extent got there first: the repair is done.
          if (!(isAtollError(error, StatusCode.NOT_FOUND) && store.isDeleted(extentId))) throw error;
        }
        partition.extentDeleted(extentId);
      }
      continue;
    }
    if (!store.hasExtent(extentId)) {
      if (store.isDeleted(extentId)) continue;
      partition.checkRoom('repair', Math.max(0, repair.targetSize));
      await store.createExtent(extentId);
    }
    for (const block of repair.blocks) {
      const start = block * blockBytes;
      const size = Math.min(blockBytes, store.size(extentId) - start);
      if (size <= 0) continue;
      // An overwrite (or a release) of the extent seen here since the plan was made: the
      // copies differ because of it, not because of damage; a later round compares again.
      if (partition.busyExtents(Date.now()).has(extentId)) break;
      const { bytes, crc } = await fetch(repair.source, extentId, start, size);
      if (partition.busyExtents(Date.now()).has(extentId)) break;
      await store.replaceBlock(extentId, block, bytes, crc);
    }
    // Bounded: each turn copies up to one packet.
    for (let turn = 0; store.size(extentId) < repair.targetSize; turn++) {
      if (turn > Math.ceil(repair.targetSize / deps.limits.packetBytesMax) + 1) throw new AtollError(StatusCode.INTERNAL, `repair of extent ${extentId}: copy loop ran past its packets`);
      const offset = store.size(extentId);
      const size = Math.min(deps.limits.packetBytesMax, repair.targetSize - offset);
      partition.checkRoom('repair', size);
      const { bytes } = await fetch(repair.source, extentId, offset, size);
      await store.appendCopied(extentId, offset, bytes);
    }
  }
  if (copied > 0) await store.sync();
  return copied;
}
