// The volume `atoll start` makes so that a new local cluster is usable at once. Created
// through the masters' admin API like any operator's volume; an existing one is kept.
import { readFile } from 'node:fs/promises';
import { AtollError } from '../errors/atoll-error.js';
import { MasterClient } from '../masterclient/index.js';
import { StatusCode } from '../proto/generated/common.js';
import { RpcClient } from '../rpc/index.js';
import { mastersOf, type ClusterPlan } from './local-cluster.js';

export const defaultVolumeName = 'default';
export const defaultVolumeCapacityBytes = 100 * 2 ** 30;
/** How long `atoll start` waits for the default volume's partitions to elect leaders. */
export const defaultVolumeLeadersWaitMs = 60_000;

/**
 * Makes the default volume if it is missing, then waits (bounded) until every one of its
 * partitions has a leader, so the volume takes reads and writes when start says ready.
 */
export async function ensureDefaultVolume(plan: ClusterPlan): Promise<{ name: string; created: boolean; partitionsLed: boolean }> {
  const secret = (await readFile(plan.secretFile, 'utf8')).replace(/\r?\n$/, '');
  const adminToken = plan.adminTokenFile === undefined ? undefined : (await readFile(plan.adminTokenFile, 'utf8')).replace(/\r?\n$/, '');
  const rpc = new RpcClient({ secret, instance: 'atoll-start' });
  const client = new MasterClient({ masters: mastersOf(plan), rpc, adminToken });
  try {
    const existing = await client.admin('GET', `/api/v1/volumes/${defaultVolumeName}`);
    let created = false;
    if (existing.status === 404) {
      const answer = await client.admin('POST', '/api/v1/volumes', { name: defaultVolumeName, capacityBytes: defaultVolumeCapacityBytes, description: 'made by atoll start' });
      if (answer.status !== 201) throw new AtollError(StatusCode.UNAVAILABLE, `cannot create the default volume: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
      created = true;
    } else if (existing.status !== 200) {
      throw new AtollError(StatusCode.UNAVAILABLE, `cannot look up the default volume: HTTP ${existing.status} ${JSON.stringify(existing.body)}`);
    }
    const deadline = Date.now() + defaultVolumeLeadersWaitMs;
    let partitionsLed = false;
    while (!partitionsLed && Date.now() < deadline) {
      const view = await client.getVolumeView(defaultVolumeName).catch(() => null);
      partitionsLed = view !== null && [...view.metaPartitions, ...view.dataPartitions].every((partition) => partition.leaderNodeId !== 0);
      if (!partitionsLed) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { name: defaultVolumeName, created, partitionsLed };
  } finally {
    await client.stop();
    await rpc.close();
  }
}
