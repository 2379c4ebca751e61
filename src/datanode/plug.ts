// The datanode's plug into the node runtime (src/nodeagent): the factory that opens data
// partitions on the configured disks, and the DataNode service.
import type { DatanodeConfig } from '../config/index.js';
import type { NodeRolePlug } from '../nodeagent/index.js';
import { PartitionKind } from '../proto/generated/master.js';
import { DataPartition, type DataPartitionHooks } from './data-partition.js';
import { DiskSpace } from './disk-space.js';
import { extentLimitsDefault } from './extent/index.js';
import { buildDataNodeLimits, type DataNodeLimits } from './limits.js';
import { PeerDirectory } from './peer-directory.js';
import { runRepairRound, type RepairDeps } from './repair-runner.js';
import { RepairSlots } from './repair-slots.js';
import { RepairThrottle } from './repair-throttle.js';
import { registerDataNodeService } from './service.js';

/**
 * TEST HOOK: `ATOLL_TEST_PARTITION_LOAD_DELAY_MS` makes each partition's open wait that
 * long, so that tests can watch staged start-up (PARTITION_NOT_READY, /readyz progress)
 * of a node whose partitions would otherwise load faster than a probe. Nothing sets it
 * outside tests.
 */
const loadDelayMs = Number(process.env.ATOLL_TEST_PARTITION_LOAD_DELAY_MS ?? 0);

export function datanodePlug(config: DatanodeConfig, overrides: Partial<DataNodeLimits> = {}): NodeRolePlug {
  const limits = buildDataNodeLimits(overrides);
  const diskSpace = new DiskSpace({ disks: config.disks, reservedBytes: config.diskReserved, capacityBytes: config.diskCapacity, refreshMs: limits.diskSpaceRefreshMs });
  let repairDeps: RepairDeps | null = null;
  const repair = (): RepairDeps => {
    if (repairDeps === null) throw new Error('datanode: repair used before the service was registered');
    return repairDeps;
  };
  const hooks: DataPartitionHooks = {
    repairRound: (partition) =>
      runRepairRound(partition, repair()).catch((error: unknown) => {
        partition.context.logger.warn({ err: (error as Error).message }, 'repair round failed');
      }),
    repairIntervalMs: limits.repairIntervalMs,
    repairIdleMs: limits.repairIdleMs,
    packetBytesMax: limits.packetBytesMax,
    extentBytesMax: extentLimitsDefault.extentBytesMax,
  };
  return {
    factory: {
      kind: PartitionKind.PARTITION_DATA,
      open: async (spec, dir) => {
        if (loadDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, loadDelayMs));
        return DataPartition.open(spec, dir, diskSpace, hooks);
      },
    },
    servicePayloadPool: { bufferBytes: limits.packetBytesMax, buffersFreeMax: limits.appendBuffersFreeMax },
    registerService: (instance, partitions, rpc, masterClient) => {
      const peers = new PeerDirectory(masterClient, limits.peerLookupIntervalMs);
      const throttle = new RepairThrottle(limits.repairBytesPerSecondMax);
      repairDeps = {
        rpc,
        peers,
        limits,
        throttle,
        slots: new RepairSlots(config.repairsInFlightMax),
        get selfAddress() {
          return `${config.host}:${instance.ports.service}`;
        },
      };
      registerDataNodeService(instance.rpc, { host: partitions, rpc, peers, limits, repair });
    },
    statusExtra: () => ({ disks: diskSpace.rooms() }),
    // The disks as configured: budgets (`disk-capacity`) and the reserve count.
    usage: () => diskSpace.usage(),
  };
}
