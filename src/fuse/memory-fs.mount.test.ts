// The in-memory file system mounted for real (in a child process) and driven by shell
// commands: what the adapter and libfuse do with each operation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findMount, fusermountUnmount, mountDevice, mountState, waitUntilUnmounted } from './mount-table.js';
import { ChildMount } from './testing/child-mount.js';
import { fuseSuiteOptions } from './testing/fuse-available.js';

const shellTimeoutMs = 30_000;

/** Runs a bash script in `cwd`; resolves with stdout, rejects with stdout and stderr. */
function shell(script: string, cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd, timeout: shellTimeoutMs }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${script}\nfailed: ${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

function hasCommand(command: string): Promise<boolean> {
  return shell(`command -v ${command}`, '/').then(() => true, () => false);
}

describe('memory fs on a real FUSE mount', fuseSuiteOptions('memory fs on a real FUSE mount'), () => {
  let root: string;
  let mountPoint: string;
  let mounted: ChildMount | undefined;
  const sh = (script: string): Promise<string> => shell(script, mountPoint);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'atoll-fuse-'));
    mountPoint = join(root, 'mnt');
    await mkdir(mountPoint);
    mounted = await ChildMount.start(mountPoint);
  });

  after(async () => {
    await mounted?.stop();
    if ((await findMount(mountPoint)) !== undefined) await fusermountUnmount(mountPoint, true);
    await rm(root, { recursive: true, force: true });
  });

  test('the mount is listed with its options', async () => {
    const entry = await findMount(mountPoint);
    assert.ok(entry !== undefined);
    assert.equal(entry.type, 'fuse.atoll');
    assert.equal(entry.source, 'atoll-memory');
    assert.match(entry.options, /default_permissions/);
    const ready = mounted!.messages().find((line) => line.ready === true)!;
    // The kernel session asks for 1 MiB writes in its INIT answer; libfuse in its options.
    if (ready.backend === 'kernel') assert.match(String(ready.options), /-t fuse\.atoll -o fd=3,rootmode=40000,/);
    else assert.match(String(ready.options), /big_writes,max_write=1048576/);
    // The kernel session raises the read-ahead (and with it the largest read request) to 1 MiB.
    if (ready.backend === 'kernel') {
      const device = await mountDevice(mountPoint);
      assert.equal((await readFile(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8')).trim(), '1024');
    }
  });

  test('create, write, read, append, overwrite in the middle, truncate up and down', async () => {
    assert.equal(await sh('printf hello > f; cat f'), 'hello');
    assert.equal(await sh('printf " world" >> f; cat f'), 'hello world');
    assert.equal(await sh('printf XY | dd of=f bs=1 seek=2 conv=notrunc status=none; cat f'), 'heXYo world');
    assert.equal(await sh('truncate -s 4 f; cat f'), 'heXY');
    assert.equal(await sh('truncate -s 6 f; od -An -c f | tr -s " "'), ' h e X Y \\0 \\0\n');
    assert.equal(await sh('stat -c %s f'), '6\n');
    await sh('rm f');
  });

  test('a large file written in 1 MiB blocks reads back the same', async () => {
    const out = await sh('head -c 5000000 /dev/urandom > /tmp/atoll-fuse-source.$$; cp /tmp/atoll-fuse-source.$$ big; cmp /tmp/atoll-fuse-source.$$ big && echo same; rm /tmp/atoll-fuse-source.$$ big');
    assert.equal(out, 'same\n');
  });

  test('mkdir, rmdir, and rmdir of a non-empty directory fails', async () => {
    await sh('mkdir -p a/b/c');
    assert.equal(await sh('ls a'), 'b\n');
    await assert.rejects(sh('rmdir a/b'), /Directory not empty/);
    await sh('rmdir a/b/c a/b a');
    assert.equal(await sh('ls -A'), '');
  });

  test('rename, also over an existing file and across directories', async () => {
    await sh('mkdir d; printf one > x; printf two > y; mv x y');
    assert.equal(await sh('cat y; ls'), 'oned\ny\n');
    await sh('mv y d/z');
    assert.equal(await sh('cat d/z; ls d'), 'onez\n');
    await sh('rm -r d');
  });

  test('symlinks and hard links', async () => {
    await sh('printf data > t; ln -s t s; ln t h');
    assert.equal(await sh('readlink s'), 't\n');
    assert.equal(await sh('cat s'), 'data');
    assert.equal(await sh('stat -c %h t'), '2\n');
    await sh('rm t');
    assert.equal(await sh('cat h'), 'data');
    // libfuse 2 gives each name of a hard-linked file its own kernel inode, so h's cached
    // nlink lasts until attr_timeout (1 s) runs out.
    assert.equal(await sh('for i in $(seq 1 40); do [ "$(stat -c %h h)" = 1 ] && break; sleep 0.1; done; stat -c %h h'), '1\n');
    await assert.rejects(sh('cat s'), /No such file/);
    await sh('rm s h');
  });

  test('ls -l shows types, modes, owners and sizes; chmod changes the mode', async () => {
    await sh('printf 12345 > m; mkdir dd; ln -s m ll; chmod 640 m');
    const listing = await sh('ls -l');
    assert.match(listing, /^-rw-r-----\s+1 root root\s+5 .* m$/m);
    assert.match(listing, /^drwxr-xr-x\s+2 root root\s+4096 .* dd$/m);
    assert.match(listing, /^lrwxrwxrwx\s+1 root root\s+1 .* ll -> m$/m);
    await sh('rm -r m dd ll');
  });

  test('permissions are enforced for another uid (default_permissions, allow_other)', async (t) => {
    if (!(await hasCommand('setpriv')) || process.getuid?.() !== 0) {
      t.skip('needs root and setpriv');
      return;
    }
    await sh('printf secret > p; chmod 600 p; printf open > q; chmod 644 q');
    const asNobody = 'setpriv --reuid=65534 --regid=65534 --clear-groups';
    assert.equal(await sh(`${asNobody} cat q`), 'open');
    await assert.rejects(sh(`${asNobody} cat p`), /Permission denied/);
    await sh('rm p q');
  });

  test('df shows the capacity; statfs reports the memory fs limits', async () => {
    const out = await sh('df -B1 --output=source,size . | tail -1');
    assert.match(out, /^atoll-memory\s+8589934592\s*$/);
  });

  test('extended attributes: set, get, list, remove', async (t) => {
    if (!(await hasCommand('python3'))) {
      t.skip('needs python3 for os.setxattr');
      return;
    }
    await sh('printf x > xa');
    const script = [
      'import os',
      "os.setxattr('xa', 'user.color', b'blue')",
      "print(os.getxattr('xa', 'user.color').decode())",
      "print(sorted(os.listxattr('xa')))",
      "os.removexattr('xa', 'user.color')",
      'try:',
      "    os.getxattr('xa', 'user.color')",
      'except OSError as e:',
      '    print(e.errno)',
    ].join('\n');
    assert.equal(await sh(`python3 -c "${script}"`), "blue\n['user.color']\n61\n");
    await sh('rm xa');
  });

  test('unlink of an open file: still readable and writable through its descriptor, gone from the directory', async () => {
    const out = await sh([
      'mkdir u; printf before > u/open',
      'exec 3<>u/open',
      'rm u/open',
      'ls -A u',
      'echo "--"',
      'cat <&3; echo',
      'printf more >&3',
      'stat -L -c "%h %s" /proc/self/fd/3',
      'rmdir u',
      'exec 3>&-',
    ].join('\n'));
    assert.equal(out, '--\nbefore\n0 10\n');
  });

  test('rename over an open file: the old contents stay readable through the descriptor', async () => {
    const out = await sh([
      'printf old > r1; printf new > r2',
      'exec 3<r1',
      'mv r2 r1',
      'cat r1; echo',
      'cat <&3; echo',
      'exec 3<&-',
      'ls -A; rm r1',
    ].join('\n'));
    assert.equal(out, 'new\nold\nr1\n');
  });

  test('SIGTERM unmounts cleanly: the mount point leaves /proc/mounts and the child exits 0', async () => {
    const clean = await mounted!.stop();
    assert.equal(clean, true, mounted!.output);
    assert.equal(await findMount(mountPoint), undefined);
    assert.ok(mounted!.messages().some((line) => line.unmounted === true && line.signal === 'SIGTERM'), mounted!.output);
  });

  test('a killed server leaves a stale mount, which the next mount clears', async () => {
    mounted = await ChildMount.start(mountPoint);
    mounted.child.kill('SIGKILL');
    assert.ok(await mounted.waitForExit(10_000));
    assert.equal(await mountState(mountPoint), 'stale');
    mounted = await ChildMount.start(mountPoint);
    assert.equal(await mountState(mountPoint), 'mounted');
    assert.equal(await sh('printf ok > k; cat k'), 'ok');
  });

  test('an unmount from outside ends the serving process', async () => {
    await fusermountUnmount(mountPoint, false);
    await mounted!.waitForLine((line) => line.unmounted === true && line.signal === null, 10_000);
    assert.ok(await mounted!.waitForExit(10_000));
    assert.equal(mounted!.exit, 0);
    assert.ok(await waitUntilUnmounted(mountPoint, 1000));
  });
});
