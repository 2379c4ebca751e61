// `atoll fs` and `atoll trash` as a user runs them: separate CLI processes against a real
// cluster (one master, three metanodes, three datanodes), a file copied in and out and
// compared, listings in text and JSON, errors with their exit codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCluster } from '../launcher/testing/test-cluster.js';

const atoll = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('atoll fs and atoll trash', { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let work: string;
  let connection: string[];

  const run = (args: readonly string[], timeoutMs = 60_000): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [atoll, ...args, ...connection], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', reject);
      child.once('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });

  before(async () => {
    cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
    await cluster.createVolume('files');
    work = await mkdtemp(join(tmpdir(), 'atoll-fs-cli-'));
    connection = ['-p', cluster.masterAddresses()[0]!, '--cluster-secret-file', cluster.plan.secretFile, '--volume', 'files'];
  });

  after(async () => {
    await cluster?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  test('put, get, cat, ls, stat, mkdir, mv, ln, rm and df', async () => {
    const local = join(work, 'in.bin');
    const content = randomBytes(3 * 1024 * 1024 + 5);
    await writeFile(local, content);
    assert.equal((await run(['fs', 'mkdir', '/deep/er', '-r'])).status, 0);
    const put = await run(['fs', 'put', local, '/deep/er/file.bin']);
    assert.equal(put.status, 0, put.stderr);
    const copy = join(work, 'out.bin');
    assert.equal((await run(['fs', 'get', '/deep/er/file.bin', copy])).status, 0);
    assert.ok((await readFile(copy)).equals(content), 'the file comes back byte for byte');

    await writeFile(join(work, 'note.txt'), 'a note\n');
    await run(['fs', 'put', join(work, 'note.txt'), '/note.txt']);
    const cat = await run(['fs', 'cat', '/note.txt']);
    assert.equal(cat.stdout, 'a note\n');

    assert.equal((await run(['fs', 'ln', '/note.txt', '/note-hard'])).status, 0);
    assert.equal((await run(['fs', 'ln', '-s', 'note.txt', '/note-soft'])).status, 0);
    const listing = JSON.parse((await run(['fs', 'ls', '/', '--json'])).stdout) as Array<{ name: string; type: string; nlink: number; size: number }>;
    assert.deepEqual(listing.map((entry) => [entry.name, entry.type]), [['deep', 'directory'], ['note-hard', 'file'], ['note-soft', 'symlink'], ['note.txt', 'file']]);
    assert.equal(listing.find((entry) => entry.name === 'note.txt')!.nlink, 2);
    const text = await run(['fs', 'ls', '/deep/er']);
    assert.match(text.stdout, /-rw-r--r--\s+1\s+\d+\s+\d+\s+3145733\s+\S+ \S+\s+file\.bin/);
    const stat = await run(['fs', 'stat', '/note-soft']);
    assert.match(stat.stdout, /-> note\.txt/);
    assert.match(stat.stdout, /type +symlink/);

    assert.equal((await run(['fs', 'mv', '/note.txt', '/deep/moved.txt'])).status, 0);
    assert.equal((await run(['fs', 'cat', '/deep/moved.txt'])).stdout, 'a note\n');

    const notEmpty = await run(['fs', 'rm', '/deep']);
    assert.equal(notEmpty.status, 1);
    assert.match(notEmpty.stderr, /ENOTEMPTY/);
    assert.equal((await run(['fs', 'rm', '-r', '/deep'])).status, 0);
    const missing = await run(['fs', 'cat', '/deep/moved.txt']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /ENOENT/);
    assert.equal((await run(['fs', 'rm', '-f', '/deep'])).status, 0);

    const df = JSON.parse((await run(['fs', 'df', '--json'])).stdout) as { capacityBytes: number; usedBytes: number; volume: string };
    assert.equal(df.volume, 'files');
    assert.ok(df.capacityBytes > 0);
    assert.match((await run(['fs', 'df'])).stdout, /^VOLUME +SIZE +USED +AVAILABLE +USE% +FILES\nfiles /);

    const usage = await run(['fs', 'put', local]);
    assert.equal(usage.status, 1);
    assert.match(usage.stderr, /missing <path>/);
  });

  test('trash list and restore', async () => {
    assert.equal((await cluster.admin('PATCH', '/api/v1/volumes/files', { trashRetentionHours: 2 })).status, 200);
    await writeFile(join(work, 'keep.txt'), 'keep');
    let entries: Array<{ name: string; originalName: string }> = [];
    // The metanodes learn the retention from the masters within a few seconds.
    for (let attempt = 0; attempt < 60 && entries.length === 0; attempt++) {
      await run(['fs', 'put', join(work, 'keep.txt'), '/keep.txt']);
      await run(['fs', 'rm', '/keep.txt']);
      entries = JSON.parse((await run(['trash', 'list', '--json'])).stdout) as typeof entries;
      if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const entry = entries.find((candidate) => candidate.originalName === 'keep.txt');
    assert.ok(entry !== undefined, 'the removed file is in the trash');
    assert.match((await run(['trash', 'list'])).stdout, /keep\.txt/);
    assert.equal((await run(['trash', 'restore', entry.name, '--to', '/restored.txt'])).status, 0);
    assert.equal((await run(['fs', 'cat', '/restored.txt'])).stdout, 'keep');

    await run(['fs', 'rm', '/restored.txt']);
    assert.equal((await run(['trash', 'purge'])).status, 1, 'purge wants --yes');
    const purge = await run(['trash', 'purge', '--yes', '--json']);
    assert.equal(purge.status, 0, purge.stderr);
    assert.ok((JSON.parse(purge.stdout) as { purged: number }).purged >= 1);
    assert.deepEqual(JSON.parse((await run(['trash', 'list', '--json'])).stdout), []);
  });
});
