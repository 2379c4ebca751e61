// Real `atoll metanode` processes: SIGKILL the meta partition's leader under a stream of
// creates; the partition keeps serving (a new leader), no acknowledged create is lost, and
// the killed replica, restarted, catches up: made leader, it serves every entry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError } from '../errors/index.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitFor } from '../master/testing/master-group.js';
import { MetaClient } from '../metaclient/index.js';
import { CreateInodeRequest, GetInodeRequest, InodeType, LookupRequest, MetaNode } from '../proto/generated/metanode.js';

describe('metanode processes', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3 });
  });
  after(() => cluster?.stop());

  test('a SIGKILLed leader under load loses no acknowledged create; the restarted replica catches up and can lead', async () => {
    await cluster.createVolume('kill');
    const meta = new MetaClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'kill' });
    const partition = await waitFor('a meta partition leader', 30_000, async () => {
      const view = await meta.refreshView();
      const found = view.metaPartitions[0];
      return found !== undefined && found.leaderNodeId !== 0 ? found : undefined;
    }, 200);
    const partitionId = partition.partitionId;
    await waitFor('the root directory', 30_000, async () => (await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: 1 }), { mutation: false })).inode, 200);

    const acknowledged: string[] = [];
    let stop = false;
    let unknown = 0;
    const writer = async (worker: number): Promise<void> => {
      for (let index = 0; index < 5_000 && !stop; index++) {
        const name = `p${worker}-${index}`;
        try {
          await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: 1, name }), { mutation: true });
          acknowledged.push(name);
        } catch (error) {
          // An answer lost with the killed leader: outcome unknown, not acknowledged.
          unknown += 1;
          assert.ok(unknown < 100, `too many failed creates: ${(error as AtollError).message}`);
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, worker) => writer(worker));
    await waitFor('creates before the kill', 60_000, () => (acknowledged.length >= 300 ? true : undefined), 50);
    const view = await meta.refreshView();
    const current = view.metaPartitions.find((candidate) => candidate.partitionId === partitionId)!;
    const leaderIndex = current.peers.findIndex((peer) => peer.nodeId === current.leaderNodeId);
    const victim = cluster.nameOfAddress(current.peerServiceAddresses[leaderIndex]!)!;
    const victimNodeId = current.leaderNodeId;
    await cluster.kill(victim, 'SIGKILL');
    const atKill = acknowledged.length;
    await waitFor('creates after the kill', 90_000, () => (acknowledged.length >= atKill + 300 ? true : undefined), 50);
    stop = true;
    await Promise.all(writers);

    await cluster.restart(victim);
    // Make the restarted replica the leader: it must hold every acknowledged entry.
    const moved = await cluster.admin('POST', `/api/v1/partitions/${partitionId}/transfer-leader`, { nodeId: victimNodeId });
    assert.equal(moved.status, 202, JSON.stringify(moved.body));
    await waitFor('the restarted replica to lead', 90_000, async () => {
      const fresh = await meta.refreshView();
      return fresh.metaPartitions.find((candidate) => candidate.partitionId === partitionId)?.leaderNodeId === victimNodeId ? true : undefined;
    }, 250);
    for (const name of acknowledged) {
      const found = await meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno: 1, name }), { mutation: false });
      assert.equal(found.dentry!.name, name);
    }
  });
});
