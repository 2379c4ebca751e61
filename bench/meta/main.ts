// bench:meta — metadata operations per second of one three-replica meta partition on
// three `atoll metanode` processes (plus one master and three datanodes, which the
// volume needs) on loopback, at the RPC level, against the same operations on a local
// directory through node:fs in the same run and on the same disk (the OS temp directory).
//
// For each engine (memory, lmdb), each layout (all entries in one directory; spread over
// 100 directories) and 1 and 64 concurrent callers (closed loop: a caller sends its next
// request when the previous one is answered):
//   create  CreateInode with its dentry (one Raft entry: inode + dentry, 3 replicas, fdatasync)
//           | node:fs open(O_CREAT|O_EXCL) + close
//   lookup  Lookup of a created name (leader, read index)         | node:fs stat of the path
//   stat    GetInode of a created inode (leader, read index)       | node:fs stat of the path
//   readdir ReadDir pages of 1024 with plus, entries per second     | node:fs readdir withFileTypes
//   unlink  Unlink (one Raft entry)                                 | node:fs unlink
//
// Environment: BENCH_ENTRIES (entries with 64 callers, default 100000), BENCH_ENTRIES_SERIAL
// (entries with 1 caller, default 5000), BENCH_ENGINES (default "memory,lmdb"),
// BENCH_NODE_OPTIONS (node flags for the metanode processes, e.g. --cpu-prof) and
// BENCH_NODE_CWD (their working directory, where such profiles land), BENCH_LAYOUTS (default
// "one-directory,spread"), BENCH_CALLERS (default "1,64") and BENCH_OPS (the operations after
// create, default "lookup,stat,readdir,unlink") to run a part of the matrix.
// Columns after the ratio: CPU microseconds per operation of the three metanodes and of
// this process, how busy the machine was, and the read and write system calls per
// operation of the three metanodes (socket and file; a count the neighbours' load does
// not inflate, unlike CPU time).
// The last line printed is one JSON object with every figure.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src/launcher/index.js';
import { httpAdmin, waitFor } from '../../src/master/testing/master-group.js';
import { MasterClient } from '../../src/masterclient/index.js';
import { MetaClient } from '../../src/metaclient/index.js';
import { CreateInodeRequest, GetInodeRequest, InodeType, LookupRequest, MetaNode, ReadDirRequest, UnlinkRequest } from '../../src/proto/generated/metanode.js';
import { RpcClient } from '../../src/rpc/index.js';
import { machineBusyCpuSeconds, processCpuSeconds, processIoSyscalls } from '../raft/process-cpu.js';

const host = '127.0.0.1';
const atollBin = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));
const entriesParallel = Number(process.env.BENCH_ENTRIES ?? 100_000);
const entriesSerial = Number(process.env.BENCH_ENTRIES_SERIAL ?? 5_000);
const engines = (process.env.BENCH_ENGINES ?? 'memory,lmdb').split(',') as Array<'memory' | 'lmdb'>;
const layouts = (process.env.BENCH_LAYOUTS ?? 'one-directory,spread').split(',') as Array<Figure['layout']>;
const callerCounts = (process.env.BENCH_CALLERS ?? '1,64').split(',').map(Number);
// BENCH_OPS: the operations after create to run (create always runs: the others need its entries).
const laterOps = new Set((process.env.BENCH_OPS ?? 'lookup,stat,readdir,unlink').split(','));
const directoriesSpread = 100;
const readdirPageEntries = 1024;

interface Figure {
  engine: string;
  layout: 'one-directory' | 'spread';
  callers: number;
  op: string;
  entries: number;
  atollOpsPerSec: number;
  localOpsPerSec: number;
  ratio: number;
  /** CPU microseconds per operation of the three metanodes together, and of this process (the callers). */
  metanodeCpuUsPerOp: number;
  /** Read and write system calls per operation of the three metanodes together (/proc/<pid>/io). */
  metanodeSyscallsPerOp: number;
  clientCpuUsPerOp: number;
  /** How busy the machine's cores were during the atoll run (all processes, ours included), percent of all cores. */
  machineBusyPercent: number;
}

interface CpuUse {
  metanodeUsPerOp: number;
  metanodeSyscallsPerOp: number;
  clientUsPerOp: number;
  machineBusyPercent: number;
}

interface Cluster {
  readonly root: string;
  readonly children: ChildProcess[];
  readonly rpc: RpcClient;
  readonly masterClient: MasterClient;
  readonly meta: MetaClient;
  readonly partitionId: number;
  readonly metanodePids: number[];
}

async function startCluster(engine: 'memory' | 'lmdb'): Promise<Cluster> {
  const root = await mkdtemp(join(tmpdir(), `atoll-bench-meta-${engine}-`));
  const secretFile = join(root, 'cluster-secret');
  const tokenFile = join(root, 'admin-token');
  const secret = randomBytes(16).toString('hex');
  const token = randomBytes(16).toString('hex');
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const roles: Array<'master' | 'metanode' | 'datanode'> = ['master', 'metanode', 'metanode', 'metanode', 'datanode', 'datanode', 'datanode'];
  const ports = await freePorts(host, roles.length * 4);
  const master = `${host}:${ports[0]}`;
  const children: ChildProcess[] = [];
  const httpPorts: number[] = [];
  roles.forEach((role, index) => {
    const [service, http, heartbeat, replica] = ports.slice(index * 4, index * 4 + 4) as [number, number, number, number];
    httpPorts.push(http);
    const args = [atollBin, role, '--instance', `${role}-${index}`, '--host', host, '--port', String(service), '--http-port', String(http),
      '--raft-heartbeat-port', String(heartbeat), '--raft-replica-port', String(replica), '--data-dir', join(root, `${role}-${index}`),
      '--cluster-secret-file', secretFile, '--log-level', 'warn'];
    if (role === 'master') args.push('--admin-token-file', tokenFile);
    else args.push('--masters', master);
    if (role === 'metanode') args.push('--engine', engine);
    // BENCH_NODE_OPTIONS: extra node flags for the metanodes (e.g. --cpu-prof).
    const nodeOptions = role === 'metanode' && process.env.BENCH_NODE_OPTIONS !== undefined ? process.env.BENCH_NODE_OPTIONS.split(' ').filter((option) => option !== '') : [];
    children.push(spawn(process.execPath, [...nodeOptions, ...args], { stdio: ['ignore', 'ignore', role === 'datanode' ? 'ignore' : 'inherit'], cwd: process.env.BENCH_NODE_CWD }));
  });
  await waitFor('every instance ready', 60_000, async () => {
    const answers = await Promise.all(httpPorts.map((port) => fetch(`http://${host}:${port}/readyz`).then((answer) => answer.status, () => 0)));
    return answers.every((status) => status === 200) ? true : undefined;
  }, 200);
  await waitFor('the volume', 30_000, async () => {
    const reply = await httpAdmin(ports[1]!, 'POST', '/api/v1/volumes', { body: { name: 'bench', capacityBytes: 2 ** 34 }, token });
    return reply.status === 201 || reply.status === 200 ? true : undefined;
  }, 300);
  const rpc = new RpcClient({ secret, instance: 'bench-meta' });
  const masterClient = new MasterClient({ masters: [master], rpc });
  masterClient.start();
  const meta = new MetaClient({ rpc, masterClient, volume: 'bench' });
  const partitionId = (await meta.refreshView()).metaPartitions[0]!.partitionId;
  await waitFor('the root directory', 30_000, async () => (await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: 1 }), { mutation: false })).inode, 200);
  const metanodePids = children.filter((_, index) => roles[index] === 'metanode').map((child) => child.pid ?? 0);
  return { root, children, rpc, masterClient, meta, partitionId, metanodePids };
}

async function stopCluster(cluster: Cluster): Promise<void> {
  await cluster.masterClient.stop();
  await cluster.rpc.close();
  await Promise.all(cluster.children.map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  })));
  await rm(cluster.root, { recursive: true, force: true });
}

/** Runs `count` operations with `callers` in flight; returns operations per second. */
async function closedLoop(count: number, callers: number, operation: (index: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next < count) await operation(next++);
  }));
  return count / ((performance.now() - started) / 1000);
}

function nameOf(index: number): string {
  return `entry-${index.toString().padStart(7, '0')}`;
}

/** Runs `measured` and reports the CPU the metanodes, this process and the machine used meanwhile. */
async function withCpu(cluster: Cluster, operations: number, cpu: Record<string, CpuUse>, op: string, measured: () => Promise<number>): Promise<number> {
  const metanodes = async (): Promise<number> => (await Promise.all(cluster.metanodePids.map(processCpuSeconds))).reduce((sum, seconds) => sum + seconds, 0);
  const syscalls = async (): Promise<number> => (await Promise.all(cluster.metanodePids.map(processIoSyscalls))).reduce((sum, count) => sum + count, 0);
  const [metaBefore, syscallsBefore, machineBefore, clientBefore, started] = [await metanodes(), await syscalls(), await machineBusyCpuSeconds(), process.cpuUsage(), performance.now()];
  const result = await measured();
  const elapsedSeconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const [metaAfter, syscallsAfter, machineAfter] = [await metanodes(), await syscalls(), await machineBusyCpuSeconds()];
  cpu[op] = {
    metanodeUsPerOp: Math.round(((metaAfter - metaBefore) * 1e6) / operations),
    metanodeSyscallsPerOp: Number(((syscallsAfter - syscallsBefore) / operations).toFixed(2)),
    clientUsPerOp: Math.round((client.user + client.system) / operations),
    machineBusyPercent: Math.round((100 * (machineAfter - machineBefore)) / elapsedSeconds / cpus().length),
  };
  return result;
}

async function listAll(meta: Cluster['meta'], partitionId: number, parents: readonly number[], callers: number, entries: number): Promise<number> {
  const read = { mutation: false };
  let listed = 0;
  const listStarted = performance.now();
  await closedLoop(parents.length, Math.min(callers, parents.length), async (index) => {
    let after = '';
    for (let page = 0; page < 1 + entries / readdirPageEntries; page++) {
      const answer = await meta.call(MetaNode.readDir, ReadDirRequest.create({ partitionId, parentIno: parents[index]!, after, limit: readdirPageEntries, plus: true }), read);
      listed += answer.entries.length;
      if (!answer.more) break;
      after = answer.entries.at(-1)!.name;
    }
  });
  if (listed !== entries) throw new Error(`readdir listed ${listed} entries, expected ${entries}`);
  return listed / ((performance.now() - listStarted) / 1000);
}

async function runAtoll(cluster: Cluster, layout: Figure['layout'], callers: number, entries: number, cpu: Record<string, CpuUse>): Promise<Record<string, number>> {
  const { meta, partitionId } = cluster;
  const mutation = { mutation: true };
  const read = { mutation: false };
  const prefix = `${layout}-${callers}`;
  const top = (await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_DIRECTORY, mode: 0o755, parentIno: 1, name: prefix }), mutation)).inode!.ino;
  const parents = [top];
  if (layout === 'spread') {
    parents.length = 0;
    for (let index = 0; index < directoriesSpread; index++) {
      parents.push((await meta.call(MetaNode.createInode, CreateInodeRequest.create({ partitionId, type: InodeType.INODE_DIRECTORY, mode: 0o755, parentIno: top, name: `d${index}` }), mutation)).inode!.ino);
    }
  }
  const parentOf = (index: number): number => parents[index % parents.length]!;
  const inodes = new Array<number>(entries);
  const result: Record<string, number> = {};
  result.create = await withCpu(cluster, entries, cpu, 'create', () => closedLoop(entries, callers, async (index) => {
    inodes[index] = (await meta.createInode(CreateInodeRequest.create({ partitionId, type: InodeType.INODE_FILE, mode: 0o644, parentIno: parentOf(index), name: nameOf(index) }))).inode!.ino;
  }));
  if (laterOps.has('lookup')) result.lookup = await withCpu(cluster, entries, cpu, 'lookup', () => closedLoop(entries, callers, (index) => meta.call(MetaNode.lookup, LookupRequest.create({ partitionId, parentIno: parentOf(index), name: nameOf(index) }), read)));
  if (laterOps.has('stat')) result.stat = await withCpu(cluster, entries, cpu, 'stat', () => closedLoop(entries, callers, (index) => meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId, ino: inodes[index]! }), read)));
  if (laterOps.has('readdir')) result.readdir = await listAll(meta, partitionId, parents, callers, entries);
  if (laterOps.has('unlink')) result.unlink = await withCpu(cluster, entries, cpu, 'unlink', () => closedLoop(entries, callers, (index) => meta.call(MetaNode.unlink, UnlinkRequest.create({ partitionId, parentIno: parentOf(index), name: nameOf(index) }), mutation)));
  return result;
}

async function runLocal(layout: Figure['layout'], callers: number, entries: number): Promise<Record<string, number>> {
  const root = await mkdtemp(join(tmpdir(), 'atoll-bench-meta-local-'));
  try {
    const parents = layout === 'spread' ? Array.from({ length: directoriesSpread }, (_, index) => join(root, `d${index}`)) : [root];
    for (const parent of parents) await mkdir(parent, { recursive: true });
    const pathOf = (index: number): string => join(parents[index % parents.length]!, nameOf(index));
    const result: Record<string, number> = {};
    result.create = await closedLoop(entries, callers, async (index) => (await open(pathOf(index), 'wx')).close());
    if (laterOps.has('lookup')) result.lookup = await closedLoop(entries, callers, (index) => stat(pathOf(index)));
    if (laterOps.has('stat')) result.stat = await closedLoop(entries, callers, (index) => stat(pathOf(index)));
    if (laterOps.has('readdir')) {
      let listed = 0;
      const listStarted = performance.now();
      await closedLoop(parents.length, Math.min(callers, parents.length), async (index) => {
        listed += (await readdir(parents[index]!, { withFileTypes: true })).length;
      });
      result.readdir = listed / ((performance.now() - listStarted) / 1000);
    }
    if (laterOps.has('unlink')) result.unlink = await closedLoop(entries, callers, (index) => unlink(pathOf(index)));
    return result;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const figures: Figure[] = [];
  console.log(`bench:meta on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
  console.log('engine  layout         callers  op        entries   atoll ops/s   node:fs ops/s   atoll/fs  meta us/op  client us/op  busy  meta syscalls/op');
  for (const engine of engines) {
    const cluster = await startCluster(engine);
    try {
      for (const layout of layouts) {
        for (const callers of callerCounts) {
          const entries = callers === 1 ? entriesSerial : entriesParallel;
          const cpu: Record<string, CpuUse> = {};
          const atoll = await runAtoll(cluster, layout, callers, entries, cpu);
          const local = await runLocal(layout, callers, entries);
          for (const op of Object.keys(atoll)) {
            const use = cpu[op] ?? { metanodeUsPerOp: Number.NaN, metanodeSyscallsPerOp: Number.NaN, clientUsPerOp: Number.NaN, machineBusyPercent: Number.NaN };
            const figure: Figure = {
              engine, layout, callers, op, entries, atollOpsPerSec: Math.round(atoll[op]!), localOpsPerSec: Math.round(local[op]!), ratio: Number((atoll[op]! / local[op]!).toFixed(3)),
              metanodeCpuUsPerOp: use.metanodeUsPerOp, metanodeSyscallsPerOp: use.metanodeSyscallsPerOp, clientCpuUsPerOp: use.clientUsPerOp, machineBusyPercent: use.machineBusyPercent,
            };
            figures.push(figure);
            const cpuText = Number.isNaN(use.metanodeUsPerOp) ? '' : `${String(use.metanodeUsPerOp).padStart(9)} ${String(use.clientUsPerOp).padStart(9)} ${String(use.machineBusyPercent).padStart(6)}% ${use.metanodeSyscallsPerOp.toFixed(2).padStart(17)}`;
            console.log(`${engine.padEnd(7)} ${layout.padEnd(14)} ${String(callers).padStart(7)}  ${op.padEnd(8)} ${String(entries).padStart(8)} ${String(figure.atollOpsPerSec).padStart(13)} ${String(figure.localOpsPerSec).padStart(15)} ${figure.ratio.toFixed(3).padStart(10)}  ${cpuText}`);
          }
        }
      }
    } finally {
      await stopCluster(cluster);
    }
  }
  const creates64 = (engine: string) => figures.filter((figure) => figure.engine === engine && figure.op === 'create' && figure.callers === 64).map((figure) => figure.atollOpsPerSec);
  const memory = Math.max(...creates64('memory'), 0);
  const lmdb = Math.max(...creates64('lmdb'), 0);
  console.log(JSON.stringify({ bench: 'meta', entriesParallel, entriesSerial, createsPerSec64Memory: memory, createsPerSec64Lmdb: lmdb, lmdbToMemory: memory === 0 ? null : Number((lmdb / memory).toFixed(3)), figures }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
