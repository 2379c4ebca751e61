// Three replicas of the test key-value service as separate processes on loopback, each
// with its own ports and data directory: kill the leader with SIGKILL under a write load,
// restart it, and check that every acknowledged write is on every replica and that their
// states agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { TestKv } from '../proto/generated/testkv.js';
import { freePorts } from '../launcher/index.js';
import { RpcClient } from '../rpc/index.js';

const kvProcess = fileURLToPath(new URL('./testing/kv-process.js', import.meta.url));

interface Member {
  nodeId: number;
  host: string;
  servicePort: number;
  heartbeatPort: number;
  replicaPort: number;
}

function address(member: Member): string {
  return `${member.host}:${member.servicePort}`;
}

async function startReplica(member: Member, cluster: Member[], dataDir: string, secret: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [kvProcess, JSON.stringify({ nodeId: member.nodeId, dataDir, secret, groups: 1, tickMs: 20, cluster })], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`replica ${member.nodeId} did not start`)), 15_000);
    lines.once('line', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`replica ${member.nodeId} exited with ${code}`)));
  });
  return child;
}

test('SIGKILL of the leader under load: every acknowledged write survives on every replica', { timeout: 120_000 }, async () => {
  const secret = randomBytes(16).toString('hex');
  const root = await mkdtemp(join(tmpdir(), 'atoll-kv-'));
  const ports = await freePorts('127.0.0.1', 9);
  const cluster: Member[] = [1, 2, 3].map((nodeId, index) => ({ nodeId, host: '127.0.0.1', servicePort: ports[index * 3]!, heartbeatPort: ports[index * 3 + 1]!, replicaPort: ports[index * 3 + 2]! }));
  const dataDirOf = (nodeId: number) => join(root, `node-${nodeId}`);
  const children = new Map<number, ChildProcess>();
  const client = new RpcClient({ secret, instance: 'kv-test', limits: { reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 200 } });
  try {
    for (const member of cluster) children.set(member.nodeId, await startReplica(member, cluster, dataDirOf(member.nodeId), secret));

    const findLeader = async (): Promise<Member> => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        for (const member of cluster) {
          const state = await client.call(address(member), TestKv.state, { countersOnly: false }, { deadlineMs: 1000 }).catch(() => null);
          if (state?.isLeader) return member;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('no leader within 20 s');
    };
    let target = address(await findLeader());

    // Writers: each retries on errors and follows NOT_LEADER hints; only acknowledged
    // writes are recorded.
    const acknowledged = new Map<string, string>();
    let stopWriting = false;
    const writer = async (writerId: number): Promise<void> => {
      for (let sequence = 0; !stopWriting && sequence < 100_000; sequence++) {
        const key = `w${writerId}-${sequence}`;
        const value = `${writerId}:${sequence}`;
        for (let attempt = 0; !stopWriting && attempt < 200; attempt++) {
          try {
            await client.call(target, TestKv.put, { key, value: Buffer.from(value) }, { deadlineMs: 3000 });
            acknowledged.set(key, value);
            break;
          } catch (error) {
            if (error instanceof AtollError && error.status === StatusCode.NOT_LEADER && error.leaderHint !== '') target = error.leaderHint;
            else {
              const others = cluster.map(address).filter((candidate) => candidate !== target);
              target = others[(writerId + attempt) % others.length]!;
              await new Promise((resolve) => setTimeout(resolve, 30));
            }
          }
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, writerId) => writer(writerId));

    // Conditions with deadlines, not fixed sleeps: on a loaded machine an election can
    // take longer than any fixed pause.
    const waitAcknowledged = async (count: number, what: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (acknowledged.size < count) {
        assert.ok(Date.now() < deadline, `${what}: only ${acknowledged.size} of ${count} writes acknowledged in 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await waitAcknowledged(200, 'before the kill');
    const leader = cluster.find((member) => address(member) === target) ?? (await findLeader());
    const countBeforeKill = acknowledged.size;
    children.get(leader.nodeId)!.kill('SIGKILL');
    await new Promise((resolve) => children.get(leader.nodeId)!.once('exit', resolve));
    await waitAcknowledged(countBeforeKill + 200, 'while the old leader is down');
    const countWhileDown = acknowledged.size;
    children.set(leader.nodeId, await startReplica(leader, cluster, dataDirOf(leader.nodeId), secret));
    await waitAcknowledged(countWhileDown + 200, 'after the restart');
    stopWriting = true;
    await Promise.all(writers);
    console.log(`kv-process: ${countBeforeKill} writes acknowledged before the SIGKILL of node ${leader.nodeId}, ${countWhileDown} by its restart, ${acknowledged.size} in all`);

    // The replicas converge: same applied index and state hash everywhere.
    const deadline = Date.now() + 30_000;
    let states: Array<{ applied: number; stateHash: string; keyCount: number }> = [];
    while (Date.now() < deadline) {
      states = await Promise.all(cluster.map((member) => client.call(address(member), TestKv.state, { countersOnly: false }, { deadlineMs: 2000 }).catch(() => ({ applied: -1, stateHash: '', keyCount: -1 }))));
      if (states.every((state) => state.applied > 0 && state.applied === states[0]!.applied && state.stateHash === states[0]!.stateHash)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(states.every((state) => state.stateHash === states[0]!.stateHash && state.applied === states[0]!.applied), `replicas converge: ${JSON.stringify(states)}`);
    assert.ok(states[0]!.keyCount >= acknowledged.size, 'no acknowledged key is missing from the count');
    // Every acknowledged write is on every replica, with its value.
    for (const member of cluster) {
      for (const [key, value] of acknowledged) {
        const reply = await client.call(address(member), TestKv.get, { key, linearizable: false });
        assert.ok(reply.found, `${key} on node ${member.nodeId}`);
        assert.equal(Buffer.from(reply.value).toString(), value);
      }
    }
  } finally {
    await client.close();
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all([...children.values()].map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    await rm(root, { recursive: true, force: true });
  }
});
