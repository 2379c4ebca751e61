// The volume SDK end to end: real processes on loopback (one master, three metanodes,
// three datanodes), every call of the node:fs-like API with its error codes, data across
// packet and extent boundaries, overwrites, holes, truncates, sessions keeping an unlinked
// file readable, the trash, streams and statfs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitFor } from '../master/testing/master-group.js';
import { Volume } from './volume.js';
import { RpcClient, callOutcomeUnknownSuffix } from '../rpc/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const holdOpenScript = fileURLToPath(new URL('./testing/hold-open.js', import.meta.url));

const kib = 1024;
const mib = 1024 * kib;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('volume SDK against a three-replica cluster', { timeout: 600_000 }, () => {
  let cluster: TestCluster;
  let volume: Volume;
  const open = (options: Partial<Parameters<typeof Volume.open>[0]> = {}) =>
    Volume.open({ masters: cluster.masterAddresses(), volume: 'sdk', clusterSecret: cluster.secret, ...options });
  // An RPC client that notes the name of every method called through it.
  const countingRpc = (): { rpc: RpcClient; sent: string[] } => {
    const rpc = new RpcClient({ secret: cluster.secret, instance: 'counting-client' });
    const sent: string[] = [];
    const call = rpc.call.bind(rpc);
    rpc.call = ((address: string, method: { name: string }, request: unknown, options?: unknown) => {
      sent.push(method.name);
      return call(address, method as never, request as never, options as never);
    }) as typeof rpc.call;
    return { rpc, sent };
  };

  before(async () => {
    cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
    await cluster.createVolume('sdk', { capacityBytes: 10 * 1024 * mib });
    volume = await open({ limits: { writeBehindFlushMs: 200, sessionLeaseSec: 6 } });
  });

  after(async () => {
    await volume?.close().catch(() => undefined);
    await cluster?.stop();
  });

  test('files: write, read, append, overwrite in the middle, holes, truncate up and down', async () => {
    await volume.writeFile('/hello.txt', 'hello world');
    assert.equal(await volume.readFile('/hello.txt', 'utf8'), 'hello world');
    await volume.appendFile('/hello.txt', '!!');
    assert.equal(await volume.readFile('/hello.txt', 'utf8'), 'hello world!!');
    const stats = await volume.stat('/hello.txt');
    assert.equal(stats.size, 13);
    assert.ok(stats.isFile() && !stats.isDirectory());
    assert.equal(stats.nlink, 1);

    // A file over several packets and read calls, then overwritten across a key boundary.
    const big = randomBytes(3 * mib + 12_345);
    await volume.writeFile('/big.bin', big);
    assert.ok((await volume.readFile('/big.bin') as Buffer).equals(big));
    const handle = await volume.open('/big.bin', 'r+');
    const patch = randomBytes(300 * kib);
    await handle.write(patch, 0, patch.byteLength, mib - 100);
    patch.copy(big, mib - 100);
    // Past the end: a hole, then data.
    await handle.write(Buffer.from('tail'), 0, 4, big.byteLength + 1000);
    const expected = Buffer.concat([big, Buffer.alloc(1000), Buffer.from('tail')]);
    const readBack = Buffer.alloc(expected.byteLength);
    const { bytesRead } = await handle.read(readBack, 0, readBack.byteLength, 0);
    assert.equal(bytesRead, expected.byteLength);
    assert.ok(readBack.equals(expected), 'overwrite, hole and tail read back');
    await handle.truncate(100);
    assert.equal((await handle.stat()).size, 100);
    await handle.truncate(5000);
    const grown = Buffer.alloc(5000);
    await handle.read(grown, 0, 5000, 0);
    assert.ok(grown.subarray(0, 100).equals(expected.subarray(0, 100)));
    assert.ok(grown.subarray(100).equals(Buffer.alloc(4900)), 'bytes past a truncate come back as zeros');
    await handle.sync();
    await handle.close();
    assert.equal((await volume.stat('/big.bin')).size, 5000);

    // Sequential reads through the handle's own offset (read-ahead).
    const seq = randomBytes(5 * mib + 3);
    await volume.writeFile('/seq.bin', seq);
    const reader = await volume.open('/seq.bin');
    const parts: Buffer[] = [];
    for (let turn = 0; turn < 100; turn++) {
      const chunk = Buffer.alloc(128 * kib);
      const { bytesRead: got } = await reader.read(chunk);
      if (got === 0) break;
      parts.push(chunk.subarray(0, got));
    }
    await reader.close();
    assert.ok(Buffer.concat(parts).equals(seq));

    // Open flags.
    assert.equal(await codeOf(volume.open('/hello.txt', 'wx')), 'EEXIST');
    assert.equal(await codeOf(volume.open('/missing.txt', 'r')), 'ENOENT');
    const readOnly = await volume.open('/hello.txt', 'r');
    assert.equal(await codeOf(readOnly.write('x')), 'EACCES');
    await readOnly.close();
    await volume.writeFile('/hello.txt', 'short', { flag: 'w' });
    assert.equal(await volume.readFile('/hello.txt', 'utf8'), 'short');
    await volume.truncate('/hello.txt', 2);
    assert.equal(await volume.readFile('/hello.txt', 'utf8'), 'sh');
  });

  test('with no buffer budget left, writes are published at once and reads go direct, with the same results', async () => {
    const lean = await open({ limits: { bufferBytesMax: 1 } });
    try {
      const content = randomBytes(2 * mib + 77);
      const handle = await lean.open('/lean.bin', 'w+');
      for (let at = 0; at < content.byteLength; at += 200 * kib) await handle.write(content, at, Math.min(200 * kib, content.byteLength - at), at);
      const back = Buffer.alloc(content.byteLength);
      for (let at = 0; at < content.byteLength; at += 64 * kib) await handle.read(back, at, Math.min(64 * kib, content.byteLength - at), at);
      assert.ok(back.equals(content));
      await handle.close();
      assert.ok(((await volume.readFile('/lean.bin')) as Buffer).equals(content), 'another client reads what the lean one wrote');
    } finally {
      await lean.close();
    }
  });

  test('directories: mkdir (recursive), readdir with types, rmdir, rm -r, and their errors', async () => {
    assert.equal(await volume.mkdir('/a/b/c', { recursive: true }), '/a');
    assert.equal(await volume.mkdir('/a/b/c', { recursive: true }), undefined);
    assert.equal(await codeOf(volume.mkdir('/a')), 'EEXIST');
    assert.equal(await codeOf(volume.mkdir('/nope/x')), 'ENOENT');
    await volume.writeFile('/a/file', 'x');
    assert.equal(await codeOf(volume.mkdir('/a/file/x')), 'ENOTDIR');
    assert.equal(await codeOf(volume.mkdir('/a/file/x', { recursive: true })), 'ENOTDIR');
    const entries = await volume.readdir('/a', { withFileTypes: true });
    assert.deepEqual(entries.map((entry) => [entry.name, entry.isDirectory(), entry.isFile()]).sort(), [['b', true, false], ['file', false, true]]);
    assert.deepEqual((await volume.readdir('/a')).sort(), ['b', 'file']);
    assert.equal((await volume.stat('/a')).nlink, 3, 'a directory with one subdirectory has nlink 3');
    assert.equal(await codeOf(volume.rmdir('/a')), 'ENOTEMPTY');
    assert.equal(await codeOf(volume.rmdir('/a/file')), 'ENOTDIR');
    assert.equal(await codeOf(volume.unlink('/a/b')), 'EISDIR');
    assert.equal(await codeOf(volume.readdir('/a/file')), 'ENOTDIR');
    assert.equal(await codeOf(volume.rm('/a')), 'EISDIR');
    await volume.rm('/a', { recursive: true });
    assert.equal(await volume.exists('/a'), false);
    await volume.rm('/a', { force: true });
    assert.equal(await codeOf(volume.rm('/a')), 'ENOENT');
    assert.equal(await codeOf(volume.stat(`/${'n'.repeat(256)}`)), 'ENAMETOOLONG');
    assert.equal(await codeOf(volume.stat('/a\0b')), 'EINVAL');
    // Many entries, more than one readdir page.
    await volume.mkdir('/many');
    await Promise.all(Array.from({ length: 1500 }, (_, index) => volume.writeFile(`/many/f${index}`, '')));
    assert.equal((await volume.readdir('/many')).length, 1500);
    const plus = await volume.readdirPlus('/many');
    assert.equal(plus.length, 1500);
    assert.ok(plus.every((entry) => entry.stats?.isFile() === true && entry.stats.size === 0));
  });

  test('rename, hard links, symlinks, chmod/chown/utimes and xattrs', async () => {
    await volume.mkdir('/r');
    await volume.writeFile('/r/one', '1');
    await volume.writeFile('/r/two', '2');
    await volume.rename('/r/one', '/r/two');
    assert.equal(await volume.readFile('/r/two', 'utf8'), '1', 'rename over an existing file replaces it');
    assert.equal(await volume.exists('/r/one'), false);
    await volume.mkdir('/r/d1');
    await volume.mkdir('/r/d2');
    await volume.writeFile('/r/d2/x', 'x');
    assert.equal(await codeOf(volume.rename('/r/d1', '/r/d2')), 'ENOTEMPTY');
    assert.equal(await codeOf(volume.rename('/r/d1', '/r/d1/sub')), 'EINVAL');
    await volume.rename('/r/d1', '/r/d3');
    assert.ok((await volume.stat('/r/d3')).isDirectory());

    await volume.link('/r/two', '/r/two-link');
    assert.equal((await volume.stat('/r/two')).nlink, 2);
    await volume.unlink('/r/two');
    assert.equal((await volume.stat('/r/two-link')).nlink, 1);
    assert.equal(await volume.readFile('/r/two-link', 'utf8'), '1');
    assert.equal(await codeOf(volume.link('/r/d3', '/r/d3-link')), 'EACCES');

    await volume.symlink('two-link', '/r/sym');
    await volume.symlink('/r/d2', '/r/dir-sym');
    assert.equal(await volume.readlink('/r/sym'), 'two-link');
    assert.ok((await volume.lstat('/r/sym')).isSymbolicLink());
    assert.equal(await volume.readFile('/r/sym', 'utf8'), '1', 'reads follow the link');
    assert.equal(await volume.readFile('/r/dir-sym/x', 'utf8'), 'x', 'a link in the middle of a path');
    assert.equal(await volume.readFile('/r/d3/../two-link', 'utf8'), '1', '.. goes to the parent');
    await volume.symlink('loop-b', '/r/loop-a');
    await volume.symlink('loop-a', '/r/loop-b');
    assert.equal(await codeOf(volume.stat('/r/loop-a')), 'ELOOP');
    assert.equal(await codeOf(volume.readlink('/r/two-link')), 'EINVAL');

    await volume.chmod('/r/two-link', 0o600);
    await volume.chown('/r/two-link', 1234, 5678);
    await volume.utimes('/r/two-link', new Date(1_000_000_000_500), [1_600_000_000, 123_456_789]);
    const stats = await volume.stat('/r/two-link');
    assert.equal(stats.mode & 0o7777, 0o600);
    assert.deepEqual([stats.uid, stats.gid], [1234, 5678]);
    assert.equal(stats.atimeMs, 1_000_000_000_500);
    assert.deepEqual(stats.mtimeSpec, { sec: 1_600_000_000, nsec: 123_456_789 });

    await volume.setxattr('/r/two-link', 'user.color', 'blue');
    assert.equal((await volume.getxattr('/r/two-link', 'user.color')).toString(), 'blue');
    assert.deepEqual(await volume.listxattr('/r/two-link'), ['user.color']);
    assert.equal(await codeOf(volume.setxattr('/r/two-link', 'user.color', 'red', 'create')), 'EEXIST');
    await volume.removexattr('/r/two-link', 'user.color');
    assert.equal(await codeOf(volume.getxattr('/r/two-link', 'user.color')), 'ENOENT');
  });

  test('a missing attribute of an inode without xattrs is answered from fresh attributes, without a call; its own changes and other clients see the partition', async () => {
    const { rpc, sent } = countingRpc();
    const cached = await open({ rpc, limits: { attrCacheTtlMs: 60_000 } });
    const fresh = await open();
    try {
      await volume.writeFile('/xattr-presence', 'x');
      await cached.stat('/xattr-presence');
      sent.length = 0;
      assert.deepEqual(await cached.listxattr('/xattr-presence'), []);
      for (let turn = 0; turn < 3; turn++) assert.equal(await codeOf(cached.getxattr('/xattr-presence', 'security.capability')), 'ENOENT');
      assert.deepEqual(sent, [], 'answered from the attributes the stat cached');
      // Names the partition refuses still reach it, for its own answer.
      assert.equal(await codeOf(cached.getxattr('/xattr-presence', '')), 'EINVAL');
      assert.equal(await codeOf(cached.getxattr('/xattr-presence', 'x'.repeat(256))), 'ENAMETOOLONG');

      await volume.setxattr('/xattr-presence', 'user.k', 'v');
      assert.equal((await fresh.getxattr('/xattr-presence', 'user.k')).toString(), 'v');
      // The cached client's attributes (fresh for a minute) still say none: it answers
      // without asking, as its stat would answer its old attributes.
      assert.equal(await codeOf(cached.getxattr('/xattr-presence', 'user.k')), 'ENOENT');
      assert.deepEqual(await cached.listxattr('/xattr-presence'), []);
      // Its own change brings the inode as the partition has it.
      await cached.setxattr('/xattr-presence', 'user.m', 'w');
      assert.equal((await cached.getxattr('/xattr-presence', 'user.k')).toString(), 'v');
      assert.deepEqual(await cached.listxattr('/xattr-presence'), ['user.k', 'user.m']);
      await cached.removexattr('/xattr-presence', 'user.m');
      await cached.removexattr('/xattr-presence', 'user.k');
      assert.equal(await codeOf(cached.getxattr('/xattr-presence', 'user.k')), 'ENOENT');
      assert.deepEqual(await fresh.listxattr('/xattr-presence'), []);
    } finally {
      await cached.close();
      await fresh.close();
    }
  });

  test('an unlinked open file stays readable until its close, also from another client; then its space comes back', async () => {
    const other = await open({ limits: { sessionLeaseSec: 6 } });
    try {
      const content = randomBytes(2 * mib);
      await volume.writeFile('/open-then-unlink', content);
      const handle = await other.open('/open-then-unlink');
      await volume.unlink('/open-then-unlink');
      assert.equal(await volume.exists('/open-then-unlink'), false);
      // Past the metanode's housekeeping (about a second): still there for the open handle.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const bytes = Buffer.alloc(content.byteLength);
      await handle.read(bytes, 0, bytes.byteLength, 0);
      assert.ok(bytes.equals(content), 'the open descriptor still reads the data');
      const ino = handle.ino;
      await handle.close();
      await waitFor('the inode freed after the last close', 30_000, async () => ((await inodeGone(other, ino)) ? true : undefined), 200);
    } finally {
      await other.close();
    }
  });

  test('an open file sees its own link count change: a link makes it 2, unlinking both names 0, its unpublished bytes kept', async () => {
    await volume.mkdir('/links-open');
    const handle = await volume.open('/links-open/a', 'w+');
    try {
      await handle.write(Buffer.from('not yet published'), 0, 17, 0);
      assert.equal((await handle.stat()).nlink, 1);
      await volume.link('/links-open/a', '/links-open/b');
      assert.equal((await handle.stat()).nlink, 2, 'after link');
      await volume.unlink('/links-open/a');
      assert.equal((await handle.stat()).nlink, 1, 'after one unlink');
      await volume.writeFile('/links-open/c', 'other');
      await volume.rename('/links-open/c', '/links-open/b');
      const stats = await handle.stat();
      assert.equal(stats.nlink, 0, 'after the last name was renamed over');
      assert.equal(stats.size, 17, 'the buffered bytes still count');
      const bytes = Buffer.alloc(17);
      await handle.read(bytes, 0, 17, 0);
      assert.equal(bytes.toString(), 'not yet published');
    } finally {
      await handle.close();
    }
  });

  test('round trips: a create or an unlink leaves the parent\'s attributes cached, and a stat of a name is one lookup', async () => {
    const { rpc, sent } = countingRpc();
    const counted = await open({ rpc });
    try {
      await counted.mkdir('/rt');
      await counted.stat('/rt');
      sent.length = 0;
      await (await counted.open('/rt/new', 'wx')).close();
      await counted.stat('/rt');
      await counted.stat('/rt/new');
      assert.deepEqual(sent.filter((name) => !['OpenSession', 'RecordOpen', 'RecordClose'].includes(name)), ['Lookup', 'CreateInode'], 'the create\'s negative lookup and the create; both stats from the cache');
      sent.length = 0;
      await counted.unlink('/rt/new');
      await counted.stat('/rt');
      assert.deepEqual(sent, ['Unlink'], 'the parent after the unlink came with its answer');
      await volume.writeFile('/rt/other', 'x');
      sent.length = 0;
      const stats = await counted.stat('/rt/other');
      assert.equal(stats.size, 1);
      assert.deepEqual(sent, ['Lookup'], 'the lookup answered the inode with the entry');
    } finally {
      await counted.close();
    }
  });

  test('a create, link, rename, unlink, setattr and xattr change whose answers are lost after they took effect still succeed, and a real conflict still fails', async () => {
    // Fault injection at the RPC boundary: the call reaches the real metanode and is carried
    // out, then its answer is replaced by the error of a connection lost in flight.
    const rpc = new RpcClient({ secret: cluster.secret, instance: 'lossy-client' });
    const lose = new Set<string>();
    // Or the call is lost before it reaches the metanode, and something happens meanwhile.
    const loseUnsent = new Map<string, () => Promise<void>>();
    // Or the call is carried out, something happens, and then its answer is lost.
    const loseAfter = new Map<string, () => Promise<void>>();
    const call = rpc.call.bind(rpc);
    rpc.call = (async (address: string, method: { name: string }, request: unknown, options?: unknown) => {
      const meanwhile = loseUnsent.get(method.name);
      if (meanwhile !== undefined) {
        loseUnsent.delete(method.name);
        await meanwhile();
        throw new AtollError(StatusCode.UNAVAILABLE, `${address}: connection closed by the server${callOutcomeUnknownSuffix}`, { outcomeUnknown: true });
      }
      const answer = await call(address, method as never, request as never, options as never);
      const after = loseAfter.get(method.name);
      if (after !== undefined) {
        loseAfter.delete(method.name);
        await after();
        throw new AtollError(StatusCode.UNAVAILABLE, `${address}: connection closed by the server${callOutcomeUnknownSuffix}`, { outcomeUnknown: true });
      }
      if (lose.delete(method.name)) throw new AtollError(StatusCode.UNAVAILABLE, `${address}: connection closed by the server${callOutcomeUnknownSuffix}`, { outcomeUnknown: true });
      return answer;
    }) as typeof rpc.call;
    const lossy = await open({ rpc });
    try {
      await lossy.mkdir('/lossy');
      lose.add('CreateInode');
      await lossy.writeFile('/lossy/a', 'a');
      assert.equal(lose.size, 0, 'the answer was lost');
      assert.equal(await volume.readFile('/lossy/a', 'utf8'), 'a');
      lose.add('Link');
      await lossy.link('/lossy/a', '/lossy/b');
      lose.add('Rename');
      await lossy.rename('/lossy/b', '/lossy/c');
      lose.add('Unlink');
      await lossy.unlink('/lossy/c');
      assert.deepEqual(await volume.readdir('/lossy'), ['a']);
      assert.equal((await volume.stat('/lossy/a')).nlink, 1);
      // A setattr (chmod, truncate) is repeated as it is; an xattr create's repeat meets
      // its own attribute, a removal's repeat finds it gone.
      lose.add('Setattr');
      await lossy.chmod('/lossy/a', 0o600);
      assert.equal(lose.size, 0, 'the setattr answer was lost');
      // (This client's view: the repeat's answer, the metanode's state after it.)
      assert.equal((await lossy.stat('/lossy/a')).mode & 0o777, 0o600);
      lose.add('Setattr');
      await lossy.truncate('/lossy/a', 0);
      assert.equal(lose.size, 0);
      assert.equal((await lossy.stat('/lossy/a')).size, 0);
      lose.add('SetXattr');
      await lossy.setxattr('/lossy/a', 'user.k', 'v', 'create');
      assert.equal(lose.size, 0, 'the setxattr answer was lost');
      // Asked of this client: the other one stat'ed the file just before and may trust
      // its attributes (no xattrs) for the TTL; this one must not trust what it had.
      assert.equal((await lossy.getxattr('/lossy/a', 'user.k')).toString(), 'v');
      const conflict = await lossy.setxattr('/lossy/a', 'user.k', 'other', 'create').then(() => 'set', (error: { code?: string }) => error.code);
      assert.equal(conflict, 'EEXIST', 'a create over an attribute that is there still fails');
      lose.add('RemoveXattr');
      await lossy.removexattr('/lossy/a', 'user.k');
      assert.equal(lose.size, 0, 'the removexattr answer was lost');
      assert.deepEqual(await volume.listxattr('/lossy/a'), []);
      await lossy.writeFile('/lossy/a', 'a');
      // A truncate carried out, then another client writes the file, then the truncate's
      // answer is lost: its repeat is recognised and the other client's bytes stay.
      await volume.writeFile('/lossy/t', 'x'.repeat(10));
      loseAfter.set('Setattr', async () => {
        const other = await open();
        try {
          const handle = await other.open('/lossy/t', 'r+');
          await handle.write(Buffer.from('yyyy'), 0, 4, 0);
          await handle.close();
        } finally {
          await other.close();
        }
      });
      await lossy.truncate('/lossy/t', 0);
      assert.equal(loseAfter.size, 0, 'the truncate was carried out and its answer lost');
      const reader = await open();
      try {
        assert.equal(await reader.readFile('/lossy/t', 'utf8'), 'yyyy', 'the write made between the truncate and its repeat stays');
      } finally {
        await reader.close();
      }
      // The create is lost unsent while another client makes the name: the repeat's EEXIST
      // is not this client's create, and stands.
      loseUnsent.set('CreateInode', async () => void (await volume.writeFile('/lossy/taken', 'theirs')));
      const failure = await lossy.open('/lossy/taken', 'wx').then(() => 'opened', (error: { code?: string }) => error.code);
      assert.equal(failure, 'EEXIST');
      assert.equal(await volume.readFile('/lossy/taken', 'utf8'), 'theirs');
    } finally {
      await lossy.close();
    }
  });

  test('deferred open records: a quick open and close records nothing; an unlink by this client sends the waiting record first', async () => {
    const deferring = await open({ limits: { openRecordDeferMs: 60_000 } });
    try {
      await deferring.writeFile('/quick', 'q');
      assert.equal((await deferring.sessionIds()).size, 0, 'no session was needed');
      const content = randomBytes(300 * kib);
      await deferring.writeFile('/held-deferred', content);
      const handle = await deferring.open('/held-deferred');
      await deferring.unlink('/held-deferred');
      assert.equal((await deferring.sessionIds()).size, 1, 'the open was recorded before the unlink');
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const bytes = Buffer.alloc(content.byteLength);
      await handle.read(bytes, 0, bytes.byteLength, 0);
      assert.ok(bytes.equals(content), 'still readable after the housekeeping');
      const ino = handle.ino;
      await handle.close();
      await waitFor('the inode freed after the close', 30_000, async () => ((await inodeGone(deferring, ino)) ? true : undefined), 200);
    } finally {
      await deferring.close();
    }
  });

  test('a client that dies keeps nothing open: its session expires and the unlinked file is freed', async () => {
    await volume.writeFile('/held', 'held');
    const child = spawn(process.execPath, [holdOpenScript, cluster.masterAddresses().join(','), 'sdk', '/held', '3'], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      child.stdin.end(cluster.secret);
      const line = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\n')) resolve(text.trim());
        });
        child.once('exit', (code) => reject(new Error(`the holding client exited with ${code} before opening`)));
      });
      const ino = Number(/^open (\d+)$/.exec(line)?.[1]);
      assert.ok(ino > 0, line);
      await volume.unlink('/held');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(await inodeGone(volume, ino), false, 'kept while the holder lives');
      child.kill('SIGKILL');
      await waitFor('the inode freed after the session expired', 30_000, async () => ((await inodeGone(volume, ino)) ? true : undefined), 250);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('streams, statfs and a wrong access key', async () => {
    const source = randomBytes(3 * mib + 17);
    await pipeline(Readable.from([source.subarray(0, mib), source.subarray(mib)]), volume.createWriteStream('/stream.bin'));
    const hash = createHash('sha256');
    await pipeline(volume.createReadStream('/stream.bin', { highWaterMark: 256 * kib }), hash);
    assert.equal(hash.digest('hex'), createHash('sha256').update(source).digest('hex'));
    const part: Buffer[] = [];
    for await (const chunk of volume.createReadStream('/stream.bin', { start: 10, end: 19 })) part.push(chunk as Buffer);
    assert.ok(Buffer.concat(part).equals(source.subarray(10, 20)));

    const statfs = await volume.statfs();
    assert.equal(statfs.capacityBytes, 10 * 1024 * mib);
    assert.equal(statfs.bsize, 4096);
    assert.ok(statfs.blocks > 0 && statfs.bfree <= statfs.blocks);

    await assert.rejects(open({ accessKey: 'not-the-key' }), (error: { code?: string }) => error.code === 'EACCES');
    await assert.rejects(Volume.open({ masters: cluster.masterAddresses(), volume: 'no-such-volume', clusterSecret: cluster.secret, metaLimits: { retryTotalMs: 2_000 } }), (error: { code?: string }) => error.code === 'ENOENT');
  });

  test('trash: a removed file moves to the trash, is listed and restored', async () => {
    const answer = await cluster.admin('PATCH', '/api/v1/volumes/sdk', { trashRetentionHours: 1 });
    assert.equal(answer.status, 200);
    const trashed = await open();
    try {
      await waitFor('the retention known to the metanodes', 30_000, async () => {
        await trashed.writeFile('/precious', 'keep me');
        await trashed.unlink('/precious');
        const entries = await trashed.listTrash();
        return entries.find((entry) => entry.originalName === 'precious');
      }, 500);
      const entry = (await trashed.listTrash()).find((candidate) => candidate.originalName === 'precious')!;
      await trashed.restoreTrash(entry.name);
      assert.equal(await trashed.readFile('/precious', 'utf8'), 'keep me');
    } finally {
      await cluster.admin('PATCH', '/api/v1/volumes/sdk', { trashRetentionHours: 0 });
      await trashed.close();
    }
  });
});

async function inodeGone(volume: Volume, ino: number): Promise<boolean> {
  try {
    await volume.statInode(ino, { fresh: true });
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'ENOENT' || (error as { code?: string }).code === 'ESTALE';
  }
}
