// A micro-benchmark of one meta partition's apply (no Raft, no RPC): creates into one
// directory on the engines, microseconds per applied entry. `node dist/bench/meta/apply-micro.js [entries]`.
// MICRO_ROUNDS (default 3) memory rounds, each on a new partition; the summary gives the
// best round's wall and CPU time (process.cpuUsage: on a shared machine CPU time moves
// less than wall time). MICRO_LMDB=1 adds one LMDB round (its wall time includes the
// commits' fdatasync). MICRO_EVICT_MB: see below.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetaPartition } from '../../src/metanode/meta-partition.js';
import { LmdbEngine, MemoryEngine } from '../../src/metanode/store/index.js';
import { PartitionKind } from '../../src/proto/generated/master.js';
import { CreateInodeRequest, InodeType, MetaCommand, UnlinkRequest } from '../../src/proto/generated/metanode.js';

const entries = Number(process.argv[2] ?? 50_000);
const spec = { kind: PartitionKind.PARTITION_META, partitionId: 1, volume: 'v', inodeStart: 1, inodeEnd: 0, capacityBytes: 0, peers: [] };

interface Round {
  createUs: number;
  createCpuUs: number;
  unlinkUs: number;
  unlinkCpuUs: number;
}

function cpuUs(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

async function run(kind: 'memory' | 'lmdb'): Promise<Round> {
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
    // MICRO_EVICT_MB: between batches, touch this many MiB (one byte per 64) so the apply
    // starts from caches that other work has emptied, as on a busy machine where other
    // processes run between two Raft cycles. The touching is left out of the times.
    const evictBytes = Number(process.env.MICRO_EVICT_MB ?? 0) * 1024 * 1024;
    const evictArea = new Uint8Array(evictBytes);
    let evictedUs = 0;
    let evictedCpuUs = 0;
    const evict = (): void => {
      if (evictBytes === 0) return;
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      for (let offset = 0; offset < evictBytes; offset += 64) evictArea[offset]! += 1;
      evictedUs += (performance.now() - started) * 1000;
      evictedCpuUs += cpuUs(process.cpuUsage(cpuStarted));
    };
    const applyAll = (list: Uint8Array[]): void => {
      evictedUs = 0;
      evictedCpuUs = 0;
      for (let start = 0; start < list.length; start += batch) {
        evict();
        const run = (): void => {
          for (const command of list.slice(start, start + batch)) partition.stateMachine.apply(index++, command);
        };
        if (partition.stateMachine.applyBatch === undefined) run();
        else partition.stateMachine.applyBatch(run);
      }
    };
    let started = performance.now();
    let cpuStarted = process.cpuUsage();
    applyAll(commands);
    const createUs = ((performance.now() - started) * 1000 - evictedUs) / entries;
    const createCpuUs = (cpuUs(process.cpuUsage(cpuStarted)) - evictedCpuUs) / entries;
    const unlinks = Array.from({ length: entries }, (_, i) => MetaCommand.encode(MetaCommand.create({ nowSec: 1_800_000_000, nowNsec: 5, op: { case: 'unlink', value: UnlinkRequest.create({ parentIno: 1, name: `entry-${i.toString().padStart(7, '0')}` }) } })));
    started = performance.now();
    cpuStarted = process.cpuUsage();
    applyAll(unlinks);
    const unlinkUs = ((performance.now() - started) * 1000 - evictedUs) / entries;
    const unlinkCpuUs = (cpuUs(process.cpuUsage(cpuStarted)) - evictedCpuUs) / entries;
    console.log(`${kind}: ${entries} creates ${createUs.toFixed(1)} us each (CPU ${createCpuUs.toFixed(1)}), unlinks ${unlinkUs.toFixed(1)} us each (CPU ${unlinkCpuUs.toFixed(1)})`);
    await partition.close();
    return { createUs, createCpuUs, unlinkUs, unlinkCpuUs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rounds: Round[] = [];
const roundsWanted = Number(process.env.MICRO_ROUNDS ?? 3);
for (let round = 0; round < roundsWanted; round++) rounds.push(await run('memory'));
const best = (pick: (round: Round) => number): string => Math.min(...rounds.map(pick)).toFixed(1);
console.log(`memory, best of ${rounds.length}: create ${best((r) => r.createUs)} us (CPU ${best((r) => r.createCpuUs)}), unlink ${best((r) => r.unlinkUs)} us (CPU ${best((r) => r.unlinkCpuUs)})`);
if (process.env.MICRO_LMDB !== undefined) await run('lmdb');
