// A metanode's memory budget is respected by placement, with real processes: a metanode
// whose resident memory passes 75% of its `memory-budget` gets no new meta partition,
// and the master's NO_SPACE answer says why.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { metanodeMemoryUsedPercentMax } from '../master/placement.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';

interface NodeRow {
  readonly id: number;
  readonly role: string;
  readonly instance: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

const smallBudgetBytes = 64 * 2 ** 20; // the least memory-budget allows; an idle metanode uses more

describe('placement and metanode memory budgets', { timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let smallName: string;

  before(async () => {
    cluster = await TestCluster.start({
      masters: 1,
      metanodes: 3,
      datanodes: 3,
      args: (instance) => {
        if (instance.role === 'datanode') return ['--disk-reserved', '0'];
        if (instance.role === 'metanode' && smallName === undefined) smallName = instance.name;
        return instance.name === smallName ? ['--memory-budget', '64MiB'] : [];
      },
    });
  });

  after(async () => {
    await cluster?.stop();
  });

  test('a metanode past the threshold of its budget is left out, and NO_SPACE counts it', async () => {
    // Registration records capacity and 0 used; heartbeats bring the resident memory.
    const deadline = Date.now() + 60_000;
    let nodes: NodeRow[] = [];
    for (;;) {
      nodes = ((await cluster.admin('GET', '/api/v1/nodes')).body.nodes as NodeRow[]).filter((node) => node.role === 'metanode');
      const small = nodes.find((node) => node.instance === smallName);
      if (nodes.length === 3 && small !== undefined && small.usedBytes * 100 >= small.capacityBytes * metanodeMemoryUsedPercentMax) break;
      assert.ok(Date.now() < deadline, `the small-budget metanode never reported its memory: ${JSON.stringify(nodes)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const small = nodes.find((node) => node.instance === smallName)!;
    assert.equal(small.capacityBytes, smallBudgetBytes, 'the budget is the reported capacity');

    const refused = await cluster.admin('POST', '/api/v1/volumes', { name: 'three', capacityBytes: 2 ** 30, replicaCount: 3 });
    assert.equal(refused.status, 507, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'NO_SPACE');
    assert.match(refused.body.error.message, new RegExp(`only 2 active metanodes can take one \\(1 using ${metanodeMemoryUsedPercentMax}% or more of its memory budget\\)`));

    const created = await cluster.admin('POST', '/api/v1/volumes', { name: 'two', capacityBytes: 2 ** 30, replicaCount: 2 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const partitions = (await cluster.admin('GET', '/api/v1/partitions?volume=two&kind=meta')).body.partitions as Array<{ peers: number[] }>;
    assert.ok(partitions.length > 0);
    for (const partition of partitions) assert.ok(!partition.peers.includes(small.id), `meta partition on the metanode over its budget: ${JSON.stringify(partition)}`);
  });
});
