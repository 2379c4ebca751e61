// The kernel session driven by made-up requests through an in-memory channel, with the
// memory file system behind it: what each request becomes and what the kernel gets back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OperationRunner, type UnexpectedErrorReport } from '../binding.js';
import { MemoryFileSystem } from '../memory-fs.js';
import { KernelSession, type KernelChannel } from './kernel-session.js';
import { InitFlag, Opcode, SetattrValid, entryOutBytes, inHeaderBytes, outHeaderBytes, rootNodeId } from './protocol.js';

const errnoNames = { ENOENT: -2, EIO: -5, EINVAL: -22, ERANGE: -34, ENOSYS: -38, EPROTO: -71 } as const;

interface Reply {
  readonly unique: bigint;
  readonly error: number;
  readonly body: Buffer;
}

class TestChannel implements KernelChannel {
  readonly replies: Reply[] = [];
  readonly #waiting: Array<{ buffer: Buffer; callback: (error: NodeJS.ErrnoException | null, bytes: number) => void }> = [];
  readonly #queued: Array<Buffer | NodeJS.ErrnoException> = [];

  read(buffer: Buffer, callback: (error: NodeJS.ErrnoException | null, bytes: number) => void): void {
    this.#waiting.push({ buffer, callback });
    this.#pump();
  }

  write(parts: readonly Buffer[]): void {
    const whole = Buffer.concat(parts);
    assert.equal(whole.readUInt32LE(0), whole.length, 'a reply states its own length');
    this.replies.push({ error: whole.readInt32LE(4), unique: whole.readBigUInt64LE(8), body: whole.subarray(outHeaderBytes) });
  }

  push(request: Buffer | NodeJS.ErrnoException): void {
    this.#queued.push(request);
    this.#pump();
  }

  #pump(): void {
    while (this.#waiting.length > 0 && this.#queued.length > 0) {
      const { buffer, callback } = this.#waiting.shift()!;
      const next = this.#queued.shift()!;
      setImmediate(() => {
        if (next instanceof Error) return callback(next, 0);
        next.copy(buffer);
        callback(null, next.length);
      });
    }
  }
}

let uniqueCounter = 0n;

function request(opcode: number, nodeId: number, body: Buffer = Buffer.alloc(0), ids = { uid: 0, gid: 0 }): { bytes: Buffer; unique: bigint } {
  const unique = ++uniqueCounter;
  const header = Buffer.alloc(inHeaderBytes);
  header.writeUInt32LE(inHeaderBytes + body.length, 0);
  header.writeUInt32LE(opcode, 4);
  header.writeBigUInt64LE(unique, 8);
  header.writeBigUInt64LE(BigInt(nodeId), 16);
  header.writeUInt32LE(ids.uid, 24);
  header.writeUInt32LE(ids.gid, 28);
  header.writeUInt32LE(1234, 32);
  return { bytes: Buffer.concat([header, body]), unique };
}

const cstring = (text: string): Buffer => Buffer.from(`${text}\0`);
const u32s = (...values: number[]): Buffer => {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => out.writeUInt32LE(value, index * 4));
  return out;
};
const u64s = (...values: Array<number | bigint>): Buffer => {
  const out = Buffer.alloc(values.length * 8);
  values.forEach((value, index) => out.writeBigUInt64LE(BigInt(value), index * 8));
  return out;
};

function setup(options: { maxWriteBytes?: number; negativeTimeoutSeconds?: number } = {}) {
  const channel = new TestChannel();
  const fileSystem = new MemoryFileSystem({ uid: 500, gid: 500, now: () => 1_700_000_000_123 });
  const reports: UnexpectedErrorReport[] = [];
  const protocolErrors: Error[] = [];
  const runner = new OperationRunner(0, (report) => reports.push(report));
  const session = new KernelSession(channel, fileSystem, runner, {
    entryTimeoutSeconds: 1,
    attrTimeoutSeconds: 1.5,
    negativeTimeoutSeconds: options.negativeTimeoutSeconds ?? 0,
    maxWriteBytes: options.maxWriteBytes ?? 1024 * 1024,
    onProtocolError: (error) => protocolErrors.push(error),
  });
  session.start();
  const call = async (made: { bytes: Buffer; unique: bigint }): Promise<Reply> => {
    channel.push(made.bytes);
    for (let turn = 0; turn < 1000; turn++) {
      const reply = channel.replies.find((candidate) => candidate.unique === made.unique);
      if (reply !== undefined) return reply;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`no reply to request ${made.unique}`);
  };
  const init = async (minor = 45, flags = 0x73fffffb) => call(request(Opcode.INIT, 0, u32s(7, minor, 128 * 1024, flags)));
  return { channel, fileSystem, session, call, init, reports, protocolErrors };
}

/** fuse_attr fields from an entry_out (at 40) or attr_out (at 16). */
function attrAt(body: Buffer, at: number) {
  return {
    ino: Number(body.readBigUInt64LE(at)),
    size: Number(body.readBigUInt64LE(at + 8)),
    atimeNs: body.readBigUInt64LE(at + 24) * 1_000_000_000n + BigInt(body.readUInt32LE(at + 48)),
    mtimeNs: body.readBigUInt64LE(at + 32) * 1_000_000_000n + BigInt(body.readUInt32LE(at + 52)),
    mode: body.readUInt32LE(at + 60),
    nlink: body.readUInt32LE(at + 64),
    uid: body.readUInt32LE(at + 68),
    gid: body.readUInt32LE(at + 72),
  };
}

test('INIT: protocol 7.31 at most, 1 MiB writes, only the flags offered and wanted', async () => {
  const { init } = setup();
  const reply = await init();
  assert.equal(reply.error, 0);
  assert.equal(reply.body.length, 64);
  assert.equal(reply.body.readUInt32LE(0), 7);
  assert.equal(reply.body.readUInt32LE(4), 31);
  const flags = reply.body.readUInt32LE(12);
  assert.equal(flags & InitFlag.BIG_WRITES, InitFlag.BIG_WRITES);
  assert.equal(flags & InitFlag.MAX_PAGES, InitFlag.MAX_PAGES);
  assert.equal(flags & InitFlag.ATOMIC_O_TRUNC, 0, 'not asked for: open(O_TRUNC) comes as a truncate');
  assert.equal(reply.body.readUInt32LE(20), 1024 * 1024);
  assert.equal(reply.body.readUInt16LE(28), 256);
  assert.equal(reply.body.readUInt32LE(24), 1, 'time granularity: nanoseconds');
  // A flag the kernel did not offer is not claimed.
  const { init: initOld } = setup();
  assert.equal((await initOld(45, InitFlag.ASYNC_READ)).body.readUInt32LE(12), InitFlag.ASYNC_READ);
});

test('a kernel older than 7.31 is refused with EPROTO and the session ends; requests before INIT get EIO', async () => {
  const early = setup();
  assert.equal((await early.call(request(Opcode.GETATTR, rootNodeId, Buffer.alloc(16)))).error, errnoNames.EIO);
  const old = setup();
  assert.equal((await old.init(26)).error, errnoNames.EPROTO);
  assert.equal(await old.session.ended, 'protocol version');
  assert.match(old.protocolErrors[0]!.message, /7\.26/);
});

test('lookup, create and mkdir answer entries with the inode number, nanosecond times and the caller as owner', async () => {
  const { init, call } = setup();
  await init();
  const caller = { uid: 1000, gid: 1001 };
  const created = await call(request(Opcode.CREATE, rootNodeId, Buffer.concat([u32s(0o102, 0o100644, 0o022, 0), cstring('file')]), caller));
  assert.equal(created.error, 0);
  assert.equal(created.body.length, entryOutBytes + 16);
  const nodeId = Number(created.body.readBigUInt64LE(0));
  assert.ok(nodeId > rootNodeId);
  const attr = attrAt(created.body, 40);
  assert.deepEqual({ uid: attr.uid, gid: attr.gid, mode: attr.mode }, { uid: 1000, gid: 1001, mode: 0o100644 });
  assert.equal(attr.mtimeNs, 1_700_000_000_123_000_000n);
  assert.equal(created.body.readBigUInt64LE(16), 1n, 'entry valid for 1 s');
  assert.equal(created.body.readUInt32LE(36), 500_000_000, 'attributes valid for 1.5 s');
  const fh = created.body.readBigUInt64LE(entryOutBytes);
  assert.ok(fh >= 1n);

  const looked = await call(request(Opcode.LOOKUP, rootNodeId, cstring('file')));
  assert.equal(Number(looked.body.readBigUInt64LE(0)), nodeId, 'the same name is the same node');
  assert.equal(attrAt(looked.body, 40).ino, attr.ino);

  const dir = await call(request(Opcode.MKDIR, rootNodeId, Buffer.concat([u32s(0o755, 0o022), cstring('dir')]), caller));
  assert.equal(dir.error, 0);
  assert.equal(attrAt(dir.body, 40).mode, 0o040755);
  assert.equal(attrAt(dir.body, 40).uid, 1000);
  assert.equal((await call(request(Opcode.LOOKUP, rootNodeId, cstring('absent')))).error, errnoNames.ENOENT);
});

test('a missing name is cached by the kernel when a negative timeout is set', async () => {
  const { init, call } = setup({ negativeTimeoutSeconds: 2 });
  await init();
  const reply = await call(request(Opcode.LOOKUP, rootNodeId, cstring('absent')));
  assert.equal(reply.error, 0);
  assert.equal(reply.body.readBigUInt64LE(0), 0n, 'node id 0: a negative entry');
  assert.equal(reply.body.readBigUInt64LE(16), 2n);
});

test('setattr: mtime alone leaves atime, UTIME_NOW is now, size by handle, mode and owner', async () => {
  const { init, call, fileSystem } = setup();
  await init();
  const created = await call(request(Opcode.CREATE, rootNodeId, Buffer.concat([u32s(0o102, 0o100600, 0, 0), cstring('f')])));
  const nodeId = Number(created.body.readBigUInt64LE(0));
  const fh = created.body.readBigUInt64LE(entryOutBytes);
  const setattr = (valid: number, fields: { fh?: bigint; size?: number; atime?: [number, number]; mtime?: [number, number]; mode?: number; uid?: number; gid?: number }) => {
    const body = Buffer.alloc(88);
    body.writeUInt32LE(valid, 0);
    body.writeBigUInt64LE(fields.fh ?? 0n, 8);
    body.writeBigUInt64LE(BigInt(fields.size ?? 0), 16);
    body.writeBigUInt64LE(BigInt(fields.atime?.[0] ?? 0), 32);
    body.writeBigUInt64LE(BigInt(fields.mtime?.[0] ?? 0), 40);
    body.writeUInt32LE(fields.atime?.[1] ?? 0, 56);
    body.writeUInt32LE(fields.mtime?.[1] ?? 0, 60);
    body.writeUInt32LE(fields.mode ?? 0, 68);
    body.writeUInt32LE(fields.uid ?? 0, 76);
    body.writeUInt32LE(fields.gid ?? 0, 80);
    return call(request(Opcode.SETATTR, nodeId, body));
  };
  const before = fileSystem.getattr('/f');
  const mtimeOnly = await setattr(SetattrValid.MTIME, { mtime: [1_500_000_000, 250_000_000] });
  assert.equal(mtimeOnly.error, 0);
  const after = attrAt(mtimeOnly.body, 16);
  assert.equal(after.mtimeNs, 1_500_000_000_250_000_000n);
  assert.equal(after.atimeNs, BigInt(before.atimeMs) * 1_000_000n, 'atime untouched (UTIME_OMIT)');

  const atimeNow = await setattr(SetattrValid.ATIME | SetattrValid.ATIME_NOW, {});
  assert.ok(attrAt(atimeNow.body, 16).atimeNs > 1_700_000_000_000_000_000n);
  assert.equal(attrAt(atimeNow.body, 16).mtimeNs, 1_500_000_000_250_000_000n);

  const truncated = await setattr(SetattrValid.SIZE | SetattrValid.FH, { fh, size: 10 });
  assert.equal(attrAt(truncated.body, 16).size, 10);
  const owned = await setattr(SetattrValid.MODE | SetattrValid.UID, { mode: 0o100640, uid: 42 });
  assert.deepEqual([attrAt(owned.body, 16).mode, attrAt(owned.body, 16).uid, attrAt(owned.body, 16).gid], [0o100640, 42, 0], "gid untouched");
});

test('write holds its data until answered; read returns it; an unlinked open file still answers by its handle', async () => {
  const { init, call } = setup();
  await init();
  const created = await call(request(Opcode.CREATE, rootNodeId, Buffer.concat([u32s(0o102, 0o100644, 0, 0), cstring('w')])));
  const nodeId = Number(created.body.readBigUInt64LE(0));
  const fh = created.body.readBigUInt64LE(entryOutBytes);
  const data = Buffer.from('hello kernel');
  const written = await call(request(Opcode.WRITE, nodeId, Buffer.concat([u64s(fh, 3), u32s(data.length, 0), u64s(0), u32s(0, 0), data])));
  assert.equal(written.error, 0);
  assert.equal(written.body.readUInt32LE(0), data.length);
  const read = await call(request(Opcode.READ, nodeId, Buffer.concat([u64s(fh, 0), u32s(100, 0), u64s(0), u32s(0, 0)])));
  assert.equal(read.body.toString('latin1'), '\0\0\0hello kernel');

  assert.equal((await call(request(Opcode.UNLINK, rootNodeId, cstring('w')))).error, 0);
  const stat = await call(request(Opcode.GETATTR, nodeId, Buffer.alloc(16)));
  assert.equal(stat.error, 0, 'getattr of the unlinked open file goes by its handle');
  assert.equal(attrAt(stat.body, 16).nlink, 0);
  const again = await call(request(Opcode.READ, nodeId, Buffer.concat([u64s(fh, 3), u32s(5, 0), u64s(0), u32s(0, 0)])));
  assert.equal(again.body.toString(), 'hello');
  // fchmod and futimens of the unlinked file: by its handle (it has no path).
  const setattr = Buffer.alloc(88);
  setattr.writeUInt32LE(SetattrValid.MODE | SetattrValid.MTIME, 0);
  setattr.writeBigUInt64LE(1_234n, 40);
  setattr.writeUInt32LE(0o100600, 68);
  const changed = await call(request(Opcode.SETATTR, nodeId, setattr));
  assert.equal(changed.error, 0);
  assert.equal(attrAt(changed.body, 16).mode, 0o100600);
  assert.equal(attrAt(changed.body, 16).mtimeNs, 1_234_000_000_000n);
  assert.equal((await call(request(Opcode.RELEASE, nodeId, Buffer.concat([u64s(fh), u32s(0, 0), u64s(0)])))).error, 0);
  assert.equal((await call(request(Opcode.GETATTR, nodeId, Buffer.alloc(16)))).error, errnoNames.ENOENT);
});

test('hard links answer the node of the existing inode, so both names share one kernel inode', async () => {
  const { init, call } = setup();
  await init();
  const created = await call(request(Opcode.CREATE, rootNodeId, Buffer.concat([u32s(0o102, 0o100644, 0, 0), cstring('a')])));
  const nodeId = Number(created.body.readBigUInt64LE(0));
  const linked = await call(request(Opcode.LINK, rootNodeId, Buffer.concat([u64s(nodeId), cstring('b')])));
  assert.equal(linked.error, 0);
  assert.equal(Number(linked.body.readBigUInt64LE(0)), nodeId);
  assert.equal(attrAt(linked.body, 40).nlink, 2);
});

test('readdir pages through a listing by offset, and a rewind reads the directory again', async () => {
  const { init, call, fileSystem } = setup();
  await init();
  for (let index = 0; index < 50; index++) fileSystem.mkdir(`/entry-${String(index).padStart(3, '0')}`, 0o755);
  const opened = await call(request(Opcode.OPENDIR, rootNodeId, u32s(0, 0)));
  const dirHandle = opened.body.readBigUInt64LE(0);
  const page = async (offset: number) => {
    const reply = await call(request(Opcode.READDIR, rootNodeId, Buffer.concat([u64s(dirHandle, offset), u32s(512, 0), u64s(0), u32s(0, 0)])));
    const names: string[] = [];
    let next = offset;
    for (let at = 0; at < reply.body.length;) {
      next = Number(reply.body.readBigUInt64LE(at + 8));
      const length = reply.body.readUInt32LE(at + 16);
      names.push(reply.body.toString('utf8', at + 24, at + 24 + length));
      at += (24 + length + 7) & ~7;
    }
    assert.ok(reply.body.length <= 512);
    return { names, next };
  };
  const seen: string[] = [];
  let offset = 0;
  for (let pages = 0; pages < 20; pages++) {
    const { names, next } = await page(offset);
    if (names.length === 0) break;
    seen.push(...names);
    offset = next;
  }
  assert.equal(seen.length, 52);
  assert.deepEqual(seen.slice(0, 3), ['.', '..', 'entry-000']);
  fileSystem.mkdir('/late', 0o755);
  assert.ok((await page(0)).names.length > 0);
  const all: string[] = [];
  for (let next = 0, pages = 0; pages < 20; pages++) {
    const result = await page(next);
    if (result.names.length === 0) break;
    all.push(...result.names);
    next = result.next;
  }
  assert.ok(all.includes('late'), 'offset 0 again reads the directory again');
  assert.equal((await call(request(Opcode.RELEASEDIR, rootNodeId, Buffer.concat([u64s(dirHandle), u32s(0, 0), u64s(0)])))).error, 0);
});

test('xattrs: size probe, ERANGE for a short buffer, the value, the list', async () => {
  const { init, call } = setup();
  await init();
  const value = Buffer.from('some value');
  assert.equal((await call(request(Opcode.SETXATTR, rootNodeId, Buffer.concat([u32s(value.length, 0), cstring('user.k'), value])))).error, 0);
  const probe = await call(request(Opcode.GETXATTR, rootNodeId, Buffer.concat([u32s(0, 0), cstring('user.k')])));
  assert.equal(probe.body.readUInt32LE(0), value.length);
  assert.equal((await call(request(Opcode.GETXATTR, rootNodeId, Buffer.concat([u32s(4, 0), cstring('user.k')])))).error, errnoNames.ERANGE);
  assert.deepEqual((await call(request(Opcode.GETXATTR, rootNodeId, Buffer.concat([u32s(64, 0), cstring('user.k')])))).body, value);
  assert.equal((await call(request(Opcode.LISTXATTR, rootNodeId, u32s(64, 0)))).body.toString(), 'user.k\0');
});

test('bad requests: unknown opcode ENOSYS, a truncated body EINVAL, RENAME2 flags EINVAL; the session keeps serving', async () => {
  const { init, call, protocolErrors } = setup();
  await init();
  assert.equal((await call(request(999, rootNodeId))).error, errnoNames.ENOSYS);
  assert.equal((await call(request(Opcode.LOOKUP, rootNodeId, Buffer.from('no-nul')))).error, errnoNames.EINVAL);
  assert.equal((await call(request(Opcode.READ, rootNodeId, Buffer.alloc(4)))).error, errnoNames.EINVAL);
  assert.equal((await call(request(Opcode.RENAME2, rootNodeId, Buffer.concat([u64s(rootNodeId), u32s(1, 0), cstring('a'), cstring('b')])))).error, errnoNames.EINVAL);
  assert.equal(protocolErrors.length, 2);
  assert.equal((await call(request(Opcode.GETATTR, rootNodeId, Buffer.alloc(16)))).error, 0);
  assert.equal((await call(request(Opcode.GETATTR, 12345, Buffer.alloc(16)))).error, errnoNames.ENOENT);
});

test('forget takes no reply and drops the node; ENODEV from the device ends the session', async () => {
  const { init, call, channel, session } = setup();
  await init();
  const created = await call(request(Opcode.MKDIR, rootNodeId, Buffer.concat([u32s(0o755, 0), cstring('d')])));
  const nodeId = Number(created.body.readBigUInt64LE(0));
  assert.ok(session.table.has(nodeId));
  const repliesBefore = channel.replies.length;
  channel.push(request(Opcode.FORGET, nodeId, u64s(1)).bytes);
  channel.push(request(Opcode.BATCH_FORGET, 0, Buffer.concat([u32s(1, 0), u64s(nodeId, 0)])).bytes);
  for (let turn = 0; turn < 100 && session.table.has(nodeId); turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(!session.table.has(nodeId));
  assert.equal(channel.replies.length, repliesBefore);
  channel.push(Object.assign(new Error('gone'), { code: 'ENODEV' }));
  channel.push(Object.assign(new Error('gone'), { code: 'ENODEV' }));
  assert.equal(await session.ended, 'unmounted');
});
