import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtollError, StatusCode, isAtollError } from '../errors/index.js';
import type { PartitionContext, PartitionSpec } from '../nodeagent/index.js';
import { PartitionKind, PartitionStatus } from '../proto/generated/master.js';
import { CreateInodeRequest, Inode, InodeType, MetaCommand } from '../proto/generated/metanode.js';
import { commandBytesPerEntryMax, commandsPerEntryMax, MetaPartition, rootIno } from './meta-partition.js';
import * as namespace from './partition/namespace.js';
import { LmdbEngine, MemoryEngine, type KvEngine } from './store/index.js';

const spec: PartitionSpec = { kind: PartitionKind.PARTITION_META, partitionId: 7, volume: 'v', inodeStart: 1, inodeEnd: 0, capacityBytes: 0, peers: [] };

interface EngineKind {
  readonly name: 'memory' | 'lmdb';
  open(dir: string): Promise<KvEngine>;
}
const engines: EngineKind[] = [
  { name: 'memory', open: async () => new MemoryEngine() },
  { name: 'lmdb', open: (dir) => LmdbEngine.open(join(dir, 'lmdb')) },
];

function command(op: NonNullable<MetaCommand['op']>, nowSec = 1_800_000_000): Uint8Array {
  return MetaCommand.encode(MetaCommand.create({ nowSec, nowNsec: 5, op }));
}

function create(name: string, type = InodeType.INODE_FILE, parentIno = rootIno): NonNullable<MetaCommand['op']> {
  return { case: 'createInode', value: CreateInodeRequest.create({ type, mode: 0o644, parentIno, name }) };
}

type Applied = { ok: true; value: any } | { ok: false; error: AtollError };

async function withPartition(kind: EngineKind, body: (partition: MetaPartition, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `atoll-meta-${kind.name}-`));
  const partition = new MetaPartition({ spec, engine: await kind.open(dir) });
  try {
    await body(partition, dir);
  } finally {
    await partition.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function contents(engine: KvEngine): string[] {
  const view = engine.snapshotView();
  try {
    return [...view.entries()].map((entry) => `${Buffer.from(entry.key).toString('hex')}=${Buffer.from(entry.value).toString('hex')}`);
  } finally {
    view.release();
  }
}

for (const kind of engines) {
  test(`${kind.name}: apply runs each operation once, refusals advance the index, replays are skipped`, async () => {
    await withPartition(kind, async (partition) => {
      const apply = (index: number, op: NonNullable<MetaCommand['op']>): Applied | undefined => partition.stateMachine.apply(index, command(op)) as Applied | undefined;
      const root = apply(1, { case: 'ensureRoot', value: { mode: 0o755 } });
      assert.equal(root?.ok, true);
      assert.equal(apply(2, { case: 'ensureRoot', value: { mode: 0o700 } })?.ok, true, 'a second ensureRoot is a no-op');
      assert.equal(namespace.getInode(partition.engine, rootIno).mode, 0o755);
      const file = apply(3, create('a'));
      assert.ok(file?.ok);
      assert.equal((file.value as { inode: Inode }).inode.ino, 2);
      const duplicate = apply(4, create('a'));
      assert.ok(duplicate !== undefined && !duplicate.ok);
      assert.equal(duplicate.error.status, StatusCode.EXISTS);
      assert.equal(partition.engine.appliedIndex, 4, 'a refused operation still moves the applied index');
      const before = contents(partition.engine);
      assert.equal(apply(3, create('b')), undefined, 'an index at or below the applied one is skipped');
      assert.deepEqual(contents(partition.engine), before);
      const usage = partition.usage();
      assert.equal(usage.inodeCount, 2);
      assert.equal(usage.dentryCount, 1);
      assert.equal(usage.inodeCursor, 3);
      assert.equal(usage.status, PartitionStatus.PARTITION_READ_WRITE);
    });
  });

  test(`${kind.name}: every replica applying the same log reaches byte-identical state, and a snapshot installs it`, async () => {
    await withPartition(kind, async (first) => {
      await withPartition(kind, async (second) => {
        const log = [
          command({ case: 'ensureRoot', value: { mode: 0o755 } }),
          command(create('dir', InodeType.INODE_DIRECTORY)),
          command(create('x', InodeType.INODE_FILE, 2)),
          command({ case: 'rename', value: { partitionId: 7, sourceParentIno: 2, sourceName: 'x', targetParentIno: rootIno, targetName: 'y' } }),
          command({ case: 'setXattr', value: { partitionId: 7, ino: 3, name: 'user.k', value: Buffer.from('v'), flag: 0 } }),
          command({ case: 'appendExtents', value: { partitionId: 7, ino: 3, extents: [{ fileOffset: 0, partitionId: 9, extentId: 1024, extentOffset: 0, size: 100 }] } }),
        ];
        log.forEach((entry, position) => first.stateMachine.apply(position + 1, entry));
        log.forEach((entry, position) => second.stateMachine.apply(position + 1, entry));
        assert.deepEqual(contents(first.engine), contents(second.engine));
        const snapshot = first.stateMachine.snapshot();
        await withPartition(kind, async (third) => {
          third.stateMachine.restore(snapshot, log.length);
          assert.deepEqual(contents(third.engine), contents(first.engine));
          assert.equal(third.engine.appliedIndex, log.length);
          const damaged = Buffer.from(snapshot);
          damaged[damaged.byteLength >> 1] ^= 0xff;
          const fourth = new MetaPartition({ spec, engine: new MemoryEngine() });
          assert.throws(() => fourth.stateMachine.restore(damaged, log.length), (error) => isAtollError(error, StatusCode.CHECKSUM_MISMATCH));
        });
      });
    });
  });

  test(`${kind.name}: a batched entry runs its commands in order, each with its own outcome, as separate entries would`, async () => {
    await withPartition(kind, async (batched) => {
      await withPartition(kind, async (single) => {
        const ops = [create('a'), create('a'), create('dir', InodeType.INODE_DIRECTORY), create('b', InodeType.INODE_FILE, 3), create('c', InodeType.INODE_FILE, 99)];
        const steps = ops.map((op, position) => MetaCommand.create({ nowSec: 1_800_000_000 + position, nowNsec: 5, op }));
        const entry = (commands: MetaCommand[]) => MetaCommand.encode(MetaCommand.create({ op: { case: 'batch', value: { commands } } }));
        const inBatch = (applied: unknown): Applied[] => (applied as { batch: Applied[] }).batch;
        batched.stateMachine.applyBatch!(() => {
          batched.stateMachine.apply(1, command({ case: 'ensureRoot', value: { mode: 0o755 } }));
          // A refused first command still writes the entry's index; the next ones are further steps of it.
          const first = inBatch(batched.stateMachine.apply(2, entry([steps[1]!, steps[0]!])));
          assert.deepEqual(first.map((result) => result.ok), [true, false]);
          assert.equal((first[1] as { error: AtollError }).error.status, StatusCode.EXISTS, 'the second create of the same name sees the first');
          const results = inBatch(batched.stateMachine.apply(3, entry([steps[2]!, steps[3]!, steps[4]!, MetaCommand.create({ op: { case: 'batch', value: { commands: [steps[0]!] } } })])));
          assert.deepEqual(results.map((result) => (result.ok ? 'ok' : result.error.status)), ['ok', 'ok', StatusCode.NOT_FOUND, StatusCode.INVALID_ARGUMENT]);
          assert.equal((results[1] as { value: { inode: Inode } }).value.inode.ino, 4, 'the file in the new directory got the next inode');
        });
        assert.equal(batched.engine.appliedIndex, 3);
        const before = contents(batched.engine);
        assert.equal(batched.stateMachine.apply(3, entry([steps[0]!])), undefined, 'a replayed batch is skipped whole');
        assert.deepEqual(contents(batched.engine), before);
        // The same commands one per entry leave the same records.
        single.stateMachine.apply(1, command({ case: 'ensureRoot', value: { mode: 0o755 } }));
        [steps[1]!, steps[0]!, steps[2]!, steps[3]!, steps[4]!].forEach((step, position) => single.stateMachine.apply(position + 2, MetaCommand.encode(step)));
        assert.deepEqual(contents(single.engine), before);
      });
    });
  });

  test(`${kind.name}: a narrowed range turns the partition read-only for creates (RANGE_FULL) and never drops below the cursor`, async () => {
    await withPartition(kind, async (partition) => {
      const apply = (index: number, op: NonNullable<MetaCommand['op']>): Applied => partition.stateMachine.apply(index, command(op)) as Applied;
      apply(1, { case: 'ensureRoot', value: { mode: 0o755 } });
      apply(2, create('a'));
      const narrowed = apply(3, { case: 'setInodeEnd', value: { inodeEnd: 2 } });
      assert.ok(narrowed.ok);
      assert.equal(narrowed.value, 3, 'the end stays at the cursor');
      const full = apply(4, create('b'));
      assert.ok(!full.ok);
      assert.equal(full.error.status, StatusCode.RANGE_FULL);
      assert.equal(partition.usage().status, PartitionStatus.PARTITION_READ_ONLY);
      assert.equal(partition.usage().inodeEnd, 3);
      const refused = apply(5, { case: 'setInodeEnd', value: { inodeEnd: 1 } });
      assert.ok(!refused.ok);
      assert.equal(refused.error.status, StatusCode.INVALID_ARGUMENT);
      // A replica that knew the wider range takes the narrowed one from a snapshot.
      const snapshot = partition.stateMachine.snapshot();
      await withPartition(kind, async (other) => {
        other.stateMachine.apply(1, command({ case: 'ensureRoot', value: { mode: 0o755 } }));
        assert.equal(other.range().inodeEnd, Number.MAX_SAFE_INTEGER);
        other.stateMachine.restore(snapshot, 5);
        assert.equal(other.range().inodeEnd, 3);
        const late = other.stateMachine.apply(6, command(create('c'))) as Applied;
        assert.ok(!late.ok && late.error.status === StatusCode.RANGE_FULL);
      });
    });
  });
}

test('lmdb: a reopened engine keeps its state and skips an older snapshot and the entries it already holds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-meta-reopen-'));
  try {
    const first = new MetaPartition({ spec, engine: await LmdbEngine.open(join(dir, 'lmdb')) });
    first.stateMachine.apply(1, command({ case: 'ensureRoot', value: { mode: 0o755 } }));
    const snapshot = first.stateMachine.snapshot();
    first.stateMachine.apply(2, command(create('late')));
    const before = contents(first.engine);
    await first.close();
    const reopened = new MetaPartition({ spec, engine: await LmdbEngine.open(join(dir, 'lmdb')) });
    assert.equal(reopened.engine.appliedIndex, 2);
    reopened.stateMachine.restore(snapshot, 1);
    assert.equal(reopened.stateMachine.apply(2, command(create('late'))), undefined);
    assert.deepEqual(contents(reopened.engine), before);
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('lmdb: an engine that lost its last commits (behind the snapshot) is rebuilt from the snapshot, then applies the log after it', async () => {
  // A machine crash may undo the last LMDB commit (noMetaSync): the engine comes back
  // behind the snapshot the log was compacted to, which must not leave it there.
  const dir = await mkdtemp(join(tmpdir(), 'atoll-meta-behind-'));
  try {
    const log = [command({ case: 'ensureRoot', value: { mode: 0o755 } }), command(create('a')), command(create('b')), command(create('c')), command(create('d'))];
    const ahead = new MetaPartition({ spec, engine: await LmdbEngine.open(join(dir, 'ahead')) });
    log.slice(0, 4).forEach((entry, position) => ahead.stateMachine.apply(position + 1, entry));
    const snapshot = ahead.stateMachine.snapshot();
    ahead.stateMachine.apply(5, log[4]!);
    const behind = new MetaPartition({ spec, engine: await LmdbEngine.open(join(dir, 'behind')) });
    log.slice(0, 2).forEach((entry, position) => behind.stateMachine.apply(position + 1, entry));
    behind.stateMachine.restore(snapshot, 4);
    assert.equal(behind.engine.appliedIndex, 4);
    // The log was compacted up to the snapshot: Raft applies only the entries after it.
    behind.stateMachine.apply(5, log[4]!);
    assert.deepEqual(contents(behind.engine), contents(ahead.engine));
    await ahead.close();
    await behind.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an entry without an operation is refused as a result, not a crash', () => {
  const partition = new MetaPartition({ spec, engine: new MemoryEngine() });
  const applied = partition.stateMachine.apply(1, MetaCommand.encode(MetaCommand.create({ nowSec: 1 }))) as Applied;
  assert.ok(!applied.ok);
  assert.equal(applied.error.status, StatusCode.INVALID_ARGUMENT);
});

// A context that applies each proposal at once with the next index, as the leader of a
// one-node group would, and records the entries.
function instantContext(partition: MetaPartition, entries: MetaCommand[], refuse: () => AtollError | undefined = () => undefined): PartitionContext {
  let index = 1;
  return {
    partitionId: spec.partitionId,
    nodeId: 1,
    logger: { info() {}, warn() {}, error() {}, debug() {} } as unknown as PartitionContext['logger'],
    propose: async (bytes) => {
      const refusal = refuse();
      if (refusal !== undefined) throw refusal;
      entries.push(MetaCommand.decode(bytes));
      index += 1;
      let result: unknown;
      partition.stateMachine.applyBatch!(() => (result = partition.stateMachine.apply(index, bytes)));
      return result;
    },
    readIndex: async () => undefined,
    isLeader: () => true,
    leaderNodeId: () => 1,
    members: () => [1],
    peers: () => [],
    appliedIndex: () => index,
  };
}

test('the leader gathers the commands proposed in one turn into shared entries and hands each caller its own outcome', async () => {
  const partition = new MetaPartition({ spec: { ...spec, inodeStart: 2 }, engine: new MemoryEngine() });
  const entries: MetaCommand[] = [];
  let refusal: AtollError | undefined;
  partition.attach(instantContext(partition, entries, () => refusal));
  const root = await partition.mutate({ case: 'createInode', value: CreateInodeRequest.create({ type: InodeType.INODE_DIRECTORY, mode: 0o755 }) }) as { inode: Inode };
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.op?.case, 'createInode', 'a command proposed alone is an entry of its own');
  const names = Array.from({ length: commandsPerEntryMax + 10 }, (_, position) => `f${position}`);
  names[5] = names[4]!;
  const outcomes = await Promise.allSettled(names.map((name) => partition.mutate(create(name, InodeType.INODE_FILE, root.inode.ino))));
  assert.deepEqual(entries.slice(1).map((entry) => (entry.op?.case === 'batch' ? entry.op.value.commands.length : 1)), [commandsPerEntryMax, 10]);
  assert.equal(outcomes[5]!.status, 'rejected');
  assert.ok(isAtollError((outcomes[5] as PromiseRejectedResult).reason, StatusCode.EXISTS));
  const created = outcomes.filter((outcome) => outcome.status === 'fulfilled').map((outcome) => ((outcome as PromiseFulfilledResult<unknown>).value as { inode: Inode }).inode.ino);
  assert.equal(created.length, names.length - 1);
  assert.deepEqual(created, [...created].sort((a, b) => a - b), 'inodes in the order of the calls');
  // A refused proposal (not the leader any more) fails every caller of its entry.
  refusal = new AtollError(StatusCode.NOT_LEADER, 'moved');
  const refused = await Promise.allSettled(['x', 'y', 'z'].map((name) => partition.mutate(create(name, InodeType.INODE_FILE, root.inode.ino))));
  assert.ok(refused.every((outcome) => outcome.status === 'rejected' && isAtollError(outcome.reason, StatusCode.NOT_LEADER)));
  // Big commands go alone or with fewer: no entry's commands exceed the byte bound.
  refusal = undefined;
  const before = entries.length;
  const value = Buffer.alloc(60_000, 1);
  await Promise.all(Array.from({ length: 10 }, (_, position) => partition.mutate({ case: 'setXattr', value: { partitionId: spec.partitionId, ino: root.inode.ino, name: `user.k${position}`, value, flag: 0 } })));
  const sizes = entries.slice(before).map((entry) => (entry.op?.case === 'batch' ? entry.op.value.commands.reduce((total, step) => total + MetaCommand.encodedSize(step), 0) : MetaCommand.encodedSize(entry)));
  assert.ok(sizes.length >= Math.ceil(10 * 60_000 / commandBytesPerEntryMax), `${sizes.length} entries`);
  assert.ok(sizes.every((size) => size <= commandBytesPerEntryMax), sizes.join(','));
});
