import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  const [taken, free] = await freePorts(host, 2);
  const blocker = await listen(taken!);
  try {
    await assert.rejects(freePorts(host, 1, { portFirst: taken!, portEnd: taken! + 1 }), /no free port/);
    assert.deepEqual(await freePorts(host, 1, { portFirst: free!, portEnd: free! + 1 }), [free]);
    await assert.rejects(freePorts(host, 2, { portFirst: free!, portEnd: free! + 1 }), /no free port/);
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
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
