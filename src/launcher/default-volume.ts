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

export async function ensureDefaultVolume(plan: ClusterPlan): Promise<{ name: string; created: boolean }> {
  const secret = (await readFile(plan.secretFile, 'utf8')).replace(/\r?\n$/, '');
  const adminToken = plan.adminTokenFile === undefined ? undefined : (await readFile(plan.adminTokenFile, 'utf8')).replace(/\r?\n$/, '');
  const rpc = new RpcClient({ secret, instance: 'atoll-start' });
  const client = new MasterClient({ masters: mastersOf(plan), rpc, adminToken });
  try {
    const existing = await client.admin('GET', `/api/v1/volumes/${defaultVolumeName}`);
    if (existing.status === 200) return { name: defaultVolumeName, created: false };
    if (existing.status !== 404) throw new AtollError(StatusCode.UNAVAILABLE, `cannot look up the default volume: HTTP ${existing.status} ${JSON.stringify(existing.body)}`);
    const created = await client.admin('POST', '/api/v1/volumes', { name: defaultVolumeName, capacityBytes: defaultVolumeCapacityBytes, description: 'made by atoll start' });
    if (created.status !== 201) throw new AtollError(StatusCode.UNAVAILABLE, `cannot create the default volume: HTTP ${created.status} ${JSON.stringify(created.body)}`);
    return { name: defaultVolumeName, created: true };
  } finally {
    await client.stop();
    await rpc.close();
  }
}
