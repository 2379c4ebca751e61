// The owner of a taken port, found through /proc with a real process holding a real port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describePortOwner, findPortOwner, listeningSocketInodes, procAddressText, type PortOwner } from './port-owner.js';

test('listening sockets are read from /proc/net/tcp text by port, listening ones only', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:4332 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:4332 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 777 1 0000000000000000 20 4 30 10 -1',
    '   2: 00000000:4333 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 654321 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  const loopback = new Set(['127.0.0.1']);
  assert.deepEqual(listeningSocketInodes(text, 0x4332, loopback), [123456]);
  assert.deepEqual(listeningSocketInodes(text, 0x4333, new Set(['10.0.0.1'])), [654321], 'a wildcard listener holds the port on every address');
  assert.deepEqual(listeningSocketInodes(text, 0x4332, new Set(['10.0.0.1'])), [], 'another address');
  assert.deepEqual(listeningSocketInodes(text, 1, loopback), []);
});

test('addresses of /proc/net/tcp6 read as text', () => {
  assert.equal(procAddressText('0100007F'), '127.0.0.1');
  assert.equal(procAddressText('00000000000000000000000001000000'), '::1');
  assert.equal(procAddressText('00000000000000000000000000000000'), '::');
  assert.equal(procAddressText('0000000000000000FFFF00000100007F'), '127.0.0.1');
  assert.equal(procAddressText('000080FE00000000FF005450B1A5E1FE'), 'fe80::5054:ff:fee1:a5b1');
  assert.equal(procAddressText('00000100020000000000000003000000'), '1:0:0:2::3', 'the longest zero run is the one left out');
});

/**
 * Runs `args` in a child node that prints the port it listens on, finds the port's owner,
 * and checks it with `check` (on Linux; elsewhere no owner can be found).
 */
async function withListeningChild(args: readonly string[], check: (owner: PortOwner, pid: number) => void): Promise<void> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('child did not listen in 15 s')), 15_000);
      child.stdout!.once('data', (chunk: Buffer) => {
        clearTimeout(timer);
        resolve(Number(chunk.toString().trim()));
      });
    });
    const owner = await findPortOwner('127.0.0.1', port);
    if (process.platform !== 'linux') {
      assert.equal(owner, undefined);
      return;
    }
    assert.ok(owner !== undefined, 'owner found');
    assert.equal(owner.pid, child.pid);
    check(owner, child.pid!);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

test('a port held by another program is traced to its pid and command line (Linux; elsewhere none is found)', async () => {
  await withListeningChild(['-e', "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port));"], (owner, pid) => {
    assert.equal(owner.atoll, undefined, 'not an AtollFS instance');
    assert.match(describePortOwner(owner), new RegExp(`^pid ${pid} \\(.*node.* -e `));
  });
});

test('an AtollFS instance inside any program is named from the LOCK it holds open (Linux)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-port-owner-'));
  const configModule = new URL('./index.js', import.meta.url).href;
  const script = [
    `const { acquireDataDirLock } = await import(${JSON.stringify(configModule)});`,
    // Kept referenced: a lock handle left to the garbage collector is closed by it (the
    // test then found no LOCK open, about once in ten runs).
    `globalThis.heldLock = await acquireDataDirLock(${JSON.stringify(dir)}, { instance: 'embedded-7', role: 'datanode', configFile: '/etc/atoll/embedded-7.toml' });`,
    "const server = (await import('node:net')).createServer().listen(0, '127.0.0.1', () => console.log(server.address().port));",
  ].join('\n');
  try {
    await withListeningChild(['--input-type=module', '-e', script], (owner, pid) => {
      assert.deepEqual(owner.atoll, { instance: 'embedded-7', role: 'datanode', configFile: '/etc/atoll/embedded-7.toml' });
      assert.equal(describePortOwner(owner), `instance embedded-7 (datanode, config /etc/atoll/embedded-7.toml; pid ${pid})`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
