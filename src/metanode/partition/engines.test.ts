// Test support, no tests of its own: runs a test body on both storage engines (the
// in-memory B+ tree and LMDB, as the issue asks of the whole metanode suite) and the small
// helpers the partition's tests share. Named `.test.ts` so the purity scan, which checks
// the partition's production files, leaves its node: imports alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtollError, isAtollError, StatusCode } from '../../errors/index.js';
import { InodeType } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { LmdbEngine } from '../store/lmdb-engine.js';
import { MemoryEngine } from '../store/memory-engine.js';
import { createInode, type InodeRange, type Outcome } from './namespace.js';

/** Registers the test once per engine, each on a fresh engine that is closed (and removed) afterwards. */
export function engineTest(name: string, body: (engine: KvEngine) => void | Promise<void>): void {
  test(`memory: ${name}`, async () => {
    const engine = new MemoryEngine();
    try {
      await body(engine);
    } finally {
      await engine.close();
    }
  });
  test(`lmdb: ${name}`, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'atoll-partition-'));
    const engine = await LmdbEngine.open(directory, { mapSizeBytes: 64 * 1024 * 1024 });
    try {
      await body(engine);
    } finally {
      await engine.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
}

export const range: InodeRange = { inodeStart: 1, inodeEnd: 1_000_000 };
export const now = { nowSec: 1_700_000_000, nowNsec: 123_456_789 };
export const owner = { mode: 0o755, uid: 1000, gid: 1000 };

/** `now` moved by seconds. */
export function at(seconds: number): { nowSec: number; nowNsec: number } {
  return { nowSec: now.nowSec + seconds, nowNsec: now.nowNsec };
}

/** Applies an operation's mutations at the next index and returns its result. */
export function apply<T>(engine: KvEngine, outcome: Outcome<T>): T {
  engine.write(engine.appliedIndex + 1, outcome.mutations);
  return outcome.result;
}

/** The root directory of a new volume (the range's first inode). */
export function makeRoot(engine: KvEngine): number {
  return apply(engine, createInode(engine, range, { type: InodeType.INODE_DIRECTORY, ...owner, ...now })).inode.ino;
}

export function mkdir(engine: KvEngine, parentIno: number, name: string): number {
  return apply(engine, createInode(engine, range, { type: InodeType.INODE_DIRECTORY, ...owner, ...now, parentIno, name })).inode.ino;
}

export function createFile(engine: KvEngine, parentIno: number, name: string): number {
  return apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, mode: 0o644, ...now, parentIno, name })).inode.ino;
}

/** An assert.throws matcher: an AtollError with this status and errno. */
export function failsWith(status: StatusCode, errno: string) {
  return (error: unknown) => {
    assert.ok(isAtollError(error, status), `expected ${StatusCode[status]}, got ${error instanceof AtollError ? `${error.statusName}: ${error.message}` : String(error)}`);
    assert.equal((error as AtollError).code, errno);
    return true;
  };
}

/** Every entry in key order, for comparing whole states. */
export function contents(engine: KvEngine): string[] {
  const view = engine.snapshotView();
  try {
    return [...view.entries()].map((entry) => `${Buffer.from(entry.key).toString('hex')}=${Buffer.from(entry.value).toString('hex')}`);
  } finally {
    view.release();
  }
}
