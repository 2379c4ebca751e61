import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { Master, RegisterNodeRequest, VolumeView, type GetVolumeViewRequest } from '../proto/generated/master.js';
import { createRandom } from '../random/index.js';
import { RpcClient } from '../rpc/index.js';
import type { Clock, TimerHandle, Timers } from '../time/index.js';
import { MasterClient, type MasterClientOptions } from './master-client.js';
import type { MasterClientLimits } from './limits.js';
import { adminAnswer, deadAddress, startScriptedMaster, type ScriptedMaster } from './testing/scripted-master.js';

const secret = 'master-client-test-secret-0123456789';

// Short backoffs so failover tests take milliseconds of real time.
const quickLimits: Partial<MasterClientLimits> = { retryBackoffInitialMs: 5, retryBackoffMaxMs: 40, retryTotalMs: 5_000, callDeadlineMs: 2_000 };

async function startMasters(count: number): Promise<ScriptedMaster[]> {
  const masters: ScriptedMaster[] = [];
  for (let index = 0; index < count; index++) masters.push(await startScriptedMaster(secret, `master-${index}`));
  return masters;
}


async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

class ManualClock implements Clock {
  now = 1_000;
  nowMs(): number {
    return this.now;
  }
}

// Timers that fire only when the test advances the clock.
class ManualTimers implements Timers {
  private readonly pending = new Map<TimerHandle, { at: number; callback: () => void }>();
  private handleLast = 0;
  constructor(private readonly clock: ManualClock) {}
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const handle = ++this.handleLast as TimerHandle;
    this.pending.set(handle, { at: this.clock.now + delayMs, callback });
    return handle;
  }
  clearTimer(handle: TimerHandle): void {
    this.pending.delete(handle);
  }
  get armedCount(): number {
    return this.pending.size;
  }
  advance(milliseconds: number): void {
    this.clock.now += milliseconds;
    for (const [handle, timer] of [...this.pending]) {
      if (timer.at > this.clock.now) continue;
      this.pending.delete(handle);
      timer.callback();
    }
  }
}

// Timers that let virtual time jump: each backoff fires on the next turn of the event
// loop with the clock moved forward by its delay, so a 10 s budget runs in milliseconds.
class SkippingTimers implements Timers {
  private handleLast = 0;
  private readonly cleared = new Set<TimerHandle>();
  readonly delays: number[] = [];
  constructor(private readonly clock: ManualClock) {}
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const handle = ++this.handleLast as TimerHandle;
    this.delays.push(delayMs);
    setImmediate(() => {
      if (this.cleared.delete(handle)) return;
      this.clock.now += delayMs;
      callback();
    });
    return handle;
  }
  clearTimer(handle: TimerHandle): void {
    this.cleared.add(handle);
  }
}

async function withClient(masters: readonly string[], options: Partial<MasterClientOptions>, body: (client: MasterClient) => Promise<void>): Promise<void> {
  const rpc = new RpcClient({ secret, instance: 'master-client-test' });
  const client = new MasterClient({ masters, rpc, random: createRandom(7), limits: quickLimits, ...options });
  try {
    await body(client);
  } finally {
    await client.stop();
    await rpc.close();
  }
}

async function stopAll(masters: readonly ScriptedMaster[]): Promise<void> {
  await Promise.all(masters.map((master) => master.server.stop()));
}

function notLeader(hint: string): never {
  throw new AtollError(StatusCode.NOT_LEADER, 'not the leader', { leaderHint: hint });
}

const register = RegisterNodeRequest.create({ instance: 'node-1' });

function view(volume: string, version: number): VolumeView {
  return VolumeView.create({ volume, version });
}

test('a leader-only call follows the NOT_LEADER hint, then goes straight to the leader', async () => {
  const masters = await startMasters(3);
  const [first, second, leader] = masters;
  first.script.registerNode = () => notLeader(leader.address);
  second.script.registerNode = () => notLeader(leader.address);
  leader.script.registerNode = (request) => ({ nodeId: 7, clusterName: `for-${request.instance}`, heartbeatIntervalMs: 1000 });
  try {
    await withClient(masters.map((master) => master.address), {}, async (client) => {
      const answer = await client.call(Master.registerNode, RegisterNodeRequest.create({ role: 2, instance: 'meta-1' }));
      assert.equal(answer.nodeId, 7);
      assert.equal(answer.clusterName, 'for-meta-1');
      assert.equal(client.state().leader, leader.address);
      const redirectedCalls = first.callsTo('RegisterNode') + second.callsTo('RegisterNode');
      assert.equal(redirectedCalls, 1, 'one wrong master before the hint');
      for (let index = 0; index < 5; index++) await client.call(Master.registerNode, RegisterNodeRequest.create({ instance: 'meta-1' }));
      assert.equal(first.callsTo('RegisterNode') + second.callsTo('RegisterNode'), redirectedCalls, 'the known leader is called directly');
      assert.equal(leader.callsTo('RegisterNode'), 6);
    });
  } finally {
    await stopAll(masters);
  }
});

test('a leader that stops and a master that never listened are failed over to the new leader', async () => {
  const masters = await startMasters(2);
  const [oldLeader, newLeader] = masters;
  const never = await deadAddress();
  oldLeader.script.registerNode = () => ({ nodeId: 1, clusterName: 'old', heartbeatIntervalMs: 1000 });
  newLeader.script.registerNode = () => ({ nodeId: 2, clusterName: 'new', heartbeatIntervalMs: 1000 });
  try {
    await withClient([oldLeader.address, never, newLeader.address], {}, async (client) => {
      assert.equal((await client.call(Master.registerNode, register)).clusterName, 'old');
      assert.equal(client.state().leader, oldLeader.address);
      await oldLeader.server.stop();
      const started = Date.now();
      const answer = await client.call(Master.registerNode, register);
      assert.equal(answer.clusterName, 'new');
      assert.ok(Date.now() - started < 3_000, 'failover takes backoffs, not deadlines');
      const state = client.state();
      assert.equal(state.leader, newLeader.address);
      const byAddress = new Map(state.masters.map((master) => [master.address, master]));
      assert.equal(byAddress.get(oldLeader.address)!.healthy, false);
      assert.match(byAddress.get(oldLeader.address)!.lastError ?? '', /refused|closed|unavailable|going away/i);
      assert.equal(byAddress.get(newLeader.address)!.healthy, true);
      assert.equal(byAddress.get(newLeader.address)!.isLeader, true);
    });
  } finally {
    await stopAll(masters);
  }
});

test('with every master down a call gives up within its budget and throws the last error', async () => {
  const addresses = [await deadAddress(), await deadAddress(), await deadAddress()];
  const clock = new ManualClock();
  const timers = new SkippingTimers(clock);
  const limits: Partial<MasterClientLimits> = { retryBackoffInitialMs: 50, retryBackoffMaxMs: 400, retryTotalMs: 3_000, retryAttemptsMax: 32 };
  await withClient(addresses, { clock, timers, limits }, async (client) => {
    const startedMs = clock.now;
    await assert.rejects(client.call(Master.registerNode, register), (error: AtollError) => {
      assert.equal(error.status, StatusCode.UNAVAILABLE);
      assert.ok(addresses.some((address) => error.message.includes(address)), error.message);
      return true;
    });
    assert.ok(clock.now - startedMs <= 3_000, `gave up after ${clock.now - startedMs} virtual ms`);
    assert.ok(timers.delays.length >= 5, `backed off ${timers.delays.length} times`);
    // Exponential up to the cap, with jitter in [base/2, base].
    assert.ok(timers.delays[0]! >= 25 && timers.delays[0]! <= 50, `first backoff ${timers.delays[0]}`);
    assert.ok(timers.delays.every((delay) => delay <= 400), `capped: ${timers.delays.join(',')}`);
    assert.ok(timers.delays.at(-1)! >= 200, `grew to the cap: ${timers.delays.join(',')}`);
  });
  // The same on real time: the budget bounds the wall-clock wait too.
  await withClient(addresses, { limits: { ...quickLimits, retryTotalMs: 300 } }, async (client) => {
    const started = Date.now();
    await assert.rejects(client.getVolumeView('v'), (error: AtollError) => error.status === StatusCode.UNAVAILABLE);
    assert.ok(Date.now() - started < 2_000, `gave up after ${Date.now() - started} ms`);
  });
});

test('redirects between masters that name each other are bounded by the attempts and budget', async () => {
  const masters = await startMasters(2);
  const [left, right] = masters;
  left.script.registerNode = () => notLeader(right.address);
  right.script.registerNode = () => notLeader(left.address);
  const clock = new ManualClock();
  try {
    await withClient([left.address, right.address], { clock, timers: new SkippingTimers(clock), limits: { retryAttemptsMax: 12, redirectsMax: 4 } }, async (client) => {
      await assert.rejects(client.call(Master.registerNode, register), (error: AtollError) => error.status === StatusCode.NOT_LEADER);
      assert.equal(left.callsTo('RegisterNode') + right.callsTo('RegisterNode'), 12);
    });
  } finally {
    await stopAll(masters);
  }
});

test('a non-retryable error is thrown at once, without trying another master', async () => {
  const masters = await startMasters(3);
  for (const master of masters) {
    master.script.registerNode = () => {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, 'registration token is missing');
    };
    master.script.getVolumeView = (request) => {
      throw new AtollError(StatusCode.NOT_FOUND, `no volume ${request.volume}`);
    };
  }
  try {
    await withClient(masters.map((master) => master.address), {}, async (client) => {
      await assert.rejects(client.call(Master.registerNode, register), (error: AtollError) => error.status === StatusCode.INVALID_ARGUMENT && /token/.test(error.message));
      await assert.rejects(client.getVolumeView('missing'), (error: AtollError) => error.status === StatusCode.NOT_FOUND);
      const total = (method: string) => masters.reduce((sum, master) => sum + master.callsTo(method), 0);
      assert.equal(total('RegisterNode'), 1);
      assert.equal(total('GetVolumeView'), 1);
    });
  } finally {
    await stopAll(masters);
  }
});

function healthyCluster(masters: readonly ScriptedMaster[], leader: ScriptedMaster, term: number): void {
  for (const master of masters) {
    master.script.clusterInfo = () => ({ leader: leader.address, term, appliedIndex: 10, members: [], clusterName: 'test', answeredBy: master.address });
  }
}

test('follower reads are spread over the healthy masters only', async () => {
  const masters = await startMasters(3);
  const [leader, follower, down] = masters;
  healthyCluster(masters, leader, 2);
  for (const master of masters) master.script.getVolumeView = (request) => view(request.volume, 4);
  try {
    await withClient(masters.map((master) => master.address), {}, async (client) => {
      await down.server.stop();
      await client.refreshHealth();
      assert.deepEqual(client.state().masters.map((master) => master.healthy), [true, true, false]);
      for (let index = 0; index < 10; index++) assert.equal((await client.getVolumeView('v')).version, 4);
      assert.equal(leader.callsTo('GetVolumeView'), 5);
      assert.equal(follower.callsTo('GetVolumeView'), 5);
      assert.equal(down.callsTo('GetVolumeView'), 0);
    });
  } finally {
    await stopAll(masters);
  }
});

test('STALE_VIEW sends the read to the hinted or known leader', async () => {
  const masters = await startMasters(3);
  const [hinting, silent, leader] = masters;
  healthyCluster(masters, leader, 5);
  hinting.script.getVolumeView = () => {
    throw new AtollError(StatusCode.STALE_VIEW, 'view cache behind', { leaderHint: leader.address });
  };
  silent.script.getVolumeView = () => {
    throw new AtollError(StatusCode.STALE_VIEW, 'view cache behind');
  };
  leader.script.getVolumeView = (request) => view(request.volume, 12);
  try {
    await withClient(masters.map((master) => master.address), {}, async (client) => {
      await client.refreshHealth();
      assert.equal(client.state().leader, leader.address);
      for (let index = 0; index < 6; index++) assert.equal((await client.getVolumeView('v')).version, 12);
      assert.equal(leader.callsTo('GetVolumeView'), 6, 'every read ends at the leader');
      assert.ok(hinting.callsTo('GetVolumeView') > 0 && silent.callsTo('GetVolumeView') > 0, 'reads were spread first');
    });
  } finally {
    await stopAll(masters);
  }
});

test('the client never returns a view older than one it has seen', async () => {
  const masters = await startMasters(3);
  const [lagging, current, leader] = masters;
  healthyCluster(masters, leader, 1);
  // The lagging master ignores known_version (as a buggy or racing master might).
  lagging.script.getVolumeView = (request) => view(request.volume, 5);
  current.script.getVolumeView = (request) => view(request.volume, 9);
  leader.script.getVolumeView = (request) => view(request.volume, 9);
  try {
    await withClient(masters.map((master) => master.address), {}, async (client) => {
      await client.refreshHealth();
      let newest = 0;
      for (let index = 0; index < 4 && newest < 9; index++) newest = (await client.getVolumeView('v')).version;
      assert.equal(newest, 9);
      assert.equal(client.knownViewVersion('v'), 9);
      const laggingBefore = lagging.callsTo('GetVolumeView');
      for (let index = 0; index < 9; index++) assert.equal((await client.getVolumeView('v')).version, 9);
      assert.ok(lagging.callsTo('GetVolumeView') > laggingBefore, 'the lagging master was asked and its answer refused');
      const lastRequests = (lagging.requests.get('GetVolumeView') as GetVolumeViewRequest[]).slice(laggingBefore);
      assert.ok(lastRequests.every((request) => request.knownVersion === 9), 'known_version is sent');
      assert.equal(client.knownViewVersion('other'), 0);
    });
  } finally {
    await stopAll(masters);
  }
});

test('health checks record each master, its term and the leader in state()', async () => {
  const masters = await startMasters(2);
  const [follower, leader] = masters;
  healthyCluster(masters, leader, 3);
  const never = await deadAddress();
  const clock = new ManualClock();
  try {
    await withClient([follower.address, leader.address, never], { clock, timers: new ManualTimers(clock) }, async (client) => {
      assert.deepEqual(client.state(), {
        leader: null,
        masters: [follower.address, leader.address, never].map((address) => ({ address, healthy: false, lastCheckedMsAgo: null, lastError: null, isLeader: false, term: 0 })),
      });
      await client.refreshHealth();
      clock.now += 1_500;
      const state = client.state();
      assert.equal(state.leader, leader.address);
      assert.deepEqual(state.masters[0], { address: follower.address, healthy: true, lastCheckedMsAgo: 1_500, lastError: null, isLeader: false, term: 3 });
      assert.deepEqual(state.masters[1], { address: leader.address, healthy: true, lastCheckedMsAgo: 1_500, lastError: null, isLeader: true, term: 3 });
      assert.equal(state.masters[2]!.healthy, false);
      assert.equal(state.masters[2]!.lastCheckedMsAgo, 1_500);
      assert.match(state.masters[2]!.lastError ?? '', /refused/);
      // A newer term moves the leader; a report from an older term does not.
      follower.script.clusterInfo = () => ({ leader: follower.address, term: 4, appliedIndex: 11, members: [], clusterName: 'test', answeredBy: follower.address });
      await client.refreshHealth();
      assert.equal(client.state().leader, follower.address);
      await client.refreshHealth();
      assert.equal(client.state().leader, follower.address, 'the old leader still reports term 3');
      // The leader going down forgets it; a stale term-3 report does not bring the old
      // leader back, the next term's report does.
      await follower.server.stop();
      await client.refreshHealth();
      assert.equal(client.state().leader, null);
      assert.equal(client.state().masters[0]!.healthy, false);
      leader.script.clusterInfo = () => ({ leader: leader.address, term: 5, appliedIndex: 12, members: [], clusterName: 'test', answeredBy: leader.address });
      await client.refreshHealth();
      assert.equal(client.state().leader, leader.address);
    });
  } finally {
    await stopAll(masters);
  }
});

test('start() checks every interval on the injected timers and stop() leaves nothing armed', async () => {
  const masters = await startMasters(2);
  healthyCluster(masters, masters[0]!, 1);
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  try {
    await withClient(masters.map((master) => master.address), { clock, timers, limits: { ...quickLimits, healthCheckIntervalMs: 1_000, healthCheckDeadlineMs: 500 } }, async (client) => {
      client.start();
      await waitFor(() => timers.armedCount === 1, 'the first round to finish and arm the next');
      assert.deepEqual(masters.map((master) => master.callsTo('ClusterInfo')), [1, 1]);
      timers.advance(999);
      assert.deepEqual(masters.map((master) => master.callsTo('ClusterInfo')), [1, 1], 'not before the interval');
      timers.advance(1);
      await waitFor(() => masters.every((master) => master.callsTo('ClusterInfo') === 2) && timers.armedCount === 1, 'the second round');
      assert.equal(client.state().leader, masters[0]!.address);
      await client.stop();
      assert.equal(timers.armedCount, 0);
      await assert.rejects(client.call(Master.registerNode, register), /stopped/);
    });
  } finally {
    await stopAll(masters);
  }
});

test('admin goes to the leader with the token, returns any HTTP answer, and retries a 503 election', async () => {
  const masters = await startMasters(2);
  const [follower, leader] = masters;
  healthyCluster(masters, leader, 2);
  let electing = 2;
  leader.script.admin = (request) => {
    if (electing > 0) {
      electing -= 1;
      return adminAnswer(503, { error: { code: 'NOT_LEADER', message: 'election in progress' } }, leader.address);
    }
    if (request.path === '/api/v1/volumes/missing') return adminAnswer(404, { error: { code: 'NOT_FOUND', message: 'no volume missing' } }, leader.address);
    return adminAnswer(request.method === 'POST' ? 201 : 200, { echo: { method: request.method, path: request.path, body: request.bodyJson, token: request.adminToken } }, leader.address);
  };
  follower.script.admin = () => adminAnswer(500, { error: { code: 'INTERNAL', message: 'should not be asked' } }, follower.address);
  try {
    await withClient(masters.map((master) => master.address), { adminToken: 'default-token' }, async (client) => {
      await client.refreshHealth();
      const created = await client.admin('post', '/api/v1/volumes', { name: 'v1', capacityBytes: 1024 }, { adminToken: 'call-token' });
      assert.deepEqual(created, {
        status: 201,
        handledBy: leader.address,
        body: { echo: { method: 'POST', path: '/api/v1/volumes', body: '{"name":"v1","capacityBytes":1024}', token: 'call-token' } },
      });
      assert.equal(leader.callsTo('Admin'), 3, 'two 503 answers retried');
      const listed = await client.admin('GET', '/api/v1/volumes');
      assert.equal((listed.body as { echo: { token: string; body: string } }).echo.token, 'default-token');
      assert.equal((listed.body as { echo: { token: string; body: string } }).echo.body, '');
      const missing = await client.admin('GET', '/api/v1/volumes/missing');
      assert.equal(missing.status, 404);
      assert.equal(follower.callsTo('Admin'), 0);
    });
    // A 503 that never ends is handed back once the budget is spent.
    leader.script.admin = () => adminAnswer(503, { error: { code: 'UNAVAILABLE', message: 'no quorum' } }, leader.address);
    follower.script.admin = leader.script.admin;
    await withClient(masters.map((master) => master.address), { limits: { ...quickLimits, retryTotalMs: 200 } }, async (client) => {
      const answer = await client.admin('GET', '/api/v1/cluster');
      assert.equal(answer.status, 503);
      assert.deepEqual(answer.body, { error: { code: 'UNAVAILABLE', message: 'no quorum' } });
    });
  } finally {
    await stopAll(masters);
  }
});

test('an admin mutation is not retried after a timeout; a read is', async () => {
  const masters = await startMasters(1);
  const [master] = masters;
  let slow = true;
  master.script.admin = async (request, context) => {
    if (slow) {
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
      // No answer: an HTTP answer sent at the deadline could beat the client's own timer.
      throw new AtollError(StatusCode.TIMEOUT, 'no answer within the deadline');
    }
    return adminAnswer(200, { ok: request.method }, master.address);
  };
  try {
    await withClient([master.address], {}, async (client) => {
      await assert.rejects(client.admin('POST', '/api/v1/nodes/3/decommission', undefined, { deadlineMs: 100 }), (error: AtollError) => error.status === StatusCode.TIMEOUT);
      assert.equal(master.callsTo('Admin'), 1);
      const reading = client.admin('GET', '/api/v1/nodes', undefined, { deadlineMs: 100 });
      await waitFor(() => master.callsTo('Admin') >= 2, 'the first read attempt');
      slow = false;
      assert.deepEqual((await reading).body, { ok: 'GET' });
      assert.ok(master.callsTo('Admin') >= 3, 'the timed-out read was retried');
    });
  } finally {
    await stopAll(masters);
  }
});

test('a read whose budget runs out on a timeout hands back the 503 a master answered before', async () => {
  const masters = await startMasters(1);
  const [master] = masters;
  let calls = 0;
  master.script.admin = async (_request, context) => {
    calls += 1;
    if (calls === 1) return adminAnswer(503, { error: { code: 'UNAVAILABLE', message: 'no quorum' } }, master.address);
    // Later attempts get no answer within their deadline.
    await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
    // No answer: an HTTP answer sent at the deadline could beat the client's own timer.
    throw new AtollError(StatusCode.TIMEOUT, 'no answer within the deadline');
  };
  try {
    await withClient([master.address], { limits: { ...quickLimits, retryTotalMs: 300 } }, async (client) => {
      const answer = await client.admin('GET', '/api/v1/cluster', undefined, { deadlineMs: 100 });
      assert.equal(answer.status, 503);
      assert.deepEqual(answer.body, { error: { code: 'UNAVAILABLE', message: 'no quorum' } });
      assert.ok(calls >= 2, 'the read was tried again after the 503');
    });
  } finally {
    await stopAll(masters);
  }
});

test('bad construction is refused: no masters, a duplicate, an address without a port', () => {
  const rpc = new RpcClient({ secret, instance: 'x' });
  assert.throws(() => new MasterClient({ masters: [], rpc }), /no master addresses/);
  assert.throws(() => new MasterClient({ masters: ['127.0.0.1:1', '127.0.0.1:1'], rpc }), /listed twice/);
  assert.throws(() => new MasterClient({ masters: ['localhost'], rpc }), /not host:port/);
  assert.throws(() => new MasterClient({ masters: ['127.0.0.1:1'], rpc, limits: { retryBackoffInitialMs: 5000 } }), /retryBackoffInitialMs/);
});
