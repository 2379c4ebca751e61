import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.js';
import { silentLogger } from '../observability/index.js';
import { RpcClient, echoMethod } from '../rpc/index.js';
import { ServerInstance, type InstanceRecord } from './server-instance.js';

const secret = 'instance-test-secret-0123456789';

function metanodeConfig(dataDir: string, ports: { raftReplica?: number } = {}) {
  return loadConfig('metanode', [
    '--data-dir', dataDir, '--instance', 'metanode-test', '--cluster-secret', secret, '-p', '127.0.0.1:1',
    '--port', '0', '--http-port', '0', '--raft-heartbeat-port', '0', '--raft-replica-port', String(ports.raftReplica ?? 0),
  ]).config;
}

test('an instance binds its four ports, serves HTTP and RPC on them, and records them', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atoll-instance-'));
  const instance = await ServerInstance.start({ role: 'metanode', config: metanodeConfig(dataDir), logger: silentLogger() });
  const client = new RpcClient({ secret, instance: 'test' });
  try {
    const ports = instance.ports;
    assert.equal(new Set(Object.values(ports)).size, 4, 'four distinct ports');
    const record = JSON.parse(await readFile(join(dataDir, 'instance.json'), 'utf8')) as InstanceRecord;
    assert.deepEqual(record.ports, ports);
    assert.equal(record.pid, process.pid);
    const status = (await (await fetch(`http://127.0.0.1:${ports.http}/status`)).json()) as { role: string; ports: Record<string, number> };
    assert.equal(status.role, 'metanode');
    assert.deepEqual(status.ports, { service: ports.service, http: ports.http, raftHeartbeat: ports.raftHeartbeat, raftReplica: ports.raftReplica });
    assert.equal((await fetch(`http://127.0.0.1:${ports.http}/healthz`)).status, 200);
    for (const port of [ports.service, ports.raftHeartbeat, ports.raftReplica]) {
      const reply = await client.call(`127.0.0.1:${port}`, echoMethod, { sequence: port, data: new Uint8Array(0) });
      assert.equal(reply.sequence, port);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    assert.match(metrics, /atoll_rpc_calls_total\{listener="raft-replica",method="Diagnostics.Echo",status="OK",role="metanode",instance="metanode-test"\} 1/);
    for (const listener of ['service', 'raft-heartbeat', 'raft-replica']) {
      assert.match(metrics, new RegExp(`atoll_rpc_call_duration_seconds_count\\{role="metanode",instance="metanode-test",listener="${listener}",method="Diagnostics.Echo"\\} 1\n`), listener);
    }
  } finally {
    await client.close();
    await instance.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('readiness is the role\'s: /readyz is 503 with progress until the role says ready', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atoll-instance-'));
  let loaded = 0;
  const instance = await ServerInstance.start({
    role: 'metanode',
    config: metanodeConfig(dataDir),
    logger: silentLogger(),
    readiness: () => (loaded < 2 ? { ready: false, reason: 'loading partitions', details: { partitionsLoaded: loaded, partitionsTotal: 2 } } : { ready: true }),
  });
  try {
    const url = `http://127.0.0.1:${instance.ports.http}/readyz`;
    const first = await fetch(url);
    assert.equal(first.status, 503);
    const body = (await first.json()) as Record<string, unknown>;
    assert.equal(body.partitionsTotal, 2);
    assert.equal(body.reason, 'loading partitions');
    assert.equal((await fetch(`http://127.0.0.1:${instance.ports.http}/healthz`)).status, 200, 'alive while loading');
    loaded = 2;
    assert.equal((await fetch(url)).status, 200);
  } finally {
    await instance.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a second instance on the same data directory is refused, naming the directory', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atoll-instance-'));
  const first = await ServerInstance.start({ role: 'metanode', config: metanodeConfig(dataDir), logger: silentLogger() });
  try {
    await assert.rejects(ServerInstance.start({ role: 'metanode', config: metanodeConfig(dataDir), logger: silentLogger() }), (error: Error) => {
      assert.match(error.message, new RegExp(`data directory ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is locked by another instance`));
      return true;
    });
  } finally {
    await first.stop();
  }
  // Released on stop: the directory can be used again.
  const again = await ServerInstance.start({ role: 'metanode', config: metanodeConfig(dataDir), logger: silentLogger() });
  await again.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test('a taken port is refused at once, naming the port and its purpose, and the lock is released', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atoll-instance-'));
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const taken = (squatter.address() as { port: number }).port;
  try {
    await assert.rejects(
      ServerInstance.start({ role: 'metanode', config: metanodeConfig(dataDir, { raftReplica: taken }), logger: silentLogger() }),
      (error: Error) => {
        assert.match(error.message, new RegExp(`port ${taken} \\(raft-replica-port, Raft .*\\) is already in use`));
        return true;
      },
    );
    // The failed start left no lock behind.
    const instance = await ServerInstance.start({ role: 'metanode', config: metanodeConfig(dataDir), logger: silentLogger() });
    await instance.stop();
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a server role without a cluster secret is refused with a message naming the key', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atoll-instance-'));
  const config = loadConfig('datanode', ['--data-dir', dataDir, '-p', '127.0.0.1:1', '--port', '0', '--http-port', '0', '--raft-heartbeat-port', '0', '--raft-replica-port', '0']).config;
  await assert.rejects(ServerInstance.start({ role: 'datanode', config, logger: silentLogger() }), /cluster-secret: required/);
  await rm(dataDir, { recursive: true, force: true });
});
