import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralPortStart, ephemeralPortStartDefault, freePorts, portMin } from './free-ports.js';

const host = '127.0.0.1';

async function listen(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => resolve());
  });
  return server;
}

test('ports are distinct, bindable and below the ephemeral range', async () => {
  const end = ephemeralPortStart();
  const ports = await freePorts(host, 40);
  assert.equal(ports.length, 40);
  assert.equal(new Set(ports).size, 40);
  for (const port of ports) {
    assert.ok(port >= portMin && port < end, `${port} outside ${portMin}-${end - 1}`);
  }
  const servers = await Promise.all(ports.map(listen));
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

test('a port someone listens on is never chosen, and one port is not handed out twice', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-ports-'));
  try {
    const [taken, free] = await freePorts(host, 2, { reservationDirectory: join(dir, 'first') });
    const blocker = await listen(taken!);
    try {
      const fresh = (name: string) => ({ reservationDirectory: join(dir, name) });
      await assert.rejects(freePorts(host, 1, { ...fresh('a'), portFirst: taken!, portEnd: taken! + 1 }), /no free port/);
      assert.deepEqual(await freePorts(host, 1, { ...fresh('b'), portFirst: free!, portEnd: free! + 1 }), [free]);
      await assert.rejects(freePorts(host, 2, { ...fresh('c'), portFirst: free!, portEnd: free! + 1 }), /no free port/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a port reserved by a live process or an existing cluster directory is not handed out; a gone owner\'s reservation is removed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-ports-'));
  try {
    const [port] = await freePorts(host, 1, { reservationDirectory: join(dir, 'probe') });
    const only = { portFirst: port!, portEnd: port! + 1 };
    // This process chose it: not again, even from a fresh call.
    const mine = join(dir, 'mine');
    assert.deepEqual(await freePorts(host, 1, { ...only, reservationDirectory: mine }), [port]);
    await assert.rejects(freePorts(host, 1, { ...only, reservationDirectory: mine }), /no free port/);
    assert.deepEqual(await readdir(join(mine, String(port))), [`pid-${process.pid}`]);
    // Another live process (pid 1 always is) holds it.
    const live = join(dir, 'live');
    await mkdir(join(live, String(port)), { recursive: true });
    await writeFile(join(live, String(port), 'pid-1'), '1');
    await assert.rejects(freePorts(host, 1, { ...only, reservationDirectory: live }), /no free port/);
    assert.deepEqual(await readdir(join(live, String(port))), ['pid-1'], 'the refused reservation took its file back');
    // A process that has exited: its reservation is removed and the port handed out.
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const dead = join(dir, 'dead');
    await mkdir(join(dead, String(port)), { recursive: true });
    await writeFile(join(dead, String(port), `pid-${child.stdout}`), child.stdout);
    assert.deepEqual(await freePorts(host, 1, { ...only, reservationDirectory: dead }), [port]);
    assert.deepEqual(await readdir(join(dead, String(port))), [`pid-${process.pid}`]);
    // A saved cluster's reservation lasts while its directory exists, whoever asks.
    const saved = join(dir, 'saved');
    const clusterDir = join(dir, 'cluster');
    await mkdir(clusterDir);
    assert.deepEqual(await freePorts(host, 1, { ...only, reservationDirectory: saved, owner: { clusterDir } }), [port]);
    await assert.rejects(freePorts(host, 1, { ...only, reservationDirectory: saved }), /no free port/);
    await rm(clusterDir, { recursive: true });
    assert.deepEqual(await freePorts(host, 1, { ...only, reservationDirectory: saved }), [port]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the ephemeral start comes from the kernel file, with the default when it is unreadable or malformed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-ports-'));
  try {
    await writeFile(join(dir, 'range'), '40000\t60999\n');
    assert.equal(ephemeralPortStart(join(dir, 'range')), 40_000);
    await writeFile(join(dir, 'bad'), 'nonsense\n');
    assert.equal(ephemeralPortStart(join(dir, 'bad')), ephemeralPortStartDefault);
    assert.equal(ephemeralPortStart(join(dir, 'missing')), ephemeralPortStartDefault);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('with too few ports below the ephemeral range the kernel chooses', async () => {
  const ports = await freePorts(host, 3, { portEnd: portMin + 10, random: () => { throw new Error('not drawn'); } });
  assert.equal(new Set(ports).size, 3);
});
