// Mounts the in-memory file system at a directory and serves it until SIGINT/SIGTERM
// or an unmount from outside; for the FUSE tests and bench:fs (the binding's ceiling).
//   node dist/src/fuse/testing/mount-memory-fs.js <mount-point> [--no-big-writes] [--bytes-max N]
// Prints one JSON line {"ready":true,...} once the mount is usable and
// {"unmounted":true,...} when it is gone; errors as {"error":...} with exit code 1.
import { mount, unmountOnSignals } from '../binding.js';
import { MemoryFileSystem } from '../memory-fs.js';

function usage(message: string): never {
  process.stderr.write(`mount-memory-fs: ${message}\nusage: mount-memory-fs <mount-point> [--no-big-writes] [--bytes-max N]\n`);
  process.exit(1);
}

function parseArguments(args: readonly string[]): { mountPoint: string; bigWrites: boolean; bytesMax: number | undefined } {
  let mountPoint: string | undefined;
  let bigWrites = true;
  let bytesMax: number | undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--no-big-writes') bigWrites = false;
    else if (arg === '--bytes-max') {
      bytesMax = Number(args[++index]);
      if (!Number.isSafeInteger(bytesMax) || bytesMax <= 0) usage('--bytes-max takes a positive integer');
    } else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else if (mountPoint === undefined) mountPoint = arg;
    else usage(`unexpected argument ${arg}`);
  }
  if (mountPoint === undefined) usage('no mount point');
  return { mountPoint, bigWrites, bytesMax };
}

const line = (value: object): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

const { mountPoint, bigWrites, bytesMax } = parseArguments(process.argv.slice(2));
try {
  const fileSystem = new MemoryFileSystem({ bytesMax });
  const fuseMount = await mount(mountPoint, fileSystem, { bigWrites, fsName: 'atoll-memory' });
  unmountOnSignals(fuseMount, (signal, error) => {
    if (error !== undefined) {
      line({ unmounted: false, signal, error: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    }
    line({ unmounted: true, signal });
    process.exit(0);
  });
  void fuseMount.closed.then((by) => {
    if (by !== 'unmounted-externally') return;
    line({ unmounted: true, signal: null });
    process.exit(0);
  });
  line({ ready: true, pid: process.pid, mountPoint: fuseMount.mountPoint, options: fuseMount.optionString, backend: fuseMount.backend });
} catch (error) {
  line({ error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
