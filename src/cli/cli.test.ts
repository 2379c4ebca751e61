// The atoll program as a user runs it: separate processes, real ports, real signals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const atoll = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));
const secret = 'cli-test-secret-0123456789abcdef';

function run(args: string[], timeoutMs = 20_000) {
  return spawnSync(process.execPath, [atoll, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

const zeroPorts = ['--port', '0', '--http-port', '0', '--raft-heartbeat-port', '0', '--raft-replica-port', '0'];

test('atoll --help lists the roles and commands', () => {
  const result = run(['--help']);
  assert.equal(result.status, 0);
  for (const command of ['master', 'metanode', 'datanode', 'start', 'stop']) assert.match(result.stdout, new RegExp(`\\n  ${command} `));
  const none = run([]);
  assert.equal(none.status, 1, 'no command is a usage error');
  assert.equal(run(['frobnicate']).status, 1);
});

test('atoll <role> --help describes the role flags', () => {
  const result = run(['datanode', '--help']);
  assert.equal(result.status, 0);
  for (const flag of ['--port', '--http-port', '--raft-heartbeat-port', '--raft-replica-port', '--data-dir', '--masters', '--disks']) assert.ok(result.stdout.includes(flag), flag);
});

test('a bad flag is a usage error naming the key', () => {
  const result = run(['metanode', '--http-port', 'abc']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /http-port: must be an integer from 0 to 65535, got "abc"/);
});

test('a taken port fails at once (exit 3) with a message naming the port', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atoll-cli-'));
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const taken = (squatter.address() as { port: number }).port;
  try {
    const started = Date.now();
    const result = run(['master', '--data-dir', dataDir, '--cluster-secret', secret, '--port', '0', '--http-port', String(taken), '--raft-heartbeat-port', '0', '--raft-replica-port', '0']);
    assert.equal(result.status, 3, result.stderr);
    assert.match(result.stderr, new RegExp(`port ${taken} \\(http-port, .*\\) is already in use`));
    assert.ok(Date.now() - started < 10_000);
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a locked data directory fails at once (exit 3) naming the directory; SIGTERM stops the holder cleanly', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atoll-cli-'));
  const holder = spawn(process.execPath, [atoll, 'metanode', '--data-dir', dataDir, '--cluster-secret', secret, '-p', '127.0.0.1:1', ...zeroPorts], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  holder.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    const deadline = Date.now() + 15_000;
    while (!log.includes('instance listening')) {
      assert.ok(Date.now() < deadline, `holder did not start: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = run(['metanode', '--data-dir', dataDir, '--cluster-secret', secret, '-p', '127.0.0.1:1', ...zeroPorts]);
    assert.equal(result.status, 3);
    assert.ok(result.stderr.includes(`data directory ${dataDir} is locked by another instance (pid ${holder.pid}`), result.stderr);
  } finally {
    holder.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => holder.once('exit', resolve));
    assert.equal(code, 0, 'graceful exit on SIGTERM');
    assert.match(log, /instance stopped/);
    await rm(dataDir, { recursive: true, force: true });
  }
});
