// Measures a mounted directory the way src/fuse/README.md reports the binding's ceiling:
// create, stat and unlink of `count` empty files with one worker (synchronous calls, so
// run it in a process that does not serve the mount), then dd of 1 GiB in 1 MiB blocks.
//   node dist/src/fuse/testing/measure-ceiling.js <dir> [count] [--no-dd]
// Prints one JSON line.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

const [dir, countArgument = '10000', ...flags] = process.argv.slice(2);
if (dir === undefined) {
  process.stderr.write('usage: measure-ceiling <dir> [count] [--no-dd]\n');
  process.exit(1);
}
const count = Number(countArgument);
const work = join(dir, `ceiling-${process.pid}`);
mkdirSync(work);
const names = Array.from({ length: count }, (_, index) => join(work, `f${index}`));

function rate(action: (path: string) => void): number {
  const started = process.hrtime.bigint();
  for (const name of names) action(name);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round(count / seconds);
}

const createsPerSecond = rate((name) => closeSync(openSync(name, 'wx')));
const statsPerSecond = rate((name) => statSync(name));
const unlinksPerSecond = rate((name) => unlinkSync(name));

/** MB/s (10^6 bytes per second) of dd moving 1 GiB in 1 MiB blocks. */
function dd(args: string[]): number {
  const started = process.hrtime.bigint();
  execFileSync('dd', [...args, 'bs=1M', 'count=1024', 'status=none'], { stdio: 'ignore' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round(1024 ** 3 / seconds / 1e6);
}

let writeMegabytesPerSecond: number | undefined;
let readMegabytesPerSecond: number | undefined;
if (!flags.includes('--no-dd')) {
  const file = join(work, 'big');
  writeMegabytesPerSecond = dd(['if=/dev/zero', `of=${file}`, 'conv=fsync']);
  readMegabytesPerSecond = dd([`if=${file}`, 'of=/dev/null']);
  unlinkSync(file);
}
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ dir, count, createsPerSecond, statsPerSecond, unlinksPerSecond, writeMegabytesPerSecond, readMegabytesPerSecond })}\n`);
