// The etcd coordination on its own against a real etcd, with tiny txn and page limits so
// that one command spans several fenced transactions and a load spans several pages:
// the state a second master loads equals the first's, view versions are the revisions
// that wrote the volume records, and a resigning leader hands over at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError } from '../errors/atoll-error.js';
import { EtcdClient } from '../etcd/etcd-client.js';
import { etcdSuiteOptions, startTestEtcd, type TestEtcd } from '../etcd/testing/etcd-available.js';
import { createLogger } from '../observability/index.js';
import { StatusCode } from '../proto/generated/common.js';
import type { RegisterNodeCommand } from './commands.js';
import { EtcdCoordination } from './etcd-coordination.js';
import type { MasterState } from './state.js';
import { waitFor } from './testing/master-group.js';

const prefix = '/atoll-test/coordination';

function registration(index: number, role: 'metanode' | 'datanode'): RegisterNodeCommand {
  return {
    type: 'registerNode', nowMs: 1_000, nodeId: 0, registrationToken: `token-${role}-${index}`, role, instance: `${role}-${index}`,
    host: `host-${index}`, servicePort: 20_000 + index, httpPort: 21_000 + index, raftHeartbeatPort: 22_000 + index, raftReplicaPort: 23_000 + index, zone: 'default', capacityBytes: 0,
  };
}

/** The state without what differs between masters by construction (the revision each read). */
function comparable(state: MasterState): unknown {
  return { ...state, appliedIndex: 0 };
}

describe('etcd coordination, one command over several transactions', { timeout: 120_000, ...etcdSuiteOptions('etcd coordination') }, () => {
  let server: TestEtcd;
  let etcd: EtcdClient;
  const started: EtcdCoordination[] = [];

  const coordination = (nodeId: number) => {
    const made = new EtcdCoordination({
      client: new EtcdClient({ endpoints: [server.etcd.endpoint] }),
      prefix,
      leaseTtlMs: 2_000,
      nodeId,
      selfAddress: `127.0.0.1:${10_000 + nodeId}`,
      clusterName: 'atoll',
      logger: createLogger({ role: 'master', instance: `coordination-${nodeId}`, level: (process.env.ATOLL_TEST_LOG_LEVEL ?? 'warn') as 'warn' }),
      limits: { txnOpsMax: 4, loadPageRecords: 3, followerRefreshMs: 100 },
    });
    started.push(made);
    return made;
  };

  before(async () => {
    server = await startTestEtcd();
    etcd = new EtcdClient({ endpoints: [server.etcd.endpoint] });
  });

  after(async () => {
    await Promise.all(started.map((made) => made.stop()));
    etcd?.close();
    await server?.dispose();
  });

  test('writes in chunks, loads in pages, and hands over on resign', async () => {
    const first = coordination(1);
    await first.start();
    await waitFor('the first master to lead', 10_000, () => (first.status().role === 'leader' ? true : undefined));
    const second = coordination(2);
    await second.start();
    await waitFor('the second master to follow', 10_000, () => (second.status().role === 'follower' ? true : undefined));
    assert.equal(second.status().leaderAddress, '127.0.0.1:10001');
    await assert.rejects(second.propose(registration(9, 'metanode')), (error: unknown) => error instanceof AtollError && error.status === StatusCode.NOT_LEADER && error.leaderHint === '127.0.0.1:10001');

    for (let index = 1; index <= 3; index++) await first.propose(registration(index, 'metanode'));
    for (let index = 1; index <= 3; index++) await first.propose(registration(index, 'datanode'));
    const before = (await etcd.range('/', { limit: 1 })).revision;
    const created = await first.propose({
      type: 'createVolume', nowMs: 2_000, name: 'wide', owner: 'root', accessKey: 'a', secretKey: 's', capacityBytes: 2 ** 30, replicaCount: 3, trashRetentionHours: 0, description: '',
      metaPartitions: [{ peers: [1, 2, 3] }, { peers: [1, 2, 3] }],
      dataPartitions: Array.from({ length: 6 }, () => ({ peers: [4, 5, 6] })),
    }) as { volumeId: number };
    assert.equal(created.volumeId, 1);
    const afterRevision = (await etcd.range('/', { limit: 1 })).revision;
    // counters + 8 partitions + the volume, at most 3 per txn (4 minus the fence's share).
    assert.ok(afterRevision - before >= 4, `one command took ${afterRevision - before} transactions`);
    const volumeRecord = (await etcd.get(`${prefix}/state/volumes/wide`))!;
    assert.equal(first.state.volumes.wide!.viewVersion, volumeRecord.modRevision);
    assert.equal(volumeRecord.modRevision, afterRevision, 'the volume record is written last');
    // A refused command writes nothing.
    await assert.rejects(first.propose({ type: 'deleteVolume', name: 'missing' }), (error: unknown) => error instanceof AtollError && error.status === StatusCode.NOT_FOUND);
    assert.equal((await etcd.range('/', { limit: 1 })).revision, afterRevision);

    await waitFor('the follower to load the same state', 10_000, () => {
      assert.deepEqual(comparable(second.state), comparable(first.state));
      return true;
    });

    // The leader resigns (stop revokes its lease): the follower leads at once with the same state.
    const leaderState = first.state;
    const firstTerm = first.status().term;
    const stoppedAt = Date.now();
    await first.stop();
    await waitFor('the second master to lead', 10_000, () => (second.status().role === 'leader' ? true : undefined));
    assert.ok(Date.now() - stoppedAt < 2_000, 'a resigned lease hands over without waiting for the TTL');
    assert.deepEqual(comparable(second.state), comparable(leaderState));
    assert.ok(second.status().term > firstTerm, 'the term grows with the new leader');
    const split = await second.propose({ type: 'updateVolume', name: 'wide', description: 'after the handover' }) as { volume: string };
    assert.equal(split.volume, 'wide');
    assert.ok(second.state.volumes.wide!.viewVersion > leaderState.volumes.wide!.viewVersion, 'view versions only grow across leaders');
  });
});
