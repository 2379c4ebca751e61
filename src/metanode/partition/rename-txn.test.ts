import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusCode, isAtollError } from '../../errors/index.js';
import { InodeType, RenameTxnState } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { LmdbEngine, MemoryEngine } from '../store/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renameTxnPrefix } from './keys.js';
import { createInode, getInode, lookup, type Outcome } from './namespace.js';
import * as txn from './rename-txn.js';

const now = { nowSec: 1_800_000_000, nowNsec: 0 };
const timeoutSec = 30;
const owner = { mode: 0o755, uid: 0, gid: 0 };

function apply<T>(engine: KvEngine, outcome: Outcome<T>): T {
  engine.write(engine.appliedIndex + 1, outcome.mutations);
  return outcome.result;
}

interface World {
  readonly source: KvEngine;
  readonly target: KvEngine;
  readonly sourceDir: number;
  readonly targetDir: number;
  readonly ends: txn.RenameEnds;
}

async function world(kind: 'memory' | 'lmdb', movingType: InodeType, replace: 'none' | 'file' | 'dir', dirs: string[]): Promise<World & { moved: number }> {
  const open = async (): Promise<KvEngine> => {
    if (kind === 'memory') return new MemoryEngine();
    const dir = await mkdtemp(join(tmpdir(), 'atoll-rename-'));
    dirs.push(dir);
    return LmdbEngine.open(dir);
  };
  const source = await open();
  const target = await open();
  const sourceRange = { inodeStart: 1, inodeEnd: 1000 };
  const targetRange = { inodeStart: 1000, inodeEnd: 2000 };
  const sourceDir = apply(source, createInode(source, sourceRange, { type: InodeType.INODE_DIRECTORY, ...owner, ...now })).inode.ino;
  const targetDir = apply(target, createInode(target, targetRange, { type: InodeType.INODE_DIRECTORY, ...owner, ...now })).inode.ino;
  const moved = apply(source, createInode(source, sourceRange, { type: movingType, ...owner, ...now, parentIno: sourceDir, name: 'a' })).inode.ino;
  if (replace !== 'none') {
    apply(target, createInode(target, targetRange, { type: replace === 'dir' ? InodeType.INODE_DIRECTORY : InodeType.INODE_FILE, ...owner, ...now, parentIno: targetDir, name: 'b' }));
  }
  return { source, target, sourceDir, targetDir, moved, ends: { sourcePartitionId: 1, targetPartitionId: 2, sourceParentIno: sourceDir, sourceName: 'a', targetParentIno: targetDir, targetName: 'b' } };
}

function names(engine: KvEngine, parentIno: number, name: string): number | undefined {
  try {
    return lookup(engine, parentIno, name).ino;
  } catch (error) {
    if (isAtollError(error, StatusCode.NOT_FOUND)) return undefined;
    throw error;
  }
}

/** Runs the leaders' recovery until no record is left (bounded), at a time past every timeout. */
function recover(w: World, at: number): void {
  for (let round = 0; round < 4; round++) {
    const time = { nowSec: at + round, nowNsec: 0 };
    for (const { record, ...id } of txn.listTransactions(w.source, 100)) {
      const plan = txn.recoveryPlan(record, time.nowSec, timeoutSec);
      if (plan.kind === 'abort') {
        apply(w.target, txn.abortTarget(w.target, id));
        apply(w.source, txn.abortSource(w.source, id));
      } else if (plan.kind === 'finish') {
        apply(w.target, txn.applyTarget(w.target, { ...id, ...time }));
        apply(w.source, txn.applySource(w.source, { ...id, ...time }));
      }
    }
    for (const { record, ...id } of txn.listTransactions(w.target, 100)) {
      if (txn.recoveryPlan(record, time.nowSec, timeoutSec).kind !== 'ask-source') continue;
      const state = txn.status(w.source, id);
      if (state === RenameTxnState.RENAME_TXN_COMMITTED) apply(w.target, txn.applyTarget(w.target, { ...id, ...time }));
      else if (state === RenameTxnState.RENAME_TXN_ABSENT) apply(w.target, txn.abortTarget(w.target, id));
    }
  }
}

const steps = ['prepare source', 'prepare target', 'commit', 'apply target', 'apply source'] as const;

for (const kind of ['memory', 'lmdb'] as const) {
  for (const [movingType, replace] of [[InodeType.INODE_FILE, 'none'], [InodeType.INODE_FILE, 'file'], [InodeType.INODE_DIRECTORY, 'none'], [InodeType.INODE_DIRECTORY, 'dir']] as const) {
    test(`${kind}: a cross-partition rename of a ${InodeType[movingType]} over ${replace}, crashed after every step, ends with the entry in exactly one place`, async () => {
      const dirs: string[] = [];
      try {
        for (let crashAfter = 0; crashAfter <= steps.length; crashAfter++) {
          const w = await world(kind, movingType, replace, dirs);
          const replacedIno = names(w.target, w.targetDir, 'b');
          let txSeq = 0;
          let type = InodeType.INODE_TYPE_UNSPECIFIED;
          let ino = 0;
          for (let step = 0; step < crashAfter; step++) {
            const id = { sourcePartitionId: 1, txSeq };
            if (step === 0) ({ txSeq, ino, type } = apply(w.source, txn.prepareSource(w.source, { ...w.ends, ...now })));
            if (step === 1) apply(w.target, txn.prepareTarget(w.target, { ...w.ends, ...now, txSeq, ino, type }));
            if (step === 2) apply(w.source, txn.commit(w.source, id));
            if (step === 3) apply(w.target, txn.applyTarget(w.target, { ...id, ...now }));
            if (step === 4) apply(w.source, txn.applySource(w.source, { ...id, ...now }));
          }
          recover(w, now.nowSec + 10 * timeoutSec);
          const committed = crashAfter >= 3;
          const atSource = names(w.source, w.sourceDir, 'a');
          const atTarget = names(w.target, w.targetDir, 'b');
          const where = `crash after ${crashAfter} step(s)`;
          assert.equal(w.source.scan({ prefix: renameTxnPrefix, limit: 10 }).length + w.target.scan({ prefix: renameTxnPrefix, limit: 10 }).length, 0, `${where}: no transaction left`);
          if (committed) {
            assert.equal(atSource, undefined, `${where}: gone from the source`);
            assert.equal(atTarget, w.moved, `${where}: at the target`);
            if (replacedIno !== undefined) assert.equal(getInode(w.target, replacedIno).nlink, 0, `${where}: the replaced inode lost its link`);
          } else {
            assert.equal(atSource, w.moved, `${where}: still at the source`);
            assert.equal(atTarget, replacedIno, `${where}: the target as it was`);
          }
          const directory = movingType === InodeType.INODE_DIRECTORY;
          const sourceDirLinks = getInode(w.source, w.sourceDir).nlink;
          const targetDirLinks = getInode(w.target, w.targetDir).nlink;
          assert.equal(sourceDirLinks, directory && !committed ? 3 : 2, `${where}: source directory nlink`);
          const targetHadDir = replace === 'dir' ? 1 : 0;
          assert.equal(targetDirLinks, 2 + (committed ? (directory ? 1 : 0) : targetHadDir), `${where}: target directory nlink`);
          if (directory) assert.equal(getInode(w.source, w.moved).parentIno, committed ? w.targetDir : w.sourceDir, `${where}: the moved directory's parent`);
        }
      } finally {
        for (const dir of dirs) await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

test('prepare refuses what rename refuses, a second transaction on the same entry, and a commit after an abort', async () => {
  const w = await world('memory', InodeType.INODE_FILE, 'dir', []);
  const { txSeq, ino, type } = apply(w.source, txn.prepareSource(w.source, { ...w.ends, ...now }));
  assert.throws(() => txn.prepareTarget(w.target, { ...w.ends, ...now, txSeq, ino, type }), (error) => isAtollError(error, StatusCode.IS_DIR));
  assert.throws(() => txn.prepareSource(w.source, { ...w.ends, ...now }), (error) => isAtollError(error, StatusCode.CONFLICT));
  assert.throws(() => txn.prepareSource(w.source, { ...w.ends, ...now, sourceName: 'missing' }), (error) => isAtollError(error, StatusCode.NOT_FOUND));
  assert.throws(() => txn.prepareSource(w.source, { ...w.ends, ...now, targetPartitionId: 1 }), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
  apply(w.source, txn.abortSource(w.source, { sourcePartitionId: 1, txSeq }));
  assert.throws(() => txn.commit(w.source, { sourcePartitionId: 1, txSeq }), (error) => isAtollError(error, StatusCode.CONFLICT));
  const second = apply(w.source, txn.prepareSource(w.source, { ...w.ends, ...now }));
  apply(w.source, txn.commit(w.source, { sourcePartitionId: 1, txSeq: second.txSeq }));
  assert.throws(() => txn.abortSource(w.source, { sourcePartitionId: 1, txSeq: second.txSeq }), (error) => isAtollError(error, StatusCode.CONFLICT));
});
