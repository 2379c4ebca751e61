// bench:fs — a FUSE mount of a three-replica local cluster (one master, three metanodes,
// three datanodes, `atoll mount` in its own process) against, in the same run, a local
// directory and the binding's ceiling: the do-nothing in-memory file system mounted
// through the same FUSE binding (src/fuse/memory-fs.ts). On each:
//   - create, stat and unlink BENCH_FILES (default 10,000) empty files, 1 and 8 workers;
//   - sequential write of BENCH_BYTES (default 1 GiB) in 1 MiB blocks, one fsync at the
//     end, and sequential read of it in 1 MiB blocks (a new open: FUSE drops its cache);
//   - 4 KiB random reads and random writes (one fsync at the end) for BENCH_SECONDS
//     (default 5) each, one worker.
// Prints each figure next to the local and ceiling figures, and the issue's goals (one
// worker, against a three-brick GlusterFS measured on this kind of machine: 145 creates/s,
// 277 unlinks/s, 63 MiB/s write, 455 MiB/s read; goal 10x, 10x, 3x, 1x). The last line
// is one JSON object with every figure. BENCH_SIDES, a comma list of local, ceiling,
// atoll (the default) and ceiling-libfuse, atoll-libfuse (the same through fuse-native,
// to compare in one run), runs those sides.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, stat, unlink } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { TestCluster } from '../../src/launcher/testing/test-cluster.js';
import { chooseBackend } from '../../src/fuse/binding.js';
import { AtollMount } from '../../src/fuse/testing/atoll-mount.js';
import { ChildMount } from '../../src/fuse/testing/child-mount.js';

// The libuv pool serves every fs call; 8 workers need more than its default 4 threads.
process.env.UV_THREADPOOL_SIZE ??= '16';

const files = Number(process.env.BENCH_FILES ?? 10_000);
const totalBytes = Number(process.env.BENCH_BYTES ?? 2 ** 30);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const sides = (process.env.BENCH_SIDES ?? 'local,ceiling,atoll').split(',');
const blockBytes = 1024 * 1024;
const smallBytes = 4096;
const block = randomBytes(blockBytes);
const mib = 1024 * 1024;

interface Figures {
  create1: number;
  stat1: number;
  unlink1: number;
  create8: number;
  stat8: number;
  unlink8: number;
  seqWriteMiBps: number;
  seqReadMiBps: number;
  randomRead4kIops: number;
  randomWrite4kIops: number;
}

const elapsedSeconds = (startedNs: bigint): number => Number(process.hrtime.bigint() - startedNs) / 1e9;

/** `count` operations split over `workers` loops; operations per second. */
async function rate(workers: number, count: number, operation: (index: number) => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let index = worker; index < count; index += workers) await operation(index);
    }),
  );
  return count / elapsedSeconds(started);
}

async function metadata(directory: string, workers: number): Promise<{ create: number; stat: number; unlink: number }> {
  const dir = join(directory, `meta-${workers}`);
  await mkdir(dir);
  const path = (index: number): string => join(dir, `f${index}`);
  const create = await rate(workers, files, async (index) => (await open(path(index), 'w')).close());
  const statRate = await rate(workers, files, (index) => stat(path(index)));
  const unlinkRate = await rate(workers, files, (index) => unlink(path(index)));
  await rm(dir, { recursive: true, force: true });
  return { create, stat: statRate, unlink: unlinkRate };
}

async function data(directory: string): Promise<Pick<Figures, 'seqWriteMiBps' | 'seqReadMiBps' | 'randomRead4kIops' | 'randomWrite4kIops'>> {
  const path = join(directory, 'big.bin');
  let started = process.hrtime.bigint();
  const writer = await open(path, 'w');
  for (let at = 0; at < totalBytes; at += blockBytes) await writer.write(block, 0, Math.min(blockBytes, totalBytes - at), at);
  await writer.sync();
  await writer.close();
  const seqWriteMiBps = totalBytes / mib / elapsedSeconds(started);
  started = process.hrtime.bigint();
  const reader = await open(path, 'r');
  const buffer = Buffer.alloc(blockBytes);
  let read = 0;
  for (let turn = 0; turn < totalBytes / blockBytes + 2; turn++) {
    const { bytesRead } = await reader.read(buffer, 0, blockBytes, read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  await reader.close();
  const seqReadMiBps = read / mib / elapsedSeconds(started);
  const blocks = Math.floor(totalBytes / smallBytes);
  const small = Buffer.alloc(smallBytes);
  const timed = async (file: string, flags: string, operation: (handle: Awaited<ReturnType<typeof open>>, offset: number) => Promise<unknown>, syncAtEnd: boolean): Promise<number> => {
    const handle = await open(file, flags);
    let done = 0;
    const began = process.hrtime.bigint();
    const end = Date.now() + seconds * 1000;
    // Bounded by the time budget.
    while (Date.now() < end) {
      await operation(handle, Math.floor(Math.random() * blocks) * smallBytes);
      done += 1;
    }
    if (syncAtEnd) await handle.sync();
    const iops = done / elapsedSeconds(began);
    await handle.close();
    return iops;
  };
  const randomRead4kIops = await timed(path, 'r', (handle, offset) => handle.read(small, 0, smallBytes, offset), false);
  const randomWrite4kIops = await timed(path, 'r+', (handle, offset) => handle.write(block, offset % blockBytes, smallBytes, offset), true);
  await rm(path, { force: true });
  return { seqWriteMiBps, seqReadMiBps, randomRead4kIops, randomWrite4kIops };
}

async function measure(directory: string): Promise<Figures> {
  const one = await metadata(directory, 1);
  const eight = await metadata(directory, 8);
  return { create1: one.create, stat1: one.stat, unlink1: one.unlink, create8: eight.create, stat8: eight.stat, unlink8: eight.unlink, ...(await data(directory)) };
}

/** Starts a mount process with ATOLL_FUSE_BACKEND set for it ('auto': as configured). */
async function withBackend<T>(backend: 'auto' | 'fuse-native', start: () => Promise<T>): Promise<T> {
  const before = process.env.ATOLL_FUSE_BACKEND;
  if (backend !== 'auto') process.env.ATOLL_FUSE_BACKEND = backend;
  try {
    return await start();
  } finally {
    if (before === undefined) delete process.env.ATOLL_FUSE_BACKEND;
    else process.env.ATOLL_FUSE_BACKEND = before;
  }
}

async function main(): Promise<void> {
  process.stdout.write(`bench:fs on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; ${files} files, ${totalBytes} bytes, ${seconds} s per random run\n`);
  const root = await mkdtemp(join(tmpdir(), 'atoll-bench-fs-'));
  const results: Partial<Record<'local' | 'ceiling' | 'ceiling-libfuse' | 'atoll' | 'atoll-libfuse', Figures>> = {};
  try {
    if (sides.includes('local')) {
      const local = join(root, 'local');
      await mkdir(local);
      results.local = await measure(local);
      process.stdout.write(`local done\n`);
    }
    // The FUSE sides through the kernel session (the default as root) and, for the same
    // run's comparison, through fuse-native and libfuse 2 (`-libfuse`).
    for (const [side, backend] of [['ceiling', 'auto'], ['ceiling-libfuse', 'fuse-native']] as const) {
      if (!sides.includes(side)) continue;
      const mountPoint = join(root, side);
      await mkdir(mountPoint);
      const ceiling = await withBackend(backend, () => ChildMount.start(mountPoint, { bytesMax: totalBytes * 2 + 64 * mib }));
      try {
        results[side] = await measure(mountPoint);
      } finally {
        await ceiling.stop();
      }
      process.stdout.write(`${side} done\n`);
    }
    for (const [side, backend] of [['atoll', 'auto'], ['atoll-libfuse', 'fuse-native']] as const) {
      if (!sides.includes(side)) continue;
      const cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
      const mountPoint = join(root, side);
      await mkdir(mountPoint);
      let mounted: AtollMount | undefined;
      try {
        await cluster.createVolume('bench', { capacityBytes: 64 * 1024 ** 3 });
        mounted = await withBackend(backend, () => AtollMount.start('bench', mountPoint, ['-p', cluster.masterAddresses()[0]!, '--cluster-secret-file', cluster.plan.secretFile]));
        results[side] = await measure(mountPoint);
      } finally {
        await mounted?.stop();
        await cluster.stop();
      }
      process.stdout.write(`${side} done\n`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const rows: Array<[string, keyof Figures, string]> = [
    ['create, 1 worker', 'create1', 'ops/s'],
    ['stat, 1 worker', 'stat1', 'ops/s'],
    ['unlink, 1 worker', 'unlink1', 'ops/s'],
    ['create, 8 workers', 'create8', 'ops/s'],
    ['stat, 8 workers', 'stat8', 'ops/s'],
    ['unlink, 8 workers', 'unlink8', 'ops/s'],
    ['sequential write 1 MiB blocks', 'seqWriteMiBps', 'MiB/s'],
    ['sequential read 1 MiB blocks', 'seqReadMiBps', 'MiB/s'],
    ['4 KiB random read', 'randomRead4kIops', 'IOPS'],
    ['4 KiB random write', 'randomWrite4kIops', 'IOPS'],
  ];
  const show = (figures: Figures | undefined, key: keyof Figures): string => (figures === undefined ? '-' : figures[key].toFixed(0));
  const ratio = (figures: Figures | undefined, base: Figures | undefined, key: keyof Figures): string => (figures === undefined || base === undefined ? '-' : (figures[key] / base[key]).toFixed(2));
  const libfuse = results['atoll-libfuse'] !== undefined || results['ceiling-libfuse'] !== undefined;
  process.stdout.write(`\nFUSE through ${chooseBackend() === 'kernel' ? 'the kernel session' : 'fuse-native'}${libfuse ? '; "libfuse" columns through fuse-native and libfuse 2' : ''}\n`);
  const extraHead = libfuse ? ' atoll, libfuse | ceiling, libfuse |' : '';
  process.stdout.write(`\n| measurement | unit | atoll (FUSE) | local | ceiling (memory fs, FUSE) |${extraHead} atoll/local | atoll/ceiling |\n|---|---|---:|---:|---:|${libfuse ? '---:|---:|' : ''}---:|---:|\n`);
  for (const [label, key, unit] of rows) {
    const extra = libfuse ? ` ${show(results['atoll-libfuse'], key)} | ${show(results['ceiling-libfuse'], key)} |` : '';
    process.stdout.write(`| ${label} | ${unit} | ${show(results.atoll, key)} | ${show(results.local, key)} | ${show(results.ceiling, key)} |${extra} ${ratio(results.atoll, results.local, key)} | ${ratio(results.atoll, results.ceiling, key)} |\n`);
  }
  const glusterfs = { create1: 145, unlink1: 277, seqWriteMiBps: 63, seqReadMiBps: 455 };
  const goals = { create1: 10 * glusterfs.create1, unlink1: 10 * glusterfs.unlink1, seqWriteMiBps: 3 * glusterfs.seqWriteMiBps, seqReadMiBps: glusterfs.seqReadMiBps };
  const met: Record<string, boolean | null> = {};
  for (const [key, goal] of Object.entries(goals) as Array<[keyof typeof goals, number]>) {
    met[key] = results.atoll === undefined ? null : results.atoll[key] >= goal;
    process.stdout.write(`goal ${key} >= ${goal}: ${results.atoll === undefined ? '-' : `${results.atoll[key].toFixed(0)} ${met[key] ? 'met' : 'NOT met'}`}\n`);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'fs', backend: chooseBackend(), files, bytes: totalBytes, seconds, ...results, goals, goalsMet: met })}\n`);
}

await main();
