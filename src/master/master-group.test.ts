// Three masters inside the test process, on real TCP and real Raft logs: leader-only
// writes with forwarding and redirects, versioned follower reads, and every admin route
// against bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { Master, NodeRole } from '../proto/generated/master.js';
import type { RpcClient } from '../rpc/index.js';
import type { MasterServer } from './master-server.js';
import { NodeFleet } from './testing/node-fleet.js';
import { httpAdmin, newTestRpcClient, planMasterGroup, removePlan, startMasterGroupInProcess, waitFor, waitForLeader, type MasterGroupPlan } from './testing/master-group.js';

describe('a group of three masters', { timeout: 120_000 }, () => {
  let plan: MasterGroupPlan;
  let masters: MasterServer[];
  let client: RpcClient;
  let fleet: NodeFleet;
  let leader: MasterServer;
  let followers: MasterServer[];

  before(async () => {
    plan = await planMasterGroup(3);
    masters = await startMasterGroupInProcess(plan);
    client = newTestRpcClient(plan);
    const leaderAddress = await waitForLeader(client, plan.addresses);
    leader = masters.find((master) => master.selfAddress === leaderAddress)!;
    followers = masters.filter((master) => master !== leader);
    fleet = new NodeFleet(client, plan.addresses);
    await fleet.register('metanode', 3);
    await fleet.register('datanode', 3);
  });

  after(async () => {
    await client?.close();
    await Promise.all((masters ?? []).map((master) => master.stop()));
    if (plan !== undefined) await removePlan(plan);
  });

  const httpPortOf = (master: MasterServer) => master.instance.ports.http;
  const token = () => plan.adminToken;

  test('every master names the same leader, term and members in cluster info', async () => {
    const answers = await Promise.all(masters.map((master) => httpAdmin(httpPortOf(master), 'GET', '/api/v1/cluster')));
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body.leader, leader.selfAddress);
      assert.deepEqual(answer.body.members.map((member: { address: string }) => member.address), [...plan.addresses].sort());
    }
    const states = await waitFor('every member seen by the leader', 5_000, async () => {
      const info = await httpAdmin(httpPortOf(leader), 'GET', '/api/v1/cluster');
      const seen = info.body.members.map((member: { state: string }) => member.state).sort();
      return seen.join(',') === 'follower,follower,leader' ? seen : undefined;
    });
    assert.deepEqual(states, ['follower', 'follower', 'leader']);
    const metrics = await Promise.all(masters.map(async (master) => (await fetch(`http://127.0.0.1:${httpPortOf(master)}/metrics`)).text()));
    const leaders = metrics.map((text) => /^atoll_master_leader\{[^}]*\} (\d)$/m.exec(text)?.[1]);
    assert.deepEqual(leaders.sort(), ['0', '0', '1']);
    assert.match(metrics[0]!, /^atoll_master_nodes\{[^}]*node_role="metanode",state="active"[^}]*\} 3$/m);
  });

  test('a write sent to a follower is forwarded to the leader and reaches every master', async () => {
    const follower = followers[0]!;
    const created = await httpAdmin(httpPortOf(follower), 'POST', '/api/v1/volumes', { token: token(), body: { name: 'forwarded', capacityBytes: 2 ** 30 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.volume.name, 'forwarded');
    assert.match(created.body.volume.secretKey, /^[0-9a-f]{40}$/);
    assert.equal(created.body.metaPartitions.length, 1);
    assert.equal(created.body.dataPartitions.length, 3);
    for (const master of masters) {
      await waitFor(`volume on ${master.selfAddress}`, 5_000, () => (master.state.volumes.forwarded !== undefined ? true : undefined));
    }
    await waitFor('equal state digests', 5_000, () => {
      const digests = new Set(masters.map((master) => master.stateDigest()));
      return digests.size === 1 ? true : undefined;
    });
    // Reads through a follower are forwarded too, and answered at the leader.
    const listed = await httpAdmin(httpPortOf(followers[1]!), 'GET', '/api/v1/volumes');
    assert.deepEqual(listed.body.volumes.map((volume: { name: string }) => volume.name), ['forwarded']);
    assert.equal(listed.body.volumes[0].secretKey, undefined, 'the secret key is shown only at creation');
  });

  test('leader-only RPCs at a follower answer NOT_LEADER naming the leader; admin over RPC is forwarded', async () => {
    const follower = followers[0]!;
    await assert.rejects(
      client.call(follower.selfAddress, Master.registerNode, { role: NodeRole.ROLE_METANODE, address: { host: '127.0.0.1', servicePort: 1, httpPort: 2, raftHeartbeatPort: 3, raftReplicaPort: 4 }, zone: '', instance: 'x', capacityBytes: 0, nodeId: 0, registrationToken: '' }),
      (error: unknown) => error instanceof AtollError && error.status === StatusCode.NOT_LEADER && error.leaderHint === leader.selfAddress,
    );
    const reply = await client.call(follower.selfAddress, Master.admin, { method: 'GET', path: '/api/v1/nodes?role=metanode', bodyJson: '', adminToken: '', forwardedHops: 0 });
    assert.equal(reply.httpStatus, 200);
    assert.equal(reply.handledBy, leader.selfAddress);
    assert.equal(JSON.parse(reply.bodyJson).nodes.length, 3);
  });

  test('a follower whose views are behind never serves a client an older view than one it has seen', async () => {
    const created = await httpAdmin(httpPortOf(leader), 'POST', '/api/v1/volumes', { token: token(), body: { name: 'viewed', capacityBytes: 2 ** 30 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const follower = followers[1]!;
    const first = await client.call(leader.selfAddress, Master.getVolumeView, { volume: 'viewed', knownVersion: 0 });
    // The follower gets the view pushed by the leader and serves it.
    const served = await waitFor('the follower to serve the view', 5_000, () => client.call(follower.selfAddress, Master.getVolumeView, { volume: 'viewed', knownVersion: first.version }).catch(() => undefined));
    assert.equal(served.version, first.version);

    // The follower stops receiving pushes; the leader's view moves on.
    follower.faults.dropViewPushes = true;
    try {
      const added = await httpAdmin(httpPortOf(leader), 'POST', '/api/v1/volumes/viewed/partitions', { token: token(), body: { kind: 'data', count: 1 } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const newer = await client.call(leader.selfAddress, Master.getVolumeView, { volume: 'viewed', knownVersion: first.version });
      assert.ok(newer.version > first.version);
      assert.equal(newer.dataPartitions.length, first.dataPartitions.length + 1);
      // The client has seen `newer`; the follower only has `first`: it must redirect.
      await assert.rejects(
        client.call(follower.selfAddress, Master.getVolumeView, { volume: 'viewed', knownVersion: newer.version }),
        (error: unknown) => error instanceof AtollError && error.status === StatusCode.STALE_VIEW && error.leaderHint === leader.selfAddress,
      );
      // Past the staleness bound it redirects even a client that knows nothing newer.
      await waitFor('the follower to stop serving unconfirmed views', 10_000, () =>
        client.call(follower.selfAddress, Master.getVolumeView, { volume: 'viewed', knownVersion: 0 }).then(
          () => undefined,
          (error: unknown) => (error instanceof AtollError && error.status === StatusCode.STALE_VIEW ? true : undefined),
        ),
      );
    } finally {
      follower.faults.dropViewPushes = false;
    }
    const caughtUp = await waitFor('the follower to catch up', 5_000, () => client.call(follower.selfAddress, Master.getVolumeView, { volume: 'viewed', knownVersion: 0 }).catch(() => undefined));
    const latest = await client.call(leader.selfAddress, Master.getVolumeView, { volume: 'viewed', knownVersion: 0 });
    assert.equal(caughtUp.version, latest.version);
  });

  test('mutations need the admin token', async () => {
    const missing = await httpAdmin(httpPortOf(leader), 'POST', '/api/v1/volumes', { body: { name: 'no-token', capacityBytes: 1 } });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, 'UNAUTHENTICATED');
    const wrong = await httpAdmin(httpPortOf(followers[0]!), 'DELETE', '/api/v1/volumes/forwarded', { token: 'not-the-token' });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'PERMISSION_DENIED');
    assert.ok(leader.state.volumes.forwarded !== undefined);
  });

  test('bad input to every route gets a 4xx with a message that names the problem, and nothing crashes', async () => {
    const cases: Array<{ method: string; path: string; body?: unknown; rawBody?: string; status: number; message: RegExp }> = [
      { method: 'POST', path: '/api/v1/volumes', status: 400, message: /JSON object is required/ },
      { method: 'POST', path: '/api/v1/volumes', body: [], status: 400, message: /must be a JSON object/ },
      { method: 'POST', path: '/api/v1/volumes', body: { capacityBytes: 1 }, status: 400, message: /field name: required/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'Bad_Name', capacityBytes: 1 }, status: 400, message: /field name: 3 to 63 lower-case/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'ok-name', capacityBytes: -5 }, status: 400, message: /capacityBytes: must be from 1/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'ok-name', capacityBytes: '10' }, status: 400, message: /capacityBytes: must be an integer, got the string/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'ok-name', capacityBytes: 1.5 }, status: 400, message: /must be an integer/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'ok-name', capacityBytes: 1, replicaCount: 9 }, status: 400, message: /replicaCount: must be from 1 to 5/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'ok-name', capacityBytes: 1, colour: 'red' }, status: 400, message: /field colour: unknown/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'forwarded', capacityBytes: 1 }, status: 409, message: /already exists/ },
      { method: 'POST', path: '/api/v1/volumes', body: { name: 'too-many', capacityBytes: 1, replicaCount: 5 }, status: 507, message: /cannot place 5 metanode replicas/ },
      { method: 'POST', path: '/api/v1/volumes', rawBody: '{"name": "x",', status: 400, message: /JSON/ },
      { method: 'POST', path: '/api/v1/volumes', rawBody: JSON.stringify({ name: 'huge', description: 'x'.repeat(2 * 1024 * 1024) }), status: 413, message: /./ },
      { method: 'GET', path: '/api/v1/volumes/nope', status: 404, message: /volume nope does not exist/ },
      { method: 'PATCH', path: '/api/v1/volumes/nope', body: { capacityBytes: 1 }, status: 404, message: /does not exist/ },
      { method: 'PATCH', path: '/api/v1/volumes/forwarded', body: {}, status: 400, message: /at least one of/ },
      { method: 'PATCH', path: '/api/v1/volumes/forwarded', body: { status: 'deleting' }, status: 400, message: /"active" or "read-only"/ },
      { method: 'PATCH', path: '/api/v1/volumes/forwarded', body: { trashRetentionHours: -1 }, status: 400, message: /trashRetentionHours: must be from 0/ },
      { method: 'DELETE', path: '/api/v1/volumes/nope', status: 404, message: /does not exist/ },
      { method: 'GET', path: '/api/v1/volumes/nope/view', status: 404, message: /does not exist/ },
      { method: 'GET', path: '/api/v1/volumes/forwarded/view?knownVersion=-3', status: 400, message: /knownVersion/ },
      { method: 'POST', path: '/api/v1/volumes/forwarded/partitions', body: { kind: 'disk' }, status: 400, message: /"meta" or "data"/ },
      { method: 'POST', path: '/api/v1/volumes/forwarded/partitions', body: { kind: 'data', count: 0 }, status: 400, message: /count: must be from 1/ },
      { method: 'POST', path: '/api/v1/volumes/nope/partitions', body: { kind: 'data' }, status: 404, message: /does not exist/ },
      { method: 'GET', path: '/api/v1/nodes/abc', status: 400, message: /node id: must be a positive integer/ },
      { method: 'GET', path: '/api/v1/nodes/999', status: 404, message: /node 999 does not exist/ },
      { method: 'GET', path: '/api/v1/nodes?role=master', status: 400, message: /query role/ },
      { method: 'POST', path: '/api/v1/nodes/999/decommission', status: 404, message: /does not exist/ },
      { method: 'GET', path: '/api/v1/partitions/0', status: 400, message: /partition id/ },
      { method: 'GET', path: '/api/v1/partitions/12345', status: 404, message: /partition 12345 does not exist/ },
      { method: 'GET', path: '/api/v1/partitions?kind=blob', status: 400, message: /query kind/ },
      { method: 'GET', path: '/api/v1/partitions?volume=nope', status: 404, message: /does not exist/ },
      { method: 'PATCH', path: '/api/v1/partitions/1', body: { status: 'broken' }, status: 400, message: /"read-write" or "read-only"/ },
      { method: 'POST', path: '/api/v1/partitions/1/replicas', body: { nodeId: 'x' }, status: 400, message: /nodeId: must be an integer/ },
      { method: 'POST', path: '/api/v1/partitions/1/replicas', body: { nodeId: 424242 }, status: 404, message: /node 424242 does not exist/ },
      { method: 'DELETE', path: '/api/v1/partitions/1/replicas/424242', status: 404, message: /holds no replica/ },
      { method: 'POST', path: '/api/v1/partitions/1/replicas/424242/decommission', status: 404, message: /holds no replica/ },
      { method: 'POST', path: '/api/v1/partitions/1/transfer-leader', body: {}, status: 400, message: /nodeId: required/ },
      { method: 'POST', path: '/api/v1/partitions/1/transfer-leader', body: { nodeId: 424242 }, status: 400, message: /not a replica/ },
      { method: 'PATCH', path: '/api/v1/cluster/settings', body: { viewStalenessMs: 5 }, status: 400, message: /viewStalenessMs: must be from 100/ },
      { method: 'PATCH', path: '/api/v1/cluster/settings', body: { nope: 1 }, status: 400, message: /field nope: unknown/ },
      { method: 'GET', path: '/api/v1/nothing-here', status: 404, message: /no route/ },
      { method: 'PUT', path: '/api/v1/volumes', status: 405, message: /not allowed/ },
    ];
    for (const master of [leader, followers[0]!]) {
      for (const entry of cases) {
        const answer = await httpAdmin(httpPortOf(master), entry.method, entry.path, { token: token(), body: entry.body, rawBody: entry.rawBody });
        const label = `${entry.method} ${entry.path} ${entry.rawBody === undefined ? JSON.stringify(entry.body) ?? '' : '(raw)'} at ${master === leader ? 'leader' : 'follower'}`;
        assert.equal(answer.status, entry.status, `${label}: ${JSON.stringify(answer.body)?.slice(0, 300)}`);
        assert.match(answer.body?.error?.message ?? '', entry.message, label);
      }
    }
    // Every master still answers.
    for (const master of masters) assert.equal((await httpAdmin(httpPortOf(master), 'GET', '/healthz')).status, 200);
  });

  test('a node registered twice with the same token keeps its id; heartbeats from unknown nodes are refused', async () => {
    const [node] = fleet.nodes;
    const again = await client.call(leader.selfAddress, Master.registerNode, { role: NodeRole.ROLE_METANODE, address: { host: '127.0.0.1', servicePort: node!.servicePort, httpPort: node!.servicePort + 1, raftHeartbeatPort: node!.servicePort + 2, raftReplicaPort: node!.servicePort + 3 }, zone: 'default', instance: node!.instance, capacityBytes: 0, nodeId: 0, registrationToken: node!.token });
    assert.equal(again.nodeId, node!.nodeId);
    await assert.rejects(
      client.call(leader.selfAddress, Master.nodeHeartbeat, { nodeId: 777_777, capacityBytes: 0, usedBytes: 0, partitions: [], partitionsLoaded: 0, partitionsTotal: 0 }),
      (error: unknown) => error instanceof AtollError && error.status === StatusCode.NOT_FOUND,
    );
    await assert.rejects(
      client.call(leader.selfAddress, Master.registerNode, { role: NodeRole.ROLE_UNSPECIFIED, address: { host: '127.0.0.1', servicePort: 1, httpPort: 2, raftHeartbeatPort: 3, raftReplicaPort: 4 }, zone: '', instance: 'x', capacityBytes: 0, nodeId: 0, registrationToken: '' }),
      (error: unknown) => error instanceof AtollError && error.status === StatusCode.INVALID_ARGUMENT && /role must be/.test(error.message),
    );
    await assert.rejects(
      client.call(leader.selfAddress, Master.registerNode, { role: NodeRole.ROLE_DATANODE, address: { host: '127.0.0.1', servicePort: 0, httpPort: 2, raftHeartbeatPort: 3, raftReplicaPort: 4 }, zone: '', instance: 'x', capacityBytes: 0, nodeId: 0, registrationToken: '' }),
      (error: unknown) => error instanceof AtollError && error.status === StatusCode.INVALID_ARGUMENT && /service_port/.test(error.message),
    );
  });
});
