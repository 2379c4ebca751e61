// Two configs meant for one host: the offline check (`atoll config check`) and the
// refusal at start, both naming the two instances. Real processes, real ports, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../launcher/index.js';
import { parseConfigFileArgument } from './config-command.js';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const atoll = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));

function run(args: string[], cwd?: string) {
  return spawnSync(process.execPath, [atoll, ...args], { encoding: 'utf8', timeout: 30_000, cwd });
}

interface MetanodeFile {
  readonly name: string;
  /** File name without .toml; the instance name if not given. */
  readonly fileName?: string;
  readonly ports: readonly number[];
  readonly dataDir: string;
}

async function writeMetanodeConfig(dir: string, file: MetanodeFile): Promise<string> {
  const path = join(dir, `${file.fileName ?? file.name}.toml`);
  const [port, httpPort, heartbeat, replica] = file.ports;
  await writeFile(path, [
    `instance = "${file.name}"`,
    `port = ${port}`,
    `http-port = ${httpPort}`,
    `raft-heartbeat-port = ${heartbeat}`,
    `raft-replica-port = ${replica}`,
    `data-dir = "${file.dataDir}"`,
    'masters = ["127.0.0.1:1"]',
    'cluster-secret-file = "cluster.secret"',
    '',
  ].join('\n'));
  return path;
}

async function startMetanode(configPath: string): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(process.execPath, [atoll, 'metanode', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const deadline = Date.now() + 20_000;
  while (!log.includes('instance listening')) {
    assert.ok(Date.now() < deadline && child.exitCode === null, `metanode did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { child, log: () => log };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

test('the role of a config file comes from a prefix or from its name', () => {
  assert.deepEqual(parseConfigFileArgument('datanode:/etc/atoll/a.toml'), { role: 'datanode', file: '/etc/atoll/a.toml' });
  assert.deepEqual(parseConfigFileArgument('/etc/atoll/metanode-2.toml'), { role: 'metanode', file: '/etc/atoll/metanode-2.toml' });
  assert.match(parseConfigFileArgument('/etc/atoll/node.toml') as string, /cannot tell the role of \/etc\/atoll\/node\.toml/);
});

test('atoll config check: configs that fit one host pass (exit 0); a shared port, data dir and name are reported naming both files (exit 2)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-config-check-'));
  try {
    await writeFile(join(dir, 'cluster.secret'), 'config-check-secret-0123456789abcdef\n');
    const one = await writeMetanodeConfig(dir, { name: 'metanode-1', ports: [17210, 17220, 17230, 17240], dataDir: 'data/metanode-1' });
    const two = await writeMetanodeConfig(dir, { name: 'metanode-2', ports: [17211, 17221, 17231, 17241], dataDir: 'data/metanode-2' });
    const fine = run(['config', 'check', one, two]);
    assert.equal(fine.status, 0, fine.stdout + fine.stderr);
    assert.match(fine.stdout, /2 instances fit one host/);

    const renamed = await writeMetanodeConfig(dir, { name: 'metanode-1', fileName: 'metanode-3', ports: [17212, 17222, 17231, 17242], dataDir: 'data/metanode-1' });
    const bad = run(['config', 'check', '--json', one, two, renamed]);
    assert.equal(bad.status, 2, bad.stderr);
    const report = JSON.parse(bad.stdout) as { instances: unknown[]; problems: Array<{ kind: string; files: string[]; message: string }> };
    assert.equal(report.instances.length, 3);
    const byKind = (kind: string) => report.problems.filter((problem) => problem.kind === kind);
    assert.deepEqual(byKind('instance-name').map((problem) => problem.files), [[one, renamed]]);
    assert.deepEqual(byKind('directory').map((problem) => problem.files), [[one, renamed]]);
    assert.deepEqual(byKind('port').map((problem) => problem.files), [[two, renamed]]);
    assert.ok(byKind('port')[0]!.message.includes(`port 17231 is raft-heartbeat-port of metanode-2 (metanode, ${two}) and raft-heartbeat-port of metanode-1 (metanode, ${renamed})`), byKind('port')[0]!.message);

    const broken = join(dir, 'datanode-1.toml');
    await writeFile(broken, 'http-port = "abc"\n');
    const unloadable = run(['config', 'check', one, broken]);
    assert.equal(unloadable.status, 2);
    assert.match(unloadable.stdout, /datanode-1\.toml \(datanode\): config: http-port: must be an integer/);
    assert.equal(run(['config', 'check']).status, 1, 'no file is a usage error');
    assert.equal(run(['config', 'check', join(dir, 'node.toml')]).status, 1, 'a role that cannot be told is a usage error');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a second instance on a taken port or a locked data dir is refused naming both instances and their config files', { timeout: 90_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-config-clash-'));
  let first: ChildProcess | undefined;
  try {
    await writeFile(join(dir, 'cluster.secret'), 'config-clash-secret-0123456789abcdef\n');
    const ports = await freePorts('127.0.0.1', 7);
    const firstConfig = await writeMetanodeConfig(dir, { name: 'metanode-a', ports: ports.slice(0, 4), dataDir: 'data/a' });
    // Shares only the Raft heartbeat port with the first.
    const portClash = await writeMetanodeConfig(dir, { name: 'metanode-b', ports: [ports[4]!, ports[5]!, ports[2]!, ports[6]!], dataDir: 'data/b' });
    // Shares only the data directory (all ports 0).
    const dirClash = await writeMetanodeConfig(dir, { name: 'metanode-c', ports: [0, 0, 0, 0], dataDir: 'data/a' });
    const started = await startMetanode(firstConfig);
    first = started.child;

    const refusedPort = run(['metanode', '--config', portClash]);
    assert.equal(refusedPort.status, 3, refusedPort.stderr);
    assert.ok(
      refusedPort.stderr.includes(
        `port ${ports[2]} (raft-heartbeat-port, Raft heartbeats) of metanode-b (metanode, config ${portClash}) is already in use on 127.0.0.1 by instance metanode-a (metanode, config ${firstConfig}; pid ${first.pid}): stop it or choose another --raft-heartbeat-port`,
      ),
      refusedPort.stderr,
    );

    const refusedDir = run(['metanode', '--config', dirClash]);
    assert.equal(refusedDir.status, 3, refusedDir.stderr);
    assert.ok(
      new RegExp(
        `data directory ${escape(join(dir, 'data/a'))} is locked by another instance \\(pid ${first.pid}, since [^,]+, instance metanode-a \\(metanode, config ${escape(firstConfig)}\\)\\): ` +
          `stop it or choose another --data-dir for metanode-c \\(metanode, config ${escape(dirClash)}\\)`,
      ).test(refusedDir.stderr),
      refusedDir.stderr,
    );
  } finally {
    if (first !== undefined) await stopProcess(first);
    await rm(dir, { recursive: true, force: true });
  }
});
