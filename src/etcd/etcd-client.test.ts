// The etcd client against a real etcd on loopback: range, put, txn compares, lease expiry,
// watch, endpoint failover, and etcd being down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { freePorts } from '../launcher/index.js';
import { EtcdClient, prefixEnd, type WatchEvent } from './etcd-client.js';
import { EtcdProcess } from './etcd-process.js';
import { etcdSuiteOptions, startTestEtcd, type TestEtcd } from './testing/etcd-available.js';

async function waitUntil(what: string, deadlineMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('prefixEnd increments the last byte below 0xff', () => {
  assert.equal(prefixEnd('/a/'), '/a0');
  // Keys are UTF-8: 'é' is c3 a9, so the end is 61 c3 aa.
  assert.equal(Buffer.from(prefixEnd('a\u00e9'), 'latin1').toString('hex'), '61c3aa');
});

describe('etcd client against a real etcd', { timeout: 120_000, ...etcdSuiteOptions('etcd client tests') }, () => {
  let server: TestEtcd;
  let client: EtcdClient;

  before(async () => {
    server = await startTestEtcd();
    client = new EtcdClient({ endpoints: [server.etcd.endpoint] });
  });

  after(async () => {
    client?.close();
    await server?.dispose();
  });

  test('put, get, prefix range sorted by creation, delete', async () => {
    const first = await client.put('/t/range/b', 'two');
    const second = await client.put('/t/range/a', Buffer.from([0, 1, 255]));
    assert.ok(second.revision > first.revision);
    const one = await client.get('/t/range/b');
    assert.equal(one?.value.toString('utf8'), 'two');
    assert.equal(one?.createRevision, first.revision);
    const all = await client.range('/t/range/', { prefix: true, sortByCreate: true });
    assert.deepEqual(all.kvs.map((kv) => kv.key), ['/t/range/b', '/t/range/a']);
    assert.deepEqual([...all.kvs[1]!.value], [0, 1, 255]);
    assert.equal(all.count, 2);
    assert.equal(await client.get('/t/range/missing'), undefined);
    const removed = await client.deleteRange('/t/range/', { prefix: true });
    assert.equal(removed.deleted, 2);
    assert.equal((await client.range('/t/range/', { prefix: true })).count, 0);
    // An older revision still reads.
    const old = await client.range('/t/range/', { prefix: true, revision: second.revision });
    assert.equal(old.count, 2);
  });

  test('txn: a compare that holds runs success, one that fails runs failure and writes nothing', async () => {
    const created = await client.put('/t/txn/guard', 'g');
    const ok = await client.txn({
      compare: [{ key: '/t/txn/guard', target: 'create', result: 'equal', number: created.revision }],
      success: [{ put: { key: '/t/txn/x', value: '1' } }, { range: { key: '/t/txn/guard' } }],
    });
    assert.equal(ok.succeeded, true);
    assert.equal(ok.ranges[0]?.[0]?.value.toString(), 'g');
    const refused = await client.txn({
      compare: [{ key: '/t/txn/guard', target: 'create', result: 'equal', number: created.revision + 1000 }],
      success: [{ put: { key: '/t/txn/x', value: '2' } }],
      failure: [{ range: { key: '/t/txn/x' } }],
    });
    assert.equal(refused.succeeded, false);
    assert.equal(refused.ranges[0]?.[0]?.value.toString(), '1');
    assert.equal((await client.get('/t/txn/x'))?.value.toString(), '1');
    // Compare-and-swap on a value; a missing key has create revision 0.
    const swapped = await client.txn({ compare: [{ key: '/t/txn/x', target: 'value', result: 'equal', value: '1' }], success: [{ put: { key: '/t/txn/x', value: '3' } }] });
    assert.equal(swapped.succeeded, true);
    const absent = await client.txn({ compare: [{ key: '/t/txn/none', target: 'create', result: 'equal', number: 0 }], success: [{ put: { key: '/t/txn/none', value: 'n' } }] });
    assert.equal(absent.succeeded, true);
    const again = await client.txn({ compare: [{ key: '/t/txn/none', target: 'create', result: 'equal', number: 0 }], success: [{ put: { key: '/t/txn/none', value: 'm' } }] });
    assert.equal(again.succeeded, false);
  });

  test('lease: keep-alive renews it; left alone it expires and its keys vanish', async () => {
    const lease = await client.leaseGrant(2);
    assert.equal(lease.ttlSeconds, 2);
    await client.put('/t/lease/k', 'v', { lease: lease.id });
    assert.equal((await client.get('/t/lease/k'))?.lease, lease.id);
    const startedAt = Date.now();
    while (Date.now() - startedAt < 3_000) {
      assert.ok(await client.leaseKeepAlive(lease.id) > 0);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(await client.get('/t/lease/k'), 'kept alive past its TTL');
    await waitUntil('the lease to expire', 10_000, async () => (await client.get('/t/lease/k')) === undefined);
    assert.equal(await client.leaseKeepAlive(lease.id), 0);
    const other = await client.leaseGrant(30);
    await client.leaseRevoke(other.id);
    assert.equal(await client.leaseKeepAlive(other.id), 0);
  });

  test('watch delivers puts and deletes from a revision, and cancel ends it', async () => {
    const start = await client.put('/t/watch/a', '0');
    const seen: WatchEvent[] = [];
    const watch = client.watch('/t/watch/', { prefix: true, startRevision: start.revision }, (events) => seen.push(...events));
    await client.put('/t/watch/b', '1');
    await client.deleteRange('/t/watch/a');
    await waitUntil('three events', 10_000, () => seen.length >= 3);
    assert.deepEqual(seen.map((event) => `${event.type} ${event.kv.key}`), ['put /t/watch/a', 'put /t/watch/b', 'delete /t/watch/a']);
    watch.cancel();
    assert.equal(await watch.ended, null);
  });

  test('a dead endpoint first in the list is skipped', async () => {
    const [deadPort] = await freePorts('127.0.0.1', 1);
    const failover = new EtcdClient({ endpoints: [`127.0.0.1:${deadPort}`, server.etcd.endpoint] });
    await failover.put('/t/failover', 'ok');
    assert.equal((await failover.get('/t/failover'))?.value.toString(), 'ok');
  });

  test('a hung endpoint (accepts, never answers) costs a read only its share of the deadline', async () => {
    const sockets = new Set<Socket>();
    const hung = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hung.address() as { port: number }).port;
      const client2 = new EtcdClient({ endpoints: [`127.0.0.1:${port}`, server.etcd.endpoint], requestDeadlineMs: 2_000 });
      const startedAt = Date.now();
      await client2.range('/t/', { prefix: true });
      assert.ok(Date.now() - startedAt < 2_000);
      // A write is not sent twice: to the hung endpoint it times out with an unknown outcome.
      const writer = new EtcdClient({ endpoints: [`127.0.0.1:${port}`, server.etcd.endpoint], requestDeadlineMs: 500 });
      await assert.rejects(writer.put('/t/hung', 'x'), (error: unknown) => error instanceof AtollError && error.status === StatusCode.TIMEOUT);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  test('a second etcd on a port another etcd answers on does not pass for started: it names the holder', async () => {
    const root = await mkdtemp(join(tmpdir(), 'atoll-etcd-second-'));
    try {
      const [peerPort] = await freePorts('127.0.0.1', 1);
      const clientPort = Number(server.etcd.endpoint.split(':')[1]);
      await assert.rejects(
        EtcdProcess.start({ dataDir: join(root, 'etcd'), host: '127.0.0.1', clientPort, peerPort: peerPort!, readyDeadlineMs: 10_000 }),
        (error: Error) => /did not (start|answer)/.test(error.message) && new RegExp(`held by pid ${server.etcd.pid}`).test(error.message),
      );
      // A child that never binds (it only sleeps) while the other etcd answers on its port:
      // not taken for started, whatever the answers say.
      const sleeper = join(root, 'sleeping-etcd');
      await writeFile(sleeper, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
      await assert.rejects(
        EtcdProcess.start({ dataDir: join(root, 'etcd2'), host: '127.0.0.1', clientPort, peerPort: peerPort!, binary: sleeper, readyDeadlineMs: 1_500 }),
        (error: Error) => /did not answer/.test(error.message) && new RegExp(`held by pid ${server.etcd.pid}`).test(error.message),
      );
      await client.put('/second/still', 'x');
      assert.ok(await client.get('/second/still'), 'the first etcd still serves');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('etcd down: requests fail UNAVAILABLE within the deadline; back up, they work again', async () => {
    const short = new EtcdClient({ endpoints: [server.etcd.endpoint], requestDeadlineMs: 500 });
    await server.etcd.stop();
    const startedAt = Date.now();
    await assert.rejects(short.range('/t/'), (error: unknown) => error instanceof AtollError && error.status === StatusCode.UNAVAILABLE);
    assert.ok(Date.now() - startedAt < 2_000);
    await server.etcd.restart();
    assert.ok((await short.range('/t/', { prefix: true })).count > 0);
    // A stopped (frozen) etcd: the deadline holds.
    server.etcd.signal('SIGSTOP');
    try {
      const frozenAt = Date.now();
      await assert.rejects(short.put('/t/frozen', 'x'), (error: unknown) => error instanceof AtollError && error.status === StatusCode.TIMEOUT);
      assert.ok(Date.now() - frozenAt < 2_000);
    } finally {
      server.etcd.signal('SIGCONT');
    }
  });
});
