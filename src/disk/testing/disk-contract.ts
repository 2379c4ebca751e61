// The behaviour every Disk must have, as one suite run against each implementation
// (node-disk.test.ts, simulated-disk.test.ts), so the simulator tests what production runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusCode, isAtollError } from '../../errors/index.js';
import type { Disk } from '../disk.js';

export interface DiskUnderTest {
  readonly disk: Disk;
  /** An existing, empty directory to work in. */
  readonly root: string;
  cleanup(): Promise<void>;
}

async function statusOf(action: () => Promise<unknown>): Promise<StatusCode> {
  try {
    await action();
  } catch (error) {
    assert.ok(isAtollError(error), `expected an AtollError, got ${String(error)}`);
    return error.status;
  }
  assert.fail('expected the action to fail');
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

export function describeDiskContract(implementation: string, create: () => Promise<DiskUnderTest>): void {
  const withDisk = (name: string, body: (disk: Disk, root: string) => Promise<void>): void => {
    test(`${implementation}: ${name}`, async () => {
      const { disk, root, cleanup } = await create();
      try {
        await body(disk, root);
      } finally {
        await cleanup();
      }
    });
  };

  withDisk('makeDirectory creates missing parents and accepts an existing directory', async (disk, root) => {
    await disk.makeDirectory(`${root}/a/b/c`);
    await disk.makeDirectory(`${root}/a/b/c`);
    await disk.makeDirectory(`${root}/a/b`);
    assert.deepEqual(await disk.list(`${root}/a`), ['b']);
    assert.deepEqual(await disk.list(`${root}/a/b/c`), []);
  });

  withDisk('list names entries sorted and refuses a missing directory with NOT_FOUND', async (disk, root) => {
    for (const name of ['b.log', 'a.log', 'C', '0000000000000010.log', '000000000000000f.log']) {
      await (await disk.openForAppend(`${root}/${name}`)).close();
    }
    await disk.makeDirectory(`${root}/sub`);
    assert.deepEqual(await disk.list(root), ['000000000000000f.log', '0000000000000010.log', 'C', 'a.log', 'b.log', 'sub']);
    assert.equal(await statusOf(() => disk.list(`${root}/missing`)), StatusCode.NOT_FOUND);
  });

  withDisk('appends grow a file that reads back at any position, short only at the end', async (disk, root) => {
    const file = await disk.openForAppend(`${root}/file`);
    assert.equal(await file.size(), 0);
    await file.append(bytes('hello '));
    await file.append(bytes('world'));
    await file.append(new Uint8Array(0));
    assert.equal(await file.size(), 11);
    assert.equal(text(await file.read(0, 11)), 'hello world');
    assert.equal(text(await file.read(6, 3)), 'wor');
    assert.equal(text(await file.read(8, 100)), 'rld');
    assert.equal((await file.read(11, 5)).byteLength, 0);
    assert.equal((await file.read(50, 5)).byteLength, 0);
    await file.sync();
    await file.close();
  });

  withDisk('a list of pieces appends in order, empty pieces and an empty list included', async (disk, root) => {
    const file = await disk.openForAppend(`${root}/file`);
    await file.append(bytes('head:'));
    const large = new Uint8Array(3 * 1024 * 1024 + 7).map((_, index) => (index * 13) & 0xff);
    await file.append([bytes('one,'), new Uint8Array(0), large, bytes(',two')]);
    await file.append([]);
    await file.append([bytes('!')]);
    const expected = new Uint8Array(Buffer.concat([bytes('head:one,'), large, bytes(',two!')]));
    assert.equal(await file.size(), expected.byteLength);
    assert.deepEqual(await file.read(0, expected.byteLength), expected);
    await file.sync();
    await file.close();
  });

  withDisk('openForAppend of an existing file keeps its content and appends after it', async (disk, root) => {
    const first = await disk.openForAppend(`${root}/file`);
    await first.append(bytes('abc'));
    await first.sync();
    await first.close();
    const second = await disk.openForAppend(`${root}/file`);
    assert.equal(await second.size(), 3);
    await second.append(bytes('def'));
    assert.equal(text(await second.read(0, 6)), 'abcdef');
    await second.close();
    const reader = await disk.openForRead(`${root}/file`);
    assert.equal(text(await reader.read(0, 6)), 'abcdef');
    await reader.close();
  });

  withDisk('opening a missing file for reading, or in a missing directory, is NOT_FOUND', async (disk, root) => {
    assert.equal(await statusOf(() => disk.openForRead(`${root}/missing`)), StatusCode.NOT_FOUND);
    assert.equal(await statusOf(() => disk.openForAppend(`${root}/missing/file`)), StatusCode.NOT_FOUND);
  });

  withDisk('truncate cuts the file and later appends continue at the cut', async (disk, root) => {
    const file = await disk.openForAppend(`${root}/file`);
    await file.append(bytes('0123456789'));
    await file.sync();
    await file.truncate(4);
    assert.equal(await file.size(), 4);
    await file.append(bytes('xy'));
    await file.sync();
    assert.equal(text(await file.read(0, 100)), '0123xy');
    await file.truncate(0);
    assert.equal(await file.size(), 0);
    await file.close();
  });

  withDisk('write overwrites in place, leaves the size alone and is read back before and after sync', async (disk, root) => {
    const file = await disk.openForAppend(`${root}/file`);
    await file.append(bytes('0123456789'));
    await file.write(2, bytes('ab'));
    assert.equal(text(await file.read(0, 100)), '01ab456789');
    await file.sync();
    await file.write(8, bytes('yz'));
    await file.append(bytes('!'));
    await file.sync();
    assert.equal(await file.size(), 11);
    assert.equal(text(await file.read(0, 100)), '01ab4567yz!');
    await file.close();
    const again = await disk.openForRead(`${root}/file`);
    assert.equal(text(await again.read(0, 100)), '01ab4567yz!');
    await again.close();
  });

  withDisk('rename moves a file and replaces an existing target', async (disk, root) => {
    const source = await disk.openForAppend(`${root}/new.tmp`);
    await source.append(bytes('new'));
    await source.sync();
    await source.close();
    const target = await disk.openForAppend(`${root}/current`);
    await target.append(bytes('old'));
    await target.close();
    await disk.rename(`${root}/new.tmp`, `${root}/current`);
    await disk.syncDirectory(root);
    assert.deepEqual(await disk.list(root), ['current']);
    const reader = await disk.openForRead(`${root}/current`);
    assert.equal(text(await reader.read(0, 10)), 'new');
    await reader.close();
    assert.equal(await statusOf(() => disk.rename(`${root}/new.tmp`, `${root}/other`)), StatusCode.NOT_FOUND);
  });

  withDisk('remove deletes files and empty directories, and refuses missing ones and non-empty directories', async (disk, root) => {
    await disk.makeDirectory(`${root}/directory`);
    await (await disk.openForAppend(`${root}/directory/file`)).close();
    assert.equal(await statusOf(() => disk.remove(`${root}/directory`)), StatusCode.NOT_EMPTY);
    await disk.remove(`${root}/directory/file`);
    await disk.remove(`${root}/directory`);
    await disk.syncDirectory(root);
    assert.deepEqual(await disk.list(root), []);
    assert.equal(await statusOf(() => disk.remove(`${root}/directory`)), StatusCode.NOT_FOUND);
  });

  withDisk('a file stays readable through an open handle after it is removed', async (disk, root) => {
    const file = await disk.openForAppend(`${root}/file`);
    await file.append(bytes('still here'));
    await disk.remove(`${root}/file`);
    assert.equal(text(await file.read(0, 100)), 'still here');
    await file.close();
  });

  withDisk('syncDirectory of a missing directory is NOT_FOUND', async (disk, root) => {
    await disk.syncDirectory(root);
    assert.equal(await statusOf(() => disk.syncDirectory(`${root}/missing`)), StatusCode.NOT_FOUND);
  });
}
