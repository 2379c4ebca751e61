// bench:data — three `atoll datanode` processes (with one master and the three metanodes
// volume placement needs) on loopback, one data partition of three replicas, driven
// through the data client; and in the same run the same work on local files through
// node:fs, in a directory on the same disk. Both sides sync once at the end of each file
// (the fsync contract), not per packet.
//   - sequential write of BENCH_BYTES (default 1 GiB) in 128 KiB packets, 1 stream and
//     8 streams (the bytes split between them);
//   - sequential read of the same, 1 MiB reads (the client keeps 4 in flight per stream);
//   - 4 KiB random reads, 1 and 16 in flight, for BENCH_SECONDS (default 5) each.
// Prints MB/s (10^6 bytes), IOPS and the ratio to local; the last line is one JSON object
// with every figure. Environment: BENCH_BYTES, BENCH_SECONDS, BENCH_DIR (local side).
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DataClient, type ExtentKey } from '../../src/dataclient/index.js';
import { TestCluster } from '../../src/launcher/testing/test-cluster.js';
import { waitFor } from '../../src/master/testing/master-group.js';
import { PartitionStatus } from '../../src/proto/generated/master.js';

const totalBytes = Number(process.env.BENCH_BYTES ?? 2 ** 30);
const seconds = Number(process.env.BENCH_SECONDS ?? '5');
const packetBytes = 128 * 1024;
const readBytes = 1024 * 1024;
const source = randomBytes(8 * 1024 * 1024);

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

function localSide(directory: string): Side {
  const files = new Map<number, string>();
  const handles = new Map<number, Awaited<ReturnType<typeof open>>>();
  return {
    async write(stream, bytes) {
      const path = join(directory, `file-${stream}`);
      files.set(stream, path);
      const handle = await open(path, 'w');
      try {
        for (let offset = 0; offset < bytes; offset += packetBytes) {
          const at = offset % source.byteLength;
          await handle.write(source, at, Math.min(packetBytes, bytes - offset), offset);
        }
        await handle.datasync();
      } finally {
        await handle.close();
      }
    },
    async read(stream, bytes) {
      const handle = await open(files.get(stream)!, 'r');
      const buffer = Buffer.allocUnsafe(readBytes);
      try {
        for (let offset = 0; offset < bytes; offset += readBytes) await handle.read(buffer, 0, Math.min(readBytes, bytes - offset), offset);
      } finally {
        await handle.close();
      }
    },
    async randomRead(stream, offset) {
      let handle = handles.get(stream);
      if (handle === undefined) {
        handle = await open(files.get(stream)!, 'r');
        handles.set(stream, handle);
      }
      await handle.read(Buffer.allocUnsafe(4096), 0, 4096, offset);
    },
    async cleanup() {
      for (const handle of handles.values()) await handle.close();
      handles.clear();
      for (const path of files.values()) await rm(path, { force: true });
      files.clear();
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
      // One key at a time, 1 MiB calls with the client's window of 4 in flight.
      let done = 0;
      for (const key of keys) {
        const take = Math.min(key.size, bytes - done);
        const chunk = 8 * readBytes;
        for (let at = 0; at < take; at += chunk) await client.readKey(key, at, Math.min(chunk, take - at));
        done += take;
      }
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
    const local = await measure(localSide(localDir));
    const remote = await measure(clusterSide(client));
    const rows: Array<[string, keyof Figures, string]> = [
      ['sequential write, 1 stream', 'seqWrite1MBps', 'MB/s'],
      ['sequential write, 8 streams', 'seqWrite8MBps', 'MB/s'],
      ['sequential read, 1 stream', 'seqRead1MBps', 'MB/s'],
      ['sequential read, 8 streams', 'seqRead8MBps', 'MB/s'],
      ['4 KiB random read, 1 in flight', 'randomRead4kQd1Iops', 'IOPS'],
      ['4 KiB random read, 16 in flight', 'randomRead4kQd16Iops', 'IOPS'],
    ];
    process.stdout.write(`\n| measurement | atoll (3 replicas) | local node:fs | ratio |\n|---|---:|---:|---:|\n`);
    for (const [label, key, unit] of rows) {
      process.stdout.write(`| ${label} | ${remote[key].toFixed(0)} ${unit} | ${local[key].toFixed(0)} ${unit} | ${(remote[key] / local[key]).toFixed(2)} |\n`);
    }
    const ratios = Object.fromEntries(rows.map(([, key]) => [key, Number((remote[key] / local[key]).toFixed(3))]));
    process.stdout.write(`${JSON.stringify({ bytes: totalBytes, atoll: remote, local, ratios })}\n`);
  } finally {
    await cluster.stop();
    await rm(localDir, { recursive: true, force: true });
  }
}

await main();
