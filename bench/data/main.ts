// bench:data — three `atoll datanode` processes (with one master and the three metanodes
// volume placement needs) on loopback, one data partition of three replicas, driven
// through the data client; and in the same run the same work on local files through
// node:fs, in a directory on the same disk. Both sides sync once at the end of each file
// (the fsync contract), not per packet.
//   - sequential write of BENCH_BYTES (default 1 GiB) in 128 KiB packets, 1 stream and
//     8 streams (the bytes split between them);
//   - sequential read of the same, 1 MiB reads, the data client's readWindow (8) kept in flight per stream;
//   - 4 KiB random reads, 1 and 16 in flight, for BENCH_SECONDS (default 5) each.
// The local side runs twice: through the page cache (what node:fs does by default; on a
// machine with memory to spare its reads measure memory, not the disk), and with O_DIRECT
// (4 KiB-aligned buffers, the page cache bypassed: the disk's own rate).
// A third baseline, the bare pipeline (bare-replica.ts), does the datanodes' work in the
// same topology with nothing but sockets, files and CRC32: what this machine and Node can
// do for three replicas on loopback, with the same windows.
// Prints MB/s (10^6 bytes), IOPS and the ratios to the bare pipeline and both local runs;
// the last line is one JSON object with every figure. Environment: BENCH_BYTES,
// BENCH_SECONDS, BENCH_DIR (local side), BENCH_SIDES (comma list of
// cache,direct,bare,atoll; default all four).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DataClient, dataClientLimitsDefault, type ExtentKey } from '../../src/dataclient/index.js';
import { TestCluster } from '../../src/launcher/testing/test-cluster.js';
import { waitFor } from '../../src/master/testing/master-group.js';
import { PartitionStatus } from '../../src/proto/generated/master.js';
import { crc32 } from '../../src/checksum/index.js';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { mkdir } from 'node:fs/promises';
import { BareEchoClient } from '../rpc/bare-echo.js';
import { bareOp, bareRequest } from './bare-replica.js';

const totalBytes = Number(process.env.BENCH_BYTES ?? 2 ** 30);
const seconds = Number(process.env.BENCH_SECONDS ?? '5');
const packetBytes = 128 * 1024;
const readBytes = 1024 * 1024;
// Read calls in flight per sequential reader (BENCH_READ_WINDOW; the data client's readWindow by default).
const readWindow = Number(process.env.BENCH_READ_WINDOW ?? dataClientLimitsDefault.readWindow);
const source = randomBytes(8 * 1024 * 1024);

/** Runs `task(0..count-1)` in order with readWindow of them in flight at all times. */
async function keepingWindowFull(count: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    // Bounded: each turn takes one index.
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: readWindow }, worker));
}
const sides = new Set((process.env.BENCH_SIDES ?? 'cache,direct,bare,atoll').split(','));
const directAlignmentBytes = 4096;

interface Figures {
  seqWrite1MBps: number;
  seqWrite8MBps: number;
  seqRead1MBps: number;
  seqRead8MBps: number;
  randomRead4kQd1Iops: number;
  randomRead4kQd16Iops: number;
}

const mbps = (bytes: number, startedNs: bigint): number => bytes / 1e6 / (Number(process.hrtime.bigint() - startedNs) / 1e9);

/** The side under test: how it writes, reads and reads randomly one file. */
interface Side {
  write(stream: number, bytes: number): Promise<void>;
  read(stream: number, bytes: number): Promise<void>;
  randomRead(stream: number, offset: number): Promise<void>;
  cleanup(): Promise<void>;
}

async function measure(side: Side): Promise<Figures> {
  const perStream8 = Math.floor(totalBytes / 8 / packetBytes) * packetBytes;
  let started = process.hrtime.bigint();
  await side.write(0, totalBytes);
  const seqWrite1MBps = mbps(totalBytes, started);
  started = process.hrtime.bigint();
  await side.read(0, totalBytes);
  const seqRead1MBps = mbps(totalBytes, started);
  const random = async (inFlight: number): Promise<number> => {
    let done = 0;
    const end = Date.now() + seconds * 1000;
    const began = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (Date.now() < end) {
          await side.randomRead(0, Math.floor(Math.random() * (totalBytes / 4096)) * 4096);
          done += 1;
        }
      }),
    );
    return done / (Number(process.hrtime.bigint() - began) / 1e9);
  };
  const randomRead4kQd1Iops = await random(1);
  const randomRead4kQd16Iops = await random(16);
  await side.cleanup();
  started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 8 }, (_, stream) => side.write(stream + 1, perStream8)));
  const seqWrite8MBps = mbps(perStream8 * 8, started);
  started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 8 }, (_, stream) => side.read(stream + 1, perStream8)));
  const seqRead8MBps = mbps(perStream8 * 8, started);
  await side.cleanup();
  return { seqWrite1MBps, seqWrite8MBps, seqRead1MBps, seqRead8MBps, randomRead4kQd1Iops, randomRead4kQd16Iops };
}

/**
 * A buffer of `bytes` whose address suits O_DIRECT. Node cannot say where a buffer lives,
 * so the aligned start inside a larger one is found by trying 4 KiB direct writes to a
 * probe file (EINVAL until aligned).
 */
async function alignedBuffer(probe: FileHandle, bytes: number): Promise<Buffer> {
  const spare = Buffer.alloc(bytes + 2 * directAlignmentBytes);
  for (let start = 0; start < 2 * directAlignmentBytes; start += 8) {
    try {
      await probe.write(spare, start, directAlignmentBytes, 0);
      return spare.subarray(start, start + bytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    }
  }
  throw new Error('bench: no O_DIRECT-aligned start found in a buffer (does the file system take O_DIRECT?)');
}

function localSide(directory: string, direct: boolean): Side {
  const files = new Map<number, string>();
  const handles = new Map<number, FileHandle>();
  const directFlag = direct ? constants.O_DIRECT : 0;
  const pool: Buffer[] = [];
  let randomBuffers = 0;
  // One probe file, opened by the first stream that needs it (streams ask at once).
  let probe: Promise<FileHandle> | undefined;
  // Direct I/O needs aligned buffers: one per use, found once.
  const buffers = new Map<string, Buffer>();
  const buffer = async (name: string, bytes: number): Promise<Buffer> => {
    let found = buffers.get(name);
    if (found !== undefined) return found;
    if (!direct) found = Buffer.allocUnsafe(bytes);
    else {
      probe ??= open(join(directory, 'probe'), constants.O_RDWR | constants.O_CREAT | constants.O_DIRECT);
      found = await alignedBuffer(await probe, bytes);
    }
    buffers.set(name, found);
    return found;
  };
  return {
    async write(stream, bytes) {
      const path = join(directory, `file-${stream}`);
      files.set(stream, path);
      const packet = await buffer(`write-${stream}`, packetBytes);
      const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | directFlag);
      try {
        for (let offset = 0; offset < bytes; offset += packetBytes) {
          const at = offset % source.byteLength;
          const size = Math.min(packetBytes, bytes - offset);
          if (direct) {
            source.copy(packet, 0, at, at + size);
            await handle.write(packet, 0, size, offset);
          } else await handle.write(source, at, size, offset);
        }
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
    async read(stream, bytes) {
      const handle = await open(files.get(stream)!, constants.O_RDONLY | directFlag);
      const into = await buffer(`read-${stream}`, readBytes);
      try {
        for (let offset = 0; offset < bytes; offset += readBytes) await handle.read(into, 0, Math.min(readBytes, bytes - offset), offset);
      } finally {
        await handle.close();
      }
    },
    async randomRead(stream, offset) {
      let handle = handles.get(stream);
      if (handle === undefined) {
        handle = await open(files.get(stream)!, constants.O_RDONLY | directFlag);
        handles.set(stream, handle);
      }
      // Reads in flight at once each need their own buffer: a pool of aligned ones.
      const into = direct ? (pool.pop() ?? (await buffer(`random-${(randomBuffers += 1)}`, 4096))) : Buffer.allocUnsafe(4096);
      try {
        await handle.read(into, 0, 4096, offset);
      } finally {
        if (direct) pool.push(into);
      }
    },
    async cleanup() {
      for (const handle of handles.values()) await handle.close();
      handles.clear();
      for (const path of files.values()) await rm(path, { force: true });
      files.clear();
      const opened = probe;
      probe = undefined;
      await (await opened)?.close();
    },
  };
}

function clusterSide(client: DataClient): Side {
  const files = new Map<number, ExtentKey[]>();
  return {
    async write(stream, bytes) {
      const writer = client.writer();
      for (let offset = 0; offset < bytes; offset += source.byteLength) await writer.write(source.subarray(0, Math.min(source.byteLength, bytes - offset)));
      const { keys, abandoned } = await writer.finish();
      if (abandoned.length > 0) throw new Error(`bench: the stream abandoned ${abandoned.length} extent(s): ${abandoned[0]!.reason}`);
      await client.sync(keys);
      files.set(stream, keys);
    },
    async read(stream, bytes) {
      const keys = files.get(stream)!;
      // A sequential reader keeps its window full: 1 MiB calls, readWindow of them in
      // flight at all times, across the keys in order.
      const chunks: Array<{ key: ExtentKey; at: number; size: number }> = [];
      let done = 0;
      for (const key of keys) {
        const take = Math.min(key.size, bytes - done);
        for (let at = 0; at < take; at += readBytes) chunks.push({ key, at, size: Math.min(readBytes, take - at) });
        done += take;
      }
      await keepingWindowFull(chunks.length, (index) => client.readKey(chunks[index]!.key, chunks[index]!.at, chunks[index]!.size));
    },
    async randomRead(stream, offset) {
      const keys = files.get(stream)!;
      const key = keys.find((candidate) => offset >= candidate.fileOffset && offset < candidate.fileOffset + candidate.size)!;
      await client.readKey(key, offset - key.fileOffset, Math.min(4096, key.size - (offset - key.fileOffset)));
    },
    async cleanup() {
      for (const keys of files.values()) await client.deleteKeys(keys);
      files.clear();
    },
  };
}

/**
 * The bare pipeline (bare-replica.ts): three processes, a leader and two followers, doing
 * the datanodes' work with nothing else; the same windows as the data client (its
 * windowPackets packets of 128 KiB in flight per stream, reads of 1 MiB with readWindow
 * in flight, grouped by 8 MiB as the atoll side reads).
 */
async function bareSide(directory: string): Promise<{ side: Side; stop: () => void }> {
  const script = fileURLToPath(new URL('./bare-replica.js', import.meta.url));
  const children: ChildProcess[] = [];
  const start = async (name: string, followerPorts: number[]): Promise<number> => {
    const replicaDirectory = join(directory, name);
    await mkdir(replicaDirectory, { recursive: true });
    const child = spawn(process.execPath, [script, replicaDirectory, followerPorts.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`bench: bare replica ${name} exited with ${code}`)));
    });
    return (JSON.parse(line) as { port: number }).port;
  };
  const followerPorts = [await start('bare-follower-1', []), await start('bare-follower-2', [])];
  const leader = await BareEchoClient.connect('127.0.0.1', await start('bare-leader', followerPorts));
  const stop = (): void => {
    leader.close();
    for (const child of children) child.stdin?.end();
  };
  const readChecked = async (stream: number, offset: number, length: number): Promise<Buffer> => {
    const answer = await leader.call(bareRequest(bareOp.read, stream, offset, length, 0));
    const bytes = answer.subarray(4);
    if (bytes.length !== length || crc32(bytes) !== answer.readUInt32BE(0)) throw new Error(`bench: bare read of ${length} at ${offset}: bad answer`);
    return bytes;
  };
  const side: Side = {
    async write(stream, bytes) {
      const inFlight: Array<Promise<Buffer>> = [];
      for (let offset = 0; offset < bytes; offset += packetBytes) {
        const size = Math.min(packetBytes, bytes - offset);
        const at = offset % source.byteLength;
        const packet = Buffer.allocUnsafe(size);
        source.copy(packet, 0, at, at + size);
        inFlight.push(leader.call(bareRequest(bareOp.write, stream, offset, size, crc32(packet)), packet));
        if (inFlight.length >= dataClientLimitsDefault.windowPackets) await inFlight.shift();
      }
      await Promise.all(inFlight);
      await leader.call(bareRequest(bareOp.sync, stream, 0, 0, 0));
    },
    async read(stream, bytes) {
      // As the cluster side: 1 MiB calls, readWindow of them in flight at all times.
      await keepingWindowFull(Math.ceil(bytes / readBytes), (index) => readChecked(stream, index * readBytes, Math.min(readBytes, bytes - index * readBytes)));
    },
    async randomRead(stream, offset) {
      await readChecked(stream, offset, 4096);
    },
    async cleanup() {
      for (let stream = 0; stream <= 8; stream++) await leader.call(bareRequest(bareOp.remove, stream, 0, 0, 0));
    },
  };
  return { side, stop };
}

async function main(): Promise<void> {
  process.stdout.write(`bench:data: ${totalBytes} bytes, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);
  const localDir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'atoll-bench-data-local-'));
  const cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
  try {
    const patched = await cluster.admin('PATCH', '/api/v1/cluster/settings', { initialDataPartitions: 1, dataPartitionsWritableMin: 1 });
    if (patched.status !== 200) throw new Error(`bench: settings: ${JSON.stringify(patched.body)}`);
    await cluster.createVolume('bench');
    const client = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'bench' });
    await waitFor('the data partition to have a leader', 60_000, async () => {
      const view = await client.refreshView();
      return view.dataPartitions.length === 1 && view.dataPartitions[0]!.leaderNodeId !== 0 && view.dataPartitions[0]!.status === PartitionStatus.PARTITION_READ_WRITE ? true : undefined;
    }, 200);
    const none: Figures = { seqWrite1MBps: 0, seqWrite8MBps: 0, seqRead1MBps: 0, seqRead8MBps: 0, randomRead4kQd1Iops: 0, randomRead4kQd16Iops: 0 };
    const local = sides.has('cache') ? await measure(localSide(localDir, false)) : none;
    const direct = sides.has('direct') ? await measure(localSide(localDir, true)) : none;
    let bare = none;
    if (sides.has('bare')) {
      const pipeline = await bareSide(join(localDir, 'bare'));
      try {
        bare = await measure(pipeline.side);
      } finally {
        pipeline.stop();
      }
    }
    const remote = sides.has('atoll') ? await measure(clusterSide(client)) : none;
    const rows: Array<[string, keyof Figures, string]> = [
      ['sequential write, 1 stream', 'seqWrite1MBps', 'MB/s'],
      ['sequential write, 8 streams', 'seqWrite8MBps', 'MB/s'],
      ['sequential read, 1 stream', 'seqRead1MBps', 'MB/s'],
      ['sequential read, 8 streams', 'seqRead8MBps', 'MB/s'],
      ['4 KiB random read, 1 in flight', 'randomRead4kQd1Iops', 'IOPS'],
      ['4 KiB random read, 16 in flight', 'randomRead4kQd16Iops', 'IOPS'],
    ];
    const ratio = (of: Figures, to: Figures, key: keyof Figures): number => (to[key] === 0 ? 0 : Number((of[key] / to[key]).toFixed(3)));
    process.stdout.write(
      `\n| measurement | atoll (3 replicas) | bare 3-replica pipeline | local, page cache | local, O_DIRECT | atoll/bare | atoll/page cache | atoll/O_DIRECT |\n|---|---:|---:|---:|---:|---:|---:|---:|\n`,
    );
    for (const [label, key, unit] of rows) {
      process.stdout.write(
        `| ${label} | ${remote[key].toFixed(0)} ${unit} | ${bare[key].toFixed(0)} ${unit} | ${local[key].toFixed(0)} ${unit} | ${direct[key].toFixed(0)} ${unit} | ${ratio(remote, bare, key).toFixed(2)} | ${ratio(remote, local, key).toFixed(2)} | ${ratio(remote, direct, key).toFixed(2)} |\n`,
      );
    }
    const ratios = Object.fromEntries(rows.map(([, key]) => [key, ratio(remote, local, key)]));
    const ratiosDirect = Object.fromEntries(rows.map(([, key]) => [key, ratio(remote, direct, key)]));
    const ratiosBare = Object.fromEntries(rows.map(([, key]) => [key, ratio(remote, bare, key)]));
    process.stdout.write(`${JSON.stringify({ bytes: totalBytes, atoll: remote, bare, local, localDirect: direct, ratios, ratiosDirect, ratiosBare })}\n`);
  } finally {
    await cluster.stop();
    await rm(localDir, { recursive: true, force: true });
  }
}

await main();
