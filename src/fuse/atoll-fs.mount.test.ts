// AtollFS on a real FUSE mount: a real cluster (three masters, three metanodes, four
// datanodes, separate processes), `atoll mount` in its own process, and the mount driven
// from a shell as users do: file operations, permissions as another uid, xattrs, an
// unlinked open file, git, tar; a seeded random read/write workload compared byte for
// byte with a local directory, also after a remount; and the same workload while the
// master leader, a metanode and a datanode are killed in turn.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { AtollMount } from './testing/atoll-mount.js';
import { fuseSuiteOptions } from './testing/fuse-available.js';

const shellTimeoutMs = 120_000;

function shell(script: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd, timeout: shellTimeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${script}\nfailed: ${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** xorshift32: a seeded stream of numbers, so a failing run can be repeated. */
function seeded(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

/** Random writes, overwrites, truncates and reads on the same files in two directories; compares at every read. */
async function randomWorkload(mountDir: string, localDir: string, seed: number, steps: number): Promise<void> {
  const next = seeded(seed);
  const files = ['f0', 'f1', 'f2', 'f3'];
  for (let step = 0; step < steps; step++) {
    const name = files[next(files.length)]!;
    const action = next(10);
    const paths = [join(mountDir, name), join(localDir, name)];
    if (action < 5) {
      const size = 1 + next(next(4) === 0 ? 3 * 1024 * 1024 : 70_000);
      const current = await stat(paths[1]!).then((stats) => stats.size, () => 0);
      const position = next(current + 200_000);
      const bytes = Buffer.alloc(size);
      const salt = next(256);
      for (let index = 0; index < size; index++) bytes[index] = (salt + index * 7 + (index >>> 12)) & 0xff;
      for (const path of paths) {
        const handle = await open(path, 'a+').then(async (created) => (await created.close(), open(path, 'r+')));
        try {
          await handle.write(bytes, 0, size, position);
        } finally {
          await handle.close();
        }
      }
    } else if (action < 7) {
      const current = await stat(paths[1]!).then((stats) => stats.size, () => -1);
      if (current < 0) continue;
      const size = next(current + 100_000);
      for (const path of paths) {
        const handle = await open(path, 'r+');
        try {
          await handle.truncate(size);
        } finally {
          await handle.close();
        }
      }
    } else {
      const [atoll, local] = await Promise.all(paths.map((path) => readFile(path).catch(() => null)));
      assert.equal(atoll === null, local === null, `seed ${seed} step ${step}: ${name} exists on one side only`);
      if (atoll !== null && local !== null) {
        assert.equal(atoll.byteLength, local.byteLength, `seed ${seed} step ${step}: ${name} sizes differ`);
        assert.ok(atoll.equals(local), `seed ${seed} step ${step}: ${name} contents differ`);
      }
    }
  }
}

async function compareDirectories(mountDir: string, localDir: string, label: string): Promise<void> {
  for (const name of ['f0', 'f1', 'f2', 'f3']) {
    const [atoll, local] = await Promise.all([readFile(join(mountDir, name)).catch(() => null), readFile(join(localDir, name)).catch(() => null)]);
    assert.equal(atoll === null, local === null, `${label}: ${name} exists on one side only`);
    if (atoll !== null && local !== null) assert.ok(atoll.equals(local), `${label}: ${name} differs (${atoll.byteLength} vs ${local.byteLength} bytes)`);
  }
}

describe('AtollFS on a real FUSE mount', { ...fuseSuiteOptions('AtollFS on a real FUSE mount'), timeout: 900_000 }, () => {
  let cluster: TestCluster;
  let root: string;
  let mountPoint: string;
  let mounted: AtollMount | undefined;
  let connection: string[];
  const sh = (script: string): Promise<string> => shell(script, mountPoint);

  before(async () => {
    cluster = await TestCluster.start({ masters: 3, metanodes: 3, datanodes: 4, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
    await cluster.createVolume('mounted', { capacityBytes: 50 * 1024 ** 3 });
    root = await mkdtemp(join(tmpdir(), 'atoll-mount-'));
    mountPoint = join(root, 'mnt');
    await mkdir(mountPoint);
    connection = [...cluster.masterAddresses().flatMap((address) => ['-p', address]), '--cluster-secret-file', cluster.plan.secretFile];
    mounted = await AtollMount.start('mounted', mountPoint, connection);
  });

  after(async () => {
    await mounted?.stop();
    await cluster?.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  test('files from a shell: write, read, append, overwrite in the middle, truncate up and down, rename over a file', async () => {
    await sh('printf hello > a.txt && printf " world" >> a.txt');
    assert.equal(await sh('cat a.txt'), 'hello world');
    await sh('printf HELLO | dd of=a.txt bs=1 seek=0 conv=notrunc status=none');
    assert.equal(await sh('cat a.txt'), 'HELLO world');
    await sh('printf XY | dd of=a.txt bs=1 seek=4 conv=notrunc status=none');
    assert.equal(await sh('cat a.txt'), 'HELLXYworld');
    await sh('truncate -s 4 a.txt');
    assert.equal(await sh('cat a.txt'), 'HELL');
    await sh('truncate -s 8 a.txt');
    assert.equal(await sh('od -An -c a.txt | tr -s " "'), ' H E L L \\0 \\0 \\0 \\0\n');
    await sh('head -c 5000000 /dev/urandom > ../big.bin && cp ../big.bin big.bin && cmp ../big.bin big.bin');
    await sh('printf new > b.txt && mv b.txt a.txt');
    assert.equal(await sh('cat a.txt; ls'), 'newa.txt\nbig.bin\n');
    assert.match(await sh('df -k . | tail -1'), /^atoll:mounted\s+52428800\s/);
  });

  test('directories, hard links and nlink, symlinks, rmdir of a non-empty directory', async () => {
    await sh('mkdir -p d/e/f && echo x > d/e/file');
    assert.equal(await sh('stat -c %h d'), '3\n');
    await assert.rejects(sh('rmdir d/e'), /Directory not empty/);
    await sh('ln d/e/file d/hard && ln -s e/file d/soft');
    assert.equal(await sh('stat -c %h d/hard'), '2\n');
    assert.equal(await sh('cat d/soft; readlink d/soft'), 'x\ne/file\n');
    await sh('rm d/e/file');
    // Under fuse-native each name is its own kernel inode: the other name's attributes
    // refresh within the 1 s attribute timeout (the kernel session shares one inode).
    await sh('sleep 1.2');
    assert.equal(await sh('stat -c %h d/hard; cat d/hard'), '1\nx\n');
    await sh('rm -r d');
    assert.equal(await sh('ls'), 'a.txt\nbig.bin\n');
  });

  test('chmod, another uid refused, chown, xattrs', async () => {
    await sh('echo secret > private && chmod 600 private && mkdir shared && chmod 777 shared');
    assert.equal(await sh('stat -c %a private'), '600\n');
    await assert.rejects(sh('setpriv --reuid 65534 --regid 65534 --clear-groups cat private'), /Permission denied/);
    assert.equal(await sh('setpriv --reuid 65534 --regid 65534 --clear-groups sh -c "echo mine > shared/theirs && cat shared/theirs"'), 'mine\n');
    await sh('chown 65534:65534 private');
    assert.equal(await sh('setpriv --reuid 65534 --regid 65534 --clear-groups cat private'), 'secret\n');
    assert.equal(
      await sh(`python3 -c "
import os
os.setxattr('private', 'user.color', b'blue')
print(os.getxattr('private', 'user.color').decode(), os.listxattr('private'))
os.removexattr('private', 'user.color')
try:
    os.getxattr('private', 'user.color')
except OSError as error:
    print(error.errno == 61)
"`),
      "blue ['user.color']\nTrue\n",
    );
  });

  test('an unlinked open file stays readable through its descriptor', async () => {
    assert.equal(await sh('echo still-here > gone && exec 3< gone && rm gone && ls && cat <&3'), 'a.txt\nbig.bin\nprivate\nshared\nstill-here\n');
    if (!/\(kernel session: /.test(mounted!.output)) return;
    // fstat right after the unlink says nlink 0; fchmod and futimens of an unlinked open
    // file (the kernel session goes by its handle).
    assert.equal(
      await sh(`python3 -c "
import os
fd = os.open('unlinked', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'data')
os.unlink('unlinked')
print(os.fstat(fd).st_nlink)
os.fchmod(fd, 0o600)
print(oct(os.fstat(fd).st_mode & 0o7777))
os.utime(fd, ns=(1_000_000_000_000_000_001, 2_000_000_000_000_000_002))
st = os.fstat(fd)
print(oct(st.st_mode & 0o7777), st.st_mtime_ns, st.st_nlink, os.pread(fd, 4, 0).decode())
"`),
      '0\n0o600\n0o600 2000000000000000002 0 data\n',
    );
  });

  test('git init and commit, tar create and extract with checksums', async () => {
    await sh('mkdir repo && cd repo && git init -q && git config user.email t@example.com && git config user.name test && seq 1 1000 > numbers && git add numbers && git commit -q -m first && seq 1 10 >> numbers && git commit -qam second');
    assert.equal(await sh('cd repo && git log --oneline | wc -l && git status --porcelain | wc -l'), '2\n0\n');
    assert.equal(await sh('cd repo && git fsck --no-progress 2>&1 | grep -c . || true'), '0\n');
    await sh('mkdir -p src/a src/b && head -c 300000 /dev/urandom > src/a/one && seq 1 50000 > src/b/two && ln -s ../a/one src/b/link');
    const sums = await sh('cd src && find . -type f | sort | xargs sha256sum');
    await sh('tar cf ../archive.tar src && mkdir out && tar xf ../archive.tar -C out');
    assert.equal(await sh('cd out/src && find . -type f | sort | xargs sha256sum'), sums);
    assert.equal(await sh('readlink out/src/b/link'), '../a/one\n');
    await sh('tar xf ../archive.tar -C .. && cd ../src && find . -type f | sort | xargs sha256sum > ../local.sums');
    assert.equal(await readFile(join(root, 'local.sums'), 'utf8'), sums, 'the archive made on the mount extracts identically on a local disk');
  });

  test('times, owners and inodes as on a local disk: one time at a time, nanoseconds kept by cp -p and tar x, the creator owns, hard links are one inode', async (t) => {
    // fuse-native (the fallback when not root) loses all of this (src/fuse/README.md).
    if (!/\(kernel session: /.test(mounted!.output)) {
      const message = `the mount is not served by the kernel session (root needed): ${mounted!.output}`;
      if (process.env.CI === 'true') assert.fail(message);
      return t.skip(message);
    }
    const utc = (script: string) => sh(`export TZ=UTC; ${script}`);
    await utc("mkdir times && cd times && echo a > f && touch -d '2001-02-03 04:05:06.123456789' f && touch -a -d '2010-01-01 00:00:00.5' f");
    assert.equal(await utc("stat -c '%x|%y' times/f"), '2010-01-01 00:00:00.500000000 +0000|2001-02-03 04:05:06.123456789 +0000\n');
    await utc("touch -m -d '2002-02-02 02:02:02.000000002' times/f");
    assert.equal(await utc("stat -c '%x|%y' times/f"), '2010-01-01 00:00:00.500000000 +0000|2002-02-02 02:02:02.000000002 +0000\n');
    await utc('cp -p times/f times/copy');
    assert.equal(await utc("stat -c '%y' times/copy"), '2002-02-02 02:02:02.000000002 +0000\n');

    // A tree with nanosecond times on the local disk, through tar (pax keeps them) onto the mount.
    const local = join(root, 'times-local');
    await shell(`export TZ=UTC; mkdir -p ${local}/tree/sub && cd ${local} && echo one > tree/one && echo two > tree/sub/two && touch -d '2003-03-03 03:03:03.333333333' tree/one && touch -d '2004-04-04 04:04:04.444444444' tree/sub/two tree/sub && tar --format=posix -cf ../times.tar tree`, root);
    await utc(`mkdir times/x && tar xf ${join(root, 'times.tar')} -C times/x`);
    const listing = "(find tree -type d -printf '%p %T@\\n'; find tree -type f -printf '%p %T@ %s\\n') | sort";
    assert.equal(await utc(`cd times/x && ${listing}`), await shell(`cd ${local} && ${listing}`, root));

    await utc('mkdir times/open && chmod 777 times/open');
    await sh('setpriv --reuid 65534 --regid 65534 --clear-groups sh -c "echo mine > times/open/made && mkdir times/open/dir && ln -s made times/open/link"');
    assert.equal(await sh("stat -c '%u:%g' times/open/made times/open/dir && stat -c '%u:%g' times/open/link"), '65534:65534\n65534:65534\n65534:65534\n');

    await sh('ln times/f times/hard');
    assert.equal(await sh("stat -c '%i %h' times/f times/hard | uniq | wc -l; stat -c %h times/f"), '1\n2\n');
    await sh('rm times/hard');
    assert.equal(await sh('stat -c %h times/f'), '1\n', 'the other name\'s nlink is right at once, not after the attribute timeout');
    await sh('rm -r times');
  });

  test('a seeded random workload matches a local directory byte for byte, also after a remount', async () => {
    const seed = Number(process.env.ATOLL_TEST_SEED ?? randomInt(1, 2 ** 31 - 1));
    process.stdout.write(`# random workload seed ${seed} (ATOLL_TEST_SEED=${seed} repeats it)\n`);
    const mountDir = join(mountPoint, 'random');
    const localDir = join(root, 'random-local');
    await mkdir(mountDir);
    await mkdir(localDir);
    await randomWorkload(mountDir, localDir, seed, 250);
    await compareDirectories(mountDir, localDir, `seed ${seed}, before the remount`);
    assert.equal(await mounted!.stop(), 0, `a clean unmount on SIGTERM:\n${mounted!.output}`);
    mounted = await AtollMount.start('mounted', mountPoint, connection);
    await compareDirectories(mountDir, localDir, `seed ${seed}, after the remount`);
  });

  test('the workload finishes while the master leader, a metanode and a datanode are killed in turn', async () => {
    const seed = Number(process.env.ATOLL_TEST_SEED ?? randomInt(1, 2 ** 31 - 1));
    process.stdout.write(`# failure workload seed ${seed}\n`);
    const mountDir = join(mountPoint, 'failures');
    const localDir = join(root, 'failures-local');
    await mkdir(mountDir);
    await mkdir(localDir);
    let stop = false;
    let rounds = 0;
    // A failed operation ends the workload and the kills at once (and fails the test when
    // the kills are over, not as an unhandled rejection while they go on).
    let failure: unknown = null;
    const workload = (async () => {
      // Bounded: it stops when the kills are done (and at most 10,000 rounds).
      for (; !stop && rounds < 10_000; rounds++) await randomWorkload(mountDir, localDir, seed + rounds, 20);
    })().catch((error: unknown) => {
      failure = error;
      stop = true;
    });
    const leader = cluster.masterClient.state().leader;
    const leaderName = leader === null ? 'master-1' : cluster.nameOfAddress(leader) ?? 'master-1';
    try {
      for (const name of [leaderName, 'metanode-2', 'datanode-2']) {
        if (failure !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        await cluster.kill(name);
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        await cluster.restart(name);
      }
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      stop = true;
      await workload;
    }
    if (failure !== null) {
      // What the mount reported (its unexpected errors name the operation that failed and
      // why) says which call gave up: the workload's error alone only has the errno.
      const message = failure instanceof Error ? failure.message : String(failure);
      throw new Error(`seed ${seed}: ${message}\nthe mount's last output:\n${mounted!.output.slice(-6000)}`, { cause: failure });
    }
    assert.ok(rounds > 0);
    await compareDirectories(mountDir, localDir, `seed ${seed} after the kills`);
  });
});
