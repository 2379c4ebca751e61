// TEST ONLY: waits until a volume has `count` data partitions that report a leader and
// take writes (the datanodes create them after the master's tasks, a few heartbeats
// after the volume).
import { waitFor } from '../../master/testing/master-group.js';
import { PartitionStatus, type DataPartitionView } from '../../proto/generated/master.js';
import type { DataClient } from '../data-client.js';

export function waitForWritablePartitions(client: DataClient, count: number, deadlineMs = 90_000): Promise<DataPartitionView[]> {
  return waitFor(`${count} writable data partitions with leaders`, deadlineMs, async () => {
    const view = await client.refreshView();
    const ready = view.dataPartitions.filter((partition) => partition.leaderNodeId !== 0 && partition.status === PartitionStatus.PARTITION_READ_WRITE);
    return ready.length >= count ? ready : undefined;
  }, 200);
}
