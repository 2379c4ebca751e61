import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DataDirLockedError, acquireDataDirLock } from './data-dir-lock.js';

const root = mkdtempSync(join(tmpdir(), 'atoll-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
let directoryCount = 0;
function freshDirectory(): string {
  return join(root, `dir-${++directoryCount}`);
}

/** A pid that certainly belonged to a process which has exited. */
function deadPid(): number {
  const finished = spawnSync(process.execPath, ['-e', '']);
  assert.ok(finished.pid !== undefined && finished.status === 0);
  return finished.pid;
}

function writeLock(dir: string, holder: { pid: number; hostname: string; startedAt: string }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'LOCK'), JSON.stringify(holder));
}

function lockFileOf(dir: string): { pid: number; hostname: string; startedAt: string } {
  return JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8'));
}

// ---------------------------------------------------------------- a second process holding locks

interface LockResult {
  readonly ok: boolean;
  readonly problem?: string;
  readonly message?: string;
}

/**
 * Another node process that acquires the lock (after "go" on stdin when asked to wait),
 * prints the outcome as one JSON line, and holds the lock until its stdin closes.
 */
const holderScript = `
import { createInterface } from 'node:readline';
const [modulePath, dir, waitForGo] = process.argv.slice(1);
const { acquireDataDirLock } = await import(modulePath);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
if (waitForGo === 'wait') {
  console.log('ready');
  await lines.next();
}
let lock;
try {
  lock = await acquireDataDirLock(dir);
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, problem: error.problem, message: error.message }));
}
while (!(await lines.next()).done) {}
await lock?.release();
`;

class HolderProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private readonly exited: Promise<void>;
  private stderr = '';

  constructor(dir: string, waitForGo: boolean) {
    const modulePath = new URL('./data-dir-lock.js', import.meta.url).href;
    this.child = spawn(process.execPath, ['--input-type=module', '-e', holderScript, modulePath, dir, waitForGo ? 'wait' : 'now']);
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.exited = new Promise((resolvePromise) => this.child.once('exit', () => resolvePromise()));
  }

  async nextLine(): Promise<string> {
    const next = await this.lines.next();
    assert.ok(!next.done, `holder process ${this.child.pid} ended early: ${this.stderr}`);
    return next.value;
  }

  async result(): Promise<LockResult> {
    return JSON.parse(await this.nextLine()) as LockResult;
  }

  go(): void {
    this.child.stdin.write('go\n');
  }

  /** Lets it release the lock and exit normally. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
  }

  /** Kills it without a chance to release: leaves a stale lock. */
  async crash(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

// ---------------------------------------------------------------- tests

test('acquiring creates the directory and a LOCK naming this process; release removes it', async () => {
  const dir = join(freshDirectory(), 'nested', 'data');
  const lock = await acquireDataDirLock(dir);
  assert.equal(lock.path, join(dir, 'LOCK'));
  const contents = lockFileOf(dir);
  assert.equal(contents.pid, process.pid);
  assert.equal(contents.hostname, hostname());
  assert.ok(!Number.isNaN(Date.parse(contents.startedAt)));
  assert.deepEqual(readdirSync(dir), ['LOCK'], 'no temp files are left behind');
  await lock.release();
  assert.equal(existsSync(join(dir, 'LOCK')), false);
  await lock.release(); // twice is harmless
});

test('a lock held by this process refuses a second acquisition', async () => {
  const dir = freshDirectory();
  const lock = await acquireDataDirLock(dir);
  try {
    await assert.rejects(acquireDataDirLock(dir), (error: unknown) => {
      assert.ok(error instanceof DataDirLockedError);
      assert.equal(error.problem, 'held');
      assert.equal(error.holder?.pid, process.pid);
      return true;
    });
  } finally {
    await lock.release();
  }
});

test('a lock held by another live process is refused with its pid; after it crashes the lock is taken over', { timeout: 30_000 }, async () => {
  const dir = freshDirectory();
  const holder = new HolderProcess(dir, false);
  try {
    assert.deepEqual(await holder.result(), { ok: true });
    const pid = holder.child.pid!;
    const since = lockFileOf(dir).startedAt;
    await assert.rejects(acquireDataDirLock(dir), {
      name: 'DataDirLockedError',
      message: `data directory ${dir} is locked by another instance (pid ${pid}, since ${since}): stop it or choose another --data-dir`,
    });
    await holder.crash();
    assert.equal(lockFileOf(dir).pid, pid, 'the crashed holder left its lock behind');
    const lock = await acquireDataDirLock(dir);
    assert.equal(lockFileOf(dir).pid, process.pid);
    await lock.release();
  } finally {
    await holder.crash();
  }
});

test('a lock released by another process can be acquired', { timeout: 30_000 }, async () => {
  const dir = freshDirectory();
  const holder = new HolderProcess(dir, false);
  assert.deepEqual(await holder.result(), { ok: true });
  await holder.stop();
  assert.equal(existsSync(join(dir, 'LOCK')), false);
  const lock = await acquireDataDirLock(dir);
  await lock.release();
});

test('a stale lock file of a dead pid is taken over', async () => {
  const dir = freshDirectory();
  writeLock(dir, { pid: deadPid(), hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z' });
  const lock = await acquireDataDirLock(dir);
  assert.equal(lockFileOf(dir).pid, process.pid);
  assert.deepEqual(readdirSync(dir), ['LOCK']);
  await lock.release();
});

test('an unreadable lock file (an empty one after a power cut) is taken over', async () => {
  const dir = freshDirectory();
  mkdirSync(dir);
  writeFileSync(join(dir, 'LOCK'), '');
  const lock = await acquireDataDirLock(dir);
  assert.equal(lockFileOf(dir).pid, process.pid);
  await lock.release();
});

test('a lock from another host is refused, since its pid cannot be checked', async () => {
  const dir = freshDirectory();
  writeLock(dir, { pid: deadPid(), hostname: `not-${hostname()}`, startedAt: '2020-01-01T00:00:00.000Z' });
  await assert.rejects(acquireDataDirLock(dir), (error: unknown) => {
    assert.ok(error instanceof DataDirLockedError);
    assert.equal(error.problem, 'held-on-other-host');
    assert.match(error.message, new RegExp(`locked by an instance on host not-${hostname()} .*remove ${join(dir, 'LOCK')}`));
    return true;
  });
});

test('a takeover abandoned by a dead process is refused with the file to remove', async () => {
  const dir = freshDirectory();
  const dead = deadPid();
  writeLock(dir, { pid: dead, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z' });
  writeFileSync(join(dir, 'LOCK.takeover'), JSON.stringify({ pid: dead, hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
  await assert.rejects(acquireDataDirLock(dir), {
    name: 'DataDirLockedError',
    message: `data directory ${dir} has ${join(dir, 'LOCK.takeover')} left by pid ${dead}, which is no longer running, while it took over a stale lock: make sure no instance uses the directory, then remove that file`,
  });
});

test('release leaves a LOCK that is no longer ours', async () => {
  const dir = freshDirectory();
  const lock = await acquireDataDirLock(dir);
  const other = { pid: deadPid(), hostname: hostname(), startedAt: new Date().toISOString() };
  writeLock(dir, other); // as if an operator had replaced it
  await lock.release();
  assert.deepEqual(lockFileOf(dir), other);
});

test('of several processes racing to take over one stale lock, exactly one wins', { timeout: 60_000 }, async () => {
  const contenders = 5;
  for (let round = 0; round < 3; round++) {
    const dir = freshDirectory();
    writeLock(dir, { pid: deadPid(), hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z' });
    const holders = Array.from({ length: contenders }, () => new HolderProcess(dir, true));
    try {
      // Start them together: each has loaded the module and waits for "go".
      for (const holder of holders) assert.equal(await holder.nextLine(), 'ready');
      for (const holder of holders) holder.go();
      const results = await Promise.all(holders.map((holder) => holder.result()));
      const winners = results.filter((result) => result.ok);
      assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(results)}`);
      for (const loser of results.filter((result) => !result.ok)) {
        assert.ok(loser.problem === 'held' || loser.problem === 'takeover-in-progress', JSON.stringify(loser));
      }
      const winner = holders[results.findIndex((result) => result.ok)];
      assert.equal(lockFileOf(dir).pid, winner.child.pid);
      assert.deepEqual(readdirSync(dir), ['LOCK'], 'no takeover or temp files are left behind');
    } finally {
      await Promise.all(holders.map((holder) => holder.stop()));
    }
    assert.equal(existsSync(join(dir, 'LOCK')), false, 'the winner released its lock');
  }
});
