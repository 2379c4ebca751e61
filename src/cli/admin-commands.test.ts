// The admin verbs as a user runs them: the built `atoll` in a child process against an
// in-process scripted master (an RpcServer answering Master.Admin and Master.ClusterInfo).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdminRequest } from '../proto/generated/master.js';
import { adminAnswer, deadAddress, startScriptedMaster, type ScriptedMaster } from '../masterclient/testing/scripted-master.js';
import { humanBytes } from './admin-commands.js';

const atoll = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));
const secret = 'cli-admin-test-secret-0123456789abcdef';
const adminToken = 'admin-token-for-tests';

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// Asynchronous on purpose: the scripted master answers from this process's event loop.
function runAtoll(args: readonly string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [atoll, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`atoll ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}


const clusterBody = (leader: string) => ({
  clusterName: 'test-cluster',
  leader,
  term: 4,
  appliedIndex: 120,
  members: [
    { address: leader, nodeId: 1, state: 'leader', httpPort: 17020, term: 4, appliedIndex: 120, lastSeenMsAgo: 0 },
    { address: '127.0.0.1:17011', nodeId: 2, state: 'follower', httpPort: 17021, term: 4, appliedIndex: 119, lastSeenMsAgo: 180 },
  ],
});

const node = {
  id: 4,
  role: 'datanode',
  instance: 'datanode-1',
  host: '127.0.0.1',
  servicePort: 17310,
  httpPort: 17320,
  raftHeartbeatPort: 17330,
  raftReplicaPort: 17340,
  zone: 'default',
  capacityBytes: 10 * 2 ** 30,
  usedBytes: 123_456_789,
  lastHeartbeatAtMs: Date.now(),
  state: 'active',
  stateSinceMs: Date.now() - 60_000,
  replicaCount: 6,
};

const volume = {
  id: 3,
  name: 'photos',
  owner: 'alice',
  accessKey: 'AK123',
  capacityBytes: 20 * 2 ** 30,
  replicaCount: 2,
  trashRetentionHours: 72,
  status: 'active',
  createdAtMs: 1_700_000_000_000,
  viewVersion: 33,
  description: 'holiday pictures',
  metaPartitionCount: 1,
  dataPartitionCount: 2,
};

const dataPartition = { id: 7, volume: 'photos', kind: 'data', peers: [4, 5], reportedMembers: [4, 5], leaderNodeId: 5, status: 'read-write', capacityBytes: 2 ** 30, usedBytes: 4096 };
const metaPartition = { id: 6, volume: 'photos', kind: 'meta', peers: [1, 2, 3], reportedMembers: [1, 2, 3], leaderNodeId: 1, status: 'read-write', inodeStart: 1, inodeEnd: 0, inodeCursor: 17, inodeCount: 16, dentryCount: 15 };

const mutations = new Set(['POST', 'PATCH', 'DELETE']);

// The admin API as the tests need it; mutations check the token like a master does.
function route(master: ScriptedMaster, request: AdminRequest) {
  const answer = (status: number, body: unknown) => adminAnswer(status, body, master.address);
  if (mutations.has(request.method) && request.adminToken !== adminToken) {
    return answer(401, { error: { code: 'UNAUTHENTICATED', message: 'admin token missing or wrong' } });
  }
  const url = new URL(request.path, 'http://master');
  const key = `${request.method} ${url.pathname}`;
  switch (key) {
    case 'GET /api/v1/cluster':
      return answer(200, clusterBody(master.address));
    case 'GET /api/v1/nodes':
      return answer(200, { nodes: [node] });
    case 'GET /api/v1/nodes/4':
      return answer(200, { node, partitions: [6, 7], decommission: null });
    case 'POST /api/v1/nodes/4/decommission':
      return answer(202, { node: { ...node, state: 'decommissioning' }, decommission: { replicasRemaining: 2, partitionsRemaining: [6, 7] } });
    case 'GET /api/v1/volumes':
      return answer(200, { volumes: [volume] });
    case 'POST /api/v1/volumes':
      if ((JSON.parse(request.bodyJson) as { name: string }).name === 'bad') return answer(400, { error: { code: 'INVALID_ARGUMENT', message: 'capacity too small' } });
      return answer(201, { volume: { ...volume, ...(JSON.parse(request.bodyJson) as object), secretKey: 'SK-secret' } });
    case 'GET /api/v1/volumes/photos':
      return answer(200, { volume, metaPartitions: [metaPartition], dataPartitions: [dataPartition] });
    case 'PATCH /api/v1/volumes/photos':
      return answer(200, { volume: { ...volume, status: 'read-only' } });
    case 'DELETE /api/v1/volumes/photos':
      return answer(200, { deleted: 'photos' });
    case 'GET /api/v1/partitions':
      return answer(200, { partitions: [metaPartition, dataPartition] });
    case 'GET /api/v1/partitions/7':
      return answer(200, {
        partition: dataPartition,
        peerAddresses: [4, 5].map((nodeId) => ({ nodeId, host: '127.0.0.1', servicePort: 17300 + nodeId, raftHeartbeatPort: 17330, raftReplicaPort: 17340, state: 'active' })),
      });
    case 'GET /api/v1/volumes/broken':
      return answer(500, { error: { code: 'INTERNAL', message: 'something broke' } });
    case 'GET /api/v1/volumes/electing':
      return answer(503, { error: { code: 'UNAVAILABLE', message: 'no quorum' } });
    default:
      return answer(404, { error: { code: 'NOT_FOUND', message: `no route ${key}` } });
  }
}

let master: ScriptedMaster;
let directory: string;
let secretFile: string;
let tokenFile: string;
let connect: string[];

before(async () => {
  master = await startScriptedMaster(secret, 'cli-test-master');
  master.script.admin = (request) => route(master, request);
  master.script.clusterInfo = () => ({ leader: master.address, term: 4, appliedIndex: 120, members: [], clusterName: 'test-cluster', answeredBy: master.address });
  directory = await mkdtemp(join(tmpdir(), 'atoll-admin-cli-'));
  secretFile = join(directory, 'cluster-secret');
  tokenFile = join(directory, 'admin-token');
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  await writeFile(tokenFile, `${adminToken}\n`, { mode: 0o600 });
  connect = ['-p', master.address, '--cluster-secret-file', secretFile];
});

after(async () => {
  await master.server.stop();
  await rm(directory, { recursive: true, force: true });
});

function adminRequests(): AdminRequest[] {
  return (master.requests.get('Admin') ?? []) as AdminRequest[];
}

function lastAdminRequest(): AdminRequest {
  const requests = adminRequests();
  assert.ok(requests.length > 0, 'the master got an admin request');
  return requests.at(-1)!;
}

test('atoll --help lists the admin nouns', async () => {
  const result = await runAtoll(['--help']);
  assert.equal(result.status, 0);
  for (const noun of ['cluster', 'node', 'volume', 'partition']) assert.match(result.stdout, new RegExp(`\\n  ${noun} `));
  const verbs = await runAtoll(['volume', '--help']);
  assert.equal(verbs.status, 0);
  for (const verb of ['create <name>', 'list', 'info <name>', 'update <name>', 'delete <name>']) assert.ok(verbs.stdout.includes(`  ${verb}`), verb);
  assert.equal((await runAtoll(['volume'])).status, 1, 'a noun without a verb is a usage error');
  const unknown = await runAtoll(['volume', 'frobnicate']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown verb 'frobnicate' \(one of create, list, info, update, delete/);
});

test('cluster info --json prints the API body as it is; without --json a table', async () => {
  const json = await runAtoll(['cluster', 'info', '--json', ...connect]);
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), clusterBody(master.address));
  assert.equal(json.stdout.trim().split('\n').length, 1, 'one line');
  assert.equal(lastAdminRequest().method, 'GET');
  assert.equal(lastAdminRequest().path, '/api/v1/cluster');
  const human = await runAtoll(['cluster', 'info', ...connect]);
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout, /leader\s+127\.0\.0\.1:\d+/);
  assert.match(human.stdout, /127\.0\.0\.1:17011\s+follower\s+2\s+4\s+119/);
});

test('cluster status shows which masters answer and which leads, with the cluster info', async () => {
  const dead = await deadAddress();
  const result = await runAtoll(['cluster', 'status', '--json', '-p', `${master.address},${dead}`, '--cluster-secret-file', secretFile]);
  assert.equal(result.status, 0, result.stderr);
  const status = JSON.parse(result.stdout) as { masters: Array<{ address: string; healthy: boolean; isLeader: boolean; term: number; lastError: string | null }>; leader: string; cluster: unknown };
  assert.equal(status.leader, master.address);
  assert.deepEqual(status.masters.map((entry) => [entry.address, entry.healthy, entry.isLeader, entry.term]), [[master.address, true, true, 4], [dead, false, false, 0]]);
  assert.match(status.masters[1]!.lastError ?? '', /refused/);
  assert.deepEqual(status.cluster, clusterBody(master.address));
  const human = await runAtoll(['cluster', 'status', '-p', dead, '--cluster-secret-file', secretFile]);
  assert.equal(human.status, 3, 'no master reachable');
  assert.match(human.stdout, new RegExp(`${dead}\\s+no`));
  assert.match(human.stderr, /no master answered/);
});

test('volume create sends the parsed sizes and the token from --admin-token-file, and prints the keys', async () => {
  const result = await runAtoll(['volume', 'create', 'photos', '--capacity', '20GiB', '--replicas', '2', '--owner', 'alice', '--admin-token-file', tokenFile, ...connect]);
  assert.equal(result.status, 0, result.stderr);
  const request = lastAdminRequest();
  assert.equal(request.method, 'POST');
  assert.equal(request.path, '/api/v1/volumes');
  assert.equal(request.adminToken, adminToken);
  assert.deepEqual(JSON.parse(request.bodyJson), { name: 'photos', owner: 'alice', capacityBytes: 20 * 2 ** 30, replicaCount: 2 });
  assert.match(result.stdout, /secret key\s+SK-secret/);
  assert.match(result.stdout, /capacity\s+20GiB/);
  const json = await runAtoll(['volume', 'create', 'photos', '--json', '--admin-token', adminToken, ...connect]);
  assert.equal(json.status, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { volume: { secretKey: string } }).volume.secretKey, 'SK-secret');
  assert.deepEqual(JSON.parse(lastAdminRequest().bodyJson), { name: 'photos', capacityBytes: 10 * 2 ** 30 }, 'defaults: 10GiB, the rest left to the master');
});

test('answers map to exit codes: 401 and 400 usage, 404 not found, 503 unavailable, 500 internal', async () => {
  const unauthorized = await runAtoll(['volume', 'delete', 'photos', '--yes', ...connect]);
  assert.equal(unauthorized.status, 1);
  assert.match(unauthorized.stderr, /UNAUTHENTICATED: admin token missing or wrong \(HTTP 401 from .*\) \(give --admin-token-file or --admin-token\)/);
  const missing = await runAtoll(['volume', 'info', 'nothing-here', ...connect]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /NOT_FOUND: no route GET \/api\/v1\/volumes\/nothing-here/);
  const missingJson = await runAtoll(['volume', 'info', 'nothing-here', '--json', ...connect]);
  assert.equal(missingJson.status, 2);
  assert.deepEqual(JSON.parse(missingJson.stdout), { error: { code: 'NOT_FOUND', message: 'no route GET /api/v1/volumes/nothing-here' } });
  const bad = await runAtoll(['volume', 'create', 'bad', '--admin-token', adminToken, ...connect]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /INVALID_ARGUMENT: capacity too small/);
  const broken = await runAtoll(['volume', 'info', 'broken', ...connect]);
  assert.equal(broken.status, 70);
  // Long enough for a loaded machine to deliver at least one answer before the deadline.
  const electing = await runAtoll(['volume', 'info', 'electing', '--timeout', '2s', ...connect]);
  assert.equal(electing.status, 3);
  assert.match(electing.stderr, /UNAVAILABLE: no quorum/);
});

test('an unreachable master is exit 3 after the --timeout; a wrong secret is exit 1', async () => {
  const dead = await deadAddress();
  const started = Date.now();
  const unreachable = await runAtoll(['volume', 'list', '-p', dead, '--cluster-secret-file', secretFile, '--timeout', '500ms']);
  assert.equal(unreachable.status, 3);
  assert.match(unreachable.stderr, new RegExp(`no answer from the masters: .*\\(masters: ${dead}\\)`));
  assert.ok(Date.now() - started < 10_000);
  const wrongSecret = await runAtoll(['volume', 'list', '-p', master.address, '--cluster-secret', 'another-secret-0123456789abcdefghij']);
  assert.equal(wrongSecret.status, 1);
  assert.match(wrongSecret.stderr, /refused the cluster secret/);
});

test('without -p the masters, secret and admin token come from <cluster-dir>/cluster.json', async () => {
  const clusterDir = join(directory, 'cluster');
  await mkdir(clusterDir, { recursive: true });
  const port = Number(master.address.split(':')[1]);
  const plan = {
    formatVersion: 1,
    host: '127.0.0.1',
    secretFile,
    adminTokenFile: tokenFile,
    instances: [
      { role: 'master', name: 'master-1', dataDir: join(clusterDir, 'master-1'), ports: { service: port, http: 1, raftHeartbeat: 2, raftReplica: 3 } },
      { role: 'datanode', name: 'datanode-1', dataDir: join(clusterDir, 'datanode-1'), ports: { service: 9, http: 10, raftHeartbeat: 11, raftReplica: 12 } },
    ],
  };
  await writeFile(join(clusterDir, 'cluster.json'), JSON.stringify(plan));
  const decommission = await runAtoll(['node', 'decommission', '4', '--cluster-dir', clusterDir]);
  assert.equal(decommission.status, 0, decommission.stderr);
  assert.equal(lastAdminRequest().path, '/api/v1/nodes/4/decommission');
  assert.equal(lastAdminRequest().adminToken, adminToken, 'the token file named in cluster.json');
  assert.match(decommission.stdout, /node 4 is decommissioning: 2 replicas left to move \(partitions 6,7\)/);
  const listed = await runAtoll(['node', 'list', '--role', 'datanode', '--state', 'active', '--json', '--cluster-dir', clusterDir]);
  assert.equal(listed.status, 0, listed.stderr);
  assert.equal(lastAdminRequest().path, '/api/v1/nodes?role=datanode&state=active');
  assert.deepEqual(JSON.parse(listed.stdout), { nodes: [node] });
  const empty = await mkdtemp(join(directory, 'empty-'));
  const nothing = await runAtoll(['node', 'list', '--cluster-dir', empty]);
  assert.equal(nothing.status, 1);
  assert.match(nothing.stderr, /no masters to ask: give -p\/--master host:port with --cluster-secret-file \(or --cluster-secret\), or --cluster-dir/);
  const noSecret = await runAtoll(['node', 'list', '-p', master.address]);
  assert.equal(noSecret.status, 1);
  assert.match(noSecret.stderr, /no cluster secret: give --cluster-secret-file/);
});

test('node, volume and partition verbs send the documented requests and print tables', async () => {
  const nodes = await runAtoll(['node', 'list', ...connect]);
  assert.equal(nodes.status, 0, nodes.stderr);
  assert.equal(lastAdminRequest().path, '/api/v1/nodes');
  assert.match(nodes.stdout, /^ID\s+ROLE\s+INSTANCE/);
  assert.match(nodes.stdout, /4\s+datanode\s+datanode-1\s+127\.0\.0\.1:17310\s+default\s+active\s+117\.7MiB \/ 10GiB\s+6/);

  const nodeInfo = await runAtoll(['node', 'info', '4', ...connect]);
  assert.equal(nodeInfo.status, 0, nodeInfo.stderr);
  assert.match(nodeInfo.stdout, /partitions\s+6,7/);

  const update = await runAtoll(['volume', 'update', 'photos', '--read-only', 'true', '--capacity', '1TiB', '--admin-token', adminToken, ...connect]);
  assert.equal(update.status, 0, update.stderr);
  assert.equal(lastAdminRequest().method, 'PATCH');
  assert.deepEqual(JSON.parse(lastAdminRequest().bodyJson), { capacityBytes: 2 ** 40, status: 'read-only' });
  assert.match(update.stdout, /status\s+read-only/);

  const before = adminRequests().length;
  const unconfirmed = await runAtoll(['volume', 'delete', 'photos', '--admin-token', adminToken, ...connect]);
  assert.equal(unconfirmed.status, 1);
  assert.match(unconfirmed.stderr, /add --yes to confirm/);
  assert.equal(adminRequests().length, before, 'nothing sent without --yes');
  const deleted = await runAtoll(['volume', 'delete', 'photos', '--yes', '--admin-token', adminToken, ...connect]);
  assert.equal(deleted.status, 0, deleted.stderr);
  assert.equal(lastAdminRequest().method, 'DELETE');
  assert.equal(lastAdminRequest().path, '/api/v1/volumes/photos');
  assert.equal(deleted.stdout.trim(), 'volume photos deleted');

  const volumes = await runAtoll(['volume', 'list', ...connect]);
  assert.match(volumes.stdout, /photos\s+3\s+alice\s+active\s+20GiB\s+2\s+1\s+2\s+72h\s+holiday pictures/);
  const info = await runAtoll(['volume', 'info', 'photos', ...connect]);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /meta partitions:\nID\s+STATUS\s+PEERS \(\*leader\)\s+DETAIL\n6\s+read-write\s+1\*,2,3\s+inodes \[1, ∞\) cursor 17; 16 inodes, 15 dentries/);
  assert.match(info.stdout, /data partitions:\nID\s+STATUS\s+PEERS \(\*leader\)\s+DETAIL\n7\s+read-write\s+4,5\*\s+4KiB \/ 1GiB/);

  const partitions = await runAtoll(['partition', 'list', '--volume', 'photos', '--kind', 'data', ...connect]);
  assert.equal(partitions.status, 0, partitions.stderr);
  assert.equal(lastAdminRequest().path, '/api/v1/partitions?volume=photos&kind=data');
  const partition = await runAtoll(['partition', 'info', '7', '--json', ...connect]);
  assert.equal(partition.status, 0, partition.stderr);
  assert.equal((JSON.parse(partition.stdout) as { peerAddresses: unknown[] }).peerAddresses.length, 2);
  const human = await runAtoll(['partition', 'info', '7', ...connect]);
  assert.match(human.stdout, /5\s+127\.0\.0\.1:17305\s+active\s+17330\s+17340\s+yes/);

  const badId = await runAtoll(['partition', 'info', '0', ...connect]);
  assert.equal(badId.status, 1);
  assert.match(badId.stderr, /partition id must be a positive integer, got '0'/);
  const badSize = await runAtoll(['volume', 'create', 'x', '--capacity', '10G', ...connect]);
  assert.equal(badSize.status, 1);
  assert.match(badSize.stderr, /capacity: unit "G" is ambiguous/);
  const extra = await runAtoll(['volume', 'list', 'surplus', ...connect]);
  assert.equal(extra.status, 1);
  assert.match(extra.stderr, /unexpected argument 'surplus'/);
});

test('sizes in tables read as a person would write them', () => {
  assert.equal(humanBytes(10 * 2 ** 30), '10GiB');
  assert.equal(humanBytes(512), '512B');
  assert.equal(humanBytes(180_678_904 * 1024), '172.3GiB', 'a multiple of 1 KiB is not shown in KiB');
  assert.equal(humanBytes(1.5 * 2 ** 20), '1.5MiB');
  assert.equal(humanBytes(undefined), '-');
});
