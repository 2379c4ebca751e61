// A micro-benchmark of one meta partition's apply (no Raft, no RPC): creates into one
// directory on the engines, microseconds per applied entry. `node dist/bench/meta/apply-micro.js [entries]`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetaPartition } from '../../src/metanode/meta-partition.js';
import { LmdbEngine, MemoryEngine } from '../../src/metanode/store/index.js';
import { PartitionKind } from '../../src/proto/generated/master.js';
import { CreateInodeRequest, InodeType, MetaCommand, UnlinkRequest } from '../../src/proto/generated/metanode.js';

const entries = Number(process.argv[2] ?? 50_000);
const spec = { kind: PartitionKind.PARTITION_META, partitionId: 1, volume: 'v', inodeStart: 1, inodeEnd: 0, capacityBytes: 0, peers: [] };

async function run(kind: 'memory' | 'lmdb'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-apply-micro-'));
  try {
    const engine = kind === 'memory' ? new MemoryEngine() : await LmdbEngine.open(join(dir, 'lmdb'));
    const partition = new MetaPartition({ spec: spec as never, engine });
    let index = 1;
    const apply = (op: NonNullable<MetaCommand['op']>): void => {
      const result = partition.stateMachine.apply(index++, MetaCommand.encode(MetaCommand.create({ nowSec: 1_800_000_000, nowNsec: 5, op }))) as { ok: boolean; error?: Error };
      if (!result.ok) throw result.error;
    };
    apply({ case: 'ensureRoot', value: { mode: 0o755 } });
    const commands = Array.from({ length: entries }, (_, i) => MetaCommand.encode(MetaCommand.create({ nowSec: 1_800_000_000, nowNsec: 5, op: { case: 'createInode', value: CreateInodeRequest.create({ type: InodeType.INODE_FILE, mode: 0o644, parentIno: 1, name: `entry-${i.toString().padStart(7, '0')}` }) } })));
    const batch = Number(process.env.MICRO_BATCH ?? 64);
    const applyAll = (list: Uint8Array[]): void => {
      for (let start = 0; start < list.length; start += batch) {
        const run = (): void => {
          for (const command of list.slice(start, start + batch)) partition.stateMachine.apply(index++, command);
        };
        if (partition.stateMachine.applyBatch === undefined) run();
        else partition.stateMachine.applyBatch(run);
      }
    };
    let started = performance.now();
    applyAll(commands);
    const createUs = ((performance.now() - started) * 1000) / entries;
    const unlinks = Array.from({ length: entries }, (_, i) => MetaCommand.encode(MetaCommand.create({ nowSec: 1_800_000_000, nowNsec: 5, op: { case: 'unlink', value: UnlinkRequest.create({ parentIno: 1, name: `entry-${i.toString().padStart(7, '0')}` }) } })));
    started = performance.now();
    applyAll(unlinks);
    const unlinkUs = ((performance.now() - started) * 1000) / entries;
    console.log(`${kind}: ${entries} creates ${createUs.toFixed(1)} us each, unlinks ${unlinkUs.toFixed(1)} us each`);
    await partition.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await run('memory');
await run('memory');
if (process.env.MICRO_LMDB !== undefined) await run("lmdb");
