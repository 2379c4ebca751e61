// `atoll mount <volume> <dir>` serves a volume as a FUSE file system from this process
// until it is unmounted: Ctrl-C or SIGTERM unmounts cleanly (buffered writes published,
// sessions closed), and so does `atoll umount <dir>` (or fusermount -u) from anywhere.
// It finds the cluster as the other commands do (-p with the cluster secret, or
// cluster.json of atoll start).
import { resolve } from 'node:path';
import { Volume } from '../client/index.js';
import { ConfigError, booleanKey, enumKey, defineSchema, describeSchemaFlags, isHelpRequested, resolveConfig, type SchemaKeys } from '../config/index.js';
import { AtollFileSystem } from '../fuse/atoll-fs.js';
import { mount, unmount, unmountOnSignals } from '../fuse/index.js';
import { reportClientFailure } from './client-failure.js';
import { CliUsageError, connectionKeys, finishConnection, resolveTarget, type ConnectionConfig } from './admin-connection.js';
import { exitCodes } from './exit-codes.js';

interface MountConfig extends ConnectionConfig {
  readonly allowOther: boolean;
  readonly bigWrites: boolean;
  readonly fuseBackend: 'auto' | 'kernel' | 'fuse-native';
}

const mountKeys: SchemaKeys<Omit<MountConfig, keyof ConnectionConfig>> = {
  allowOther: booleanKey({ default: true, description: 'let other users use the mount (needs root or user_allow_other in /etc/fuse.conf)' }),
  bigWrites: booleanKey({ default: true, description: 'let the kernel send writes of up to 1 MiB instead of 4 KiB' }),
  fuseBackend: enumKey({ default: 'auto', values: ['auto', 'kernel', 'fuse-native'], description: 'kernel: speak FUSE on /dev/fuse directly (needs root); fuse-native: through libfuse 2; auto: kernel when root' }),
};

const mountSchema = defineSchema<MountConfig>({ name: 'mount', keys: { ...connectionKeys, ...mountKeys } as unknown as SchemaKeys<MountConfig>, finish: finishConnection });
const umountSchema = defineSchema<{ lazy: boolean }>({ name: 'umount', keys: { lazy: booleanKey({ default: false, description: 'detach now even if files are busy (fusermount -z)' }) } });

/** A file created, written and closed within this time costs no session records (see src/client/README.md). */
const openRecordDeferMs = 200;

const err = (text: string): void => void process.stderr.write(`${text}\n`);

export async function mountCommand(argv: readonly string[]): Promise<number> {
  const command = 'atoll mount';
  if (isHelpRequested(argv)) {
    process.stdout.write(`${command}: serve a volume as a FUSE file system at a directory until unmounted.\n\n${describeSchemaFlags(mountSchema, `${command} <volume> <dir>`)}\n`);
    return exitCodes.ok;
  }
  let volume: Volume | null = null;
  try {
    const { config, positional } = resolveConfig(mountSchema, argv);
    if (positional.length !== 2) throw new CliUsageError(`usage: ${command} <volume> <dir> [options] (got ${positional.length} arguments)`);
    const [volumeName, dir] = positional as [string, string];
    const mountPoint = resolve(dir);
    const target = resolveTarget(config);
    volume = await Volume.open({ masters: target.masters, volume: volumeName, clusterSecret: target.secret, umask: 0, clientInfo: `atoll mount ${mountPoint} pid ${process.pid}`, limits: { openRecordDeferMs: openRecordDeferMs } });
    const fileSystem = new AtollFileSystem(volume);
    const mounted = await mount(mountPoint, fileSystem, {
      fsName: `atoll:${volumeName}`,
      allowOther: config.allowOther ? 'auto' : false,
      bigWrites: config.bigWrites,
      backend: config.fuseBackend,
      onUnexpectedError: (report) => err(JSON.stringify({ msg: 'fuse operation failed unexpectedly', operation: report.operation, path: report.path, err: String((report.error as Error)?.stack ?? report.error) })),
    });
    const through = mounted.backend === 'kernel' ? 'kernel session' : 'fuse-native';
    process.stdout.write(`mounted volume ${volumeName} at ${mountPoint} (${through}: ${mounted.optionString}); Ctrl-C or 'atoll umount ${dir}' unmounts\n`);
    const opened = volume;
    const finished = new Promise<number>((resolveExit) => {
      unmountOnSignals(mounted, (signal, error) => {
        if (error !== undefined) err(`${command}: unmount after ${signal} failed: ${(error as Error).message}`);
        resolveExit(error === undefined ? exitCodes.ok : exitCodes.unavailable);
      });
      void mounted.closed.then(() => resolveExit(exitCodes.ok));
    });
    const code = await finished;
    await opened.close().catch((error: unknown) => err(`${command}: closing the volume: ${(error as Error).message}`));
    volume = null;
    process.stdout.write(`unmounted ${mountPoint}\n`);
    return code;
  } catch (error) {
    return reportClientFailure(command, error, exitCodes.unavailable);
  } finally {
    await volume?.close().catch(() => undefined);
  }
}

export async function umountCommand(argv: readonly string[]): Promise<number> {
  const command = 'atoll umount';
  if (isHelpRequested(argv)) {
    process.stdout.write(`${command}: unmount a volume mounted with atoll mount (its process then exits).\n\n${describeSchemaFlags(umountSchema, `${command} <dir>`)}\n`);
    return exitCodes.ok;
  }
  try {
    const { config, positional } = resolveConfig(umountSchema, argv);
    if (positional.length !== 1) throw new CliUsageError(`usage: ${command} <dir> [--lazy]`);
    await unmount(resolve(positional[0]!), { lazy: config.lazy });
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CliUsageError) {
      err(`${command}: ${error.message}`);
      return exitCodes.usage;
    }
    err(`${command}: ${(error as Error).message}`);
    return exitCodes.unavailable;
  }
}
