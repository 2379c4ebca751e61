// `atoll fs ls|stat|put|get|cat|mkdir|rm|mv|ln|df` and `atoll trash list|restore|purge`: file
// commands on a volume through the SDK, without a mount. They find the cluster as the
// admin commands do (-p with the cluster secret, or cluster.json of atoll start) and take
// --volume (default: the volume atoll start creates). Reads print text, or JSON with --json.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat as localStat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Volume, type Stats } from '../client/index.js';
import { booleanKey, defineSchema, describeSchemaFlags, isHelpRequested, optionalKey, resolveConfig, stringKey, type SchemaKeys } from '../config/index.js';
import { AtollError } from '../errors/index.js';
import { InodeType } from '../proto/generated/metanode.js';
import { nounCommand } from './admin-command.js';
import { reportClientFailure } from './client-failure.js';
import { CliUsageError, connectionKeys, finishConnection, resolveTarget, type ConnectionConfig } from './admin-connection.js';
import { humanBytes } from './admin-commands.js';
import { exitCodes } from './exit-codes.js';
import { formatTable } from './text-table.js';

interface FsConfig extends ConnectionConfig {
  readonly volume: string;
  readonly recursive: boolean;
  readonly force: boolean;
  readonly symbolic: boolean;
  readonly to: string | undefined;
  readonly yes: boolean;
}

const fsKeys: SchemaKeys<Omit<FsConfig, keyof ConnectionConfig>> = {
  volume: stringKey({ default: 'default', description: 'the volume to work on' }),
  recursive: booleanKey({ default: false, short: 'r', description: 'mkdir: make missing parents; rm: remove directories and what they hold' }),
  force: booleanKey({ default: false, short: 'f', description: 'rm: no error when the path does not exist' }),
  symbolic: booleanKey({ default: false, short: 's', description: 'ln: make a symbolic link instead of a hard link' }),
  to: optionalKey(stringKey({ default: '', description: 'trash restore: the path to restore to (default: where it was)' })),
  yes: booleanKey({ default: false, description: 'trash purge: confirm that the trashed files go for good' }),
};

const schema = defineSchema<FsConfig>({ name: 'fs', keys: { ...connectionKeys, ...fsKeys } as unknown as SchemaKeys<FsConfig>, finish: finishConnection });

interface FsContext {
  readonly volume: Volume;
  readonly config: FsConfig;
  readonly args: readonly string[];
  out(text: string): void;
}

interface FsVerb {
  readonly summary: string;
  /** Positional arguments; those in [brackets] are optional. */
  readonly args: readonly string[];
  run(context: FsContext): Promise<number>;
}

const out = (text: string): void => void process.stdout.write(`${text}\n`);

const fsVerbs: Record<string, FsVerb> = {
  ls: {
    summary: 'list a directory (or show one file) with type, mode, links, owner, size and time',
    args: ['[path]'],
    async run({ volume, config, args, out: print }) {
      const path = args[0] ?? '/';
      const stats = await volume.lstat(path);
      const rows = stats.isDirectory()
        ? (await volume.readdirPlus(path)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        : [{ name: path, stats, type: typeOf(stats), ino: stats.ino }];
      if (config.json) {
        print(JSON.stringify(rows.map((row) => ({ name: row.name, ino: row.ino, type: typeName(row.type), ...(row.stats === null ? {} : statsJson(row.stats)) }))));
        return exitCodes.ok;
      }
      if (rows.length === 0) return exitCodes.ok;
      print(
        formatTable(
          ['MODE', 'LINKS', 'UID', 'GID', 'SIZE', 'MODIFIED', 'NAME'],
          rows.map((row) => [
            row.stats === null ? '?' : modeString(row.stats),
            String(row.stats?.nlink ?? '?'),
            String(row.stats?.uid ?? '?'),
            String(row.stats?.gid ?? '?'),
            String(row.stats?.size ?? '?'),
            row.stats === null ? '?' : row.stats.mtime.toISOString().replace('T', ' ').slice(0, 19),
            row.name,
          ]),
        ),
      );
      return exitCodes.ok;
    },
  },
  stat: {
    summary: 'show the attributes of a path (symbolic links not followed)',
    args: ['<path>'],
    async run({ volume, config, args, out: print }) {
      const stats = await volume.lstat(args[0]!);
      if (config.json) {
        print(JSON.stringify({ path: args[0], ...statsJson(stats) }));
        return exitCodes.ok;
      }
      const target = stats.isSymbolicLink() ? ` -> ${await volume.readlink(args[0]!)}` : '';
      print(
        [
          `path      ${args[0]}${target}`,
          `type      ${typeName(typeOf(stats))}`,
          `inode     ${stats.ino}`,
          `mode      ${modeString(stats)} (${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`,
          `links     ${stats.nlink}`,
          `owner     uid ${stats.uid}, gid ${stats.gid}`,
          `size      ${stats.size} (${humanBytes(stats.size)})`,
          `accessed  ${stats.atime.toISOString()}`,
          `modified  ${stats.mtime.toISOString()}`,
          `changed   ${stats.ctime.toISOString()}`,
        ].join('\n'),
      );
      return exitCodes.ok;
    },
  },
  put: {
    summary: 'copy a local file into the volume (a progress bar when attached to a terminal)',
    args: ['<local-file>', '<path>'],
    async run({ volume, args }) {
      const [local, remote] = args as [string, string];
      const size = (await localStat(local)).size;
      await pipeline(createReadStream(local, { highWaterMark: 1024 * 1024 }), progress(size, `put ${local}`), volume.createWriteStream(remote));
      return exitCodes.ok;
    },
  },
  get: {
    summary: 'copy a file of the volume to a local file (a progress bar when attached to a terminal)',
    args: ['<path>', '<local-file>'],
    async run({ volume, args }) {
      const [remote, local] = args as [string, string];
      const size = (await volume.stat(remote)).size;
      await pipeline(volume.createReadStream(remote), progress(size, `get ${remote}`), createWriteStream(local));
      return exitCodes.ok;
    },
  },
  cat: {
    summary: 'write a file of the volume to standard output',
    args: ['<path>'],
    async run({ volume, args }) {
      await pipeline(volume.createReadStream(args[0]!), process.stdout, { end: false });
      return exitCodes.ok;
    },
  },
  mkdir: {
    summary: 'make a directory (-r: with its missing parents)',
    args: ['<path>'],
    async run({ volume, config, args }) {
      await volume.mkdir(args[0]!, { recursive: config.recursive });
      return exitCodes.ok;
    },
  },
  rm: {
    summary: 'remove a file or link (-r: a directory and everything in it; -f: no error if missing)',
    args: ['<path>'],
    async run({ volume, config, args }) {
      const path = args[0]!;
      if (!config.recursive) {
        const stats = await volume.lstat(path).catch((error: unknown) => {
          if (config.force && error instanceof AtollError && error.code === 'ENOENT') return null;
          throw error;
        });
        if (stats === null) return exitCodes.ok;
        if (stats.isDirectory()) {
          await volume.rmdir(path);
          return exitCodes.ok;
        }
      }
      await volume.rm(path, { recursive: config.recursive, force: config.force });
      return exitCodes.ok;
    },
  },
  mv: {
    summary: 'rename or move a path (over an existing file or empty directory)',
    args: ['<from>', '<to>'],
    async run({ volume, args }) {
      await volume.rename(args[0]!, args[1]!);
      return exitCodes.ok;
    },
  },
  ln: {
    summary: 'make a hard link to a file (-s: a symbolic link holding <target>)',
    args: ['<target>', '<link>'],
    async run({ volume, config, args }) {
      if (config.symbolic) await volume.symlink(args[0]!, args[1]!);
      else await volume.link(args[0]!, args[1]!);
      return exitCodes.ok;
    },
  },
  df: {
    summary: 'capacity and usage of the volume',
    args: [],
    async run({ volume, config, out: print }) {
      const statfs = await volume.statfs();
      if (config.json) {
        print(JSON.stringify({ volume: volume.name, ...statfs }));
        return exitCodes.ok;
      }
      const percent = statfs.capacityBytes === 0 ? 0 : Math.round((statfs.usedBytes / statfs.capacityBytes) * 100);
      print(
        formatTable(
          ['VOLUME', 'SIZE', 'USED', 'AVAILABLE', 'USE%', 'FILES'],
          [[volume.name, humanBytes(statfs.capacityBytes), humanBytes(statfs.usedBytes), humanBytes(statfs.bavail * statfs.bsize), `${percent}%`, String(statfs.files - statfs.ffree)]],
        ),
      );
      return exitCodes.ok;
    },
  },
};

const trashVerbs: Record<string, FsVerb> = {
  list: {
    summary: 'entries in the volume\'s trash, oldest first',
    args: [],
    async run({ volume, config, out: print }) {
      const entries = await volume.listTrash();
      if (config.json) {
        print(JSON.stringify(entries.map((entry) => ({ name: entry.name, originalName: entry.originalName, parentIno: entry.parentIno, ino: entry.ino, type: typeName(entry.type), deletedAt: new Date(entry.deletedSec * 1000).toISOString() }))));
        return exitCodes.ok;
      }
      if (entries.length === 0) {
        print('(the trash is empty)');
        return exitCodes.ok;
      }
      print(formatTable(['DELETED', 'TYPE', 'NAME'], entries.map((entry) => [new Date(entry.deletedSec * 1000).toISOString().replace('T', ' ').slice(0, 19), typeName(entry.type), entry.name])));
      return exitCodes.ok;
    },
  },
  restore: {
    summary: 'put a trash entry back where it was (or at --to <path>)',
    args: ['<name>'],
    async run({ volume, config, args }) {
      await volume.restoreTrash(args[0]!, config.to === undefined || config.to === '' ? undefined : config.to);
      return exitCodes.ok;
    },
  },
  purge: {
    summary: 'empty the trash now (what it held is freed and its space comes back)',
    args: [],
    async run({ volume, config, out: print }) {
      if (!config.yes) throw new CliUsageError('purging deletes the trashed files for good: add --yes');
      const purged = await volume.purgeTrash();
      print(config.json ? JSON.stringify({ purged }) : `${purged} entr${purged === 1 ? 'y' : 'ies'} purged`);
      return exitCodes.ok;
    },
  },
};

const fsFooter = [
  'Every verb works on --volume (default: default) and reaches the masters with -p/--master',
  'host:port (repeatable) and --cluster-secret-file, or with no -p through',
  '<cluster-dir>/cluster.json of atoll start (--cluster-dir, default .atoll).',
];

export const fsCommand = nounOfVerbs('fs', fsVerbs);
export const trashCommand = nounOfVerbs('trash', trashVerbs);


function nounOfVerbs(noun: string, verbs: Record<string, FsVerb>): (argv: readonly string[]) => Promise<number> {
  const wrapped = Object.fromEntries(
    Object.entries(verbs).map(([name, verb]) => [name, { summary: verb.summary, args: verb.args, run: (command: string, argv: readonly string[]) => runVerb(command, verb, argv) }]),
  );
  return nounCommand(noun, wrapped, fsFooter);
}

async function runVerb(command: string, verb: FsVerb, argv: readonly string[]): Promise<number> {
  if (isHelpRequested(argv)) {
    out(`${command}: ${verb.summary}.\n\n${describeSchemaFlags(schema, `${command}${verb.args.map((arg) => ` ${arg}`).join('')}`)}`);
    return exitCodes.ok;
  }
  let volume: Volume | null = null;
  try {
    const { config, positional } = resolveConfig(schema, argv);
    const required = verb.args.filter((arg) => !arg.startsWith('[')).length;
    if (positional.length < required) throw new CliUsageError(`missing ${verb.args.slice(positional.length).join(' ')} (usage: ${command} ${verb.args.join(' ')} [options])`);
    if (positional.length > verb.args.length) throw new CliUsageError(`unexpected argument '${positional[verb.args.length]}' (usage: ${command}${verb.args.map((arg) => ` ${arg}`).join('')} [options])`);
    const target = resolveTarget(config);
    volume = await Volume.open({
      masters: target.masters,
      volume: config.volume,
      clusterSecret: target.secret,
      clientInfo: `${command} pid ${process.pid}`,
      metaLimits: { retryTotalMs: config.timeout },
      dataLimits: { retryTotalMs: Math.max(config.timeout, 30_000) },
    });
    return await verb.run({ volume, config, args: positional, out });
  } catch (error) {
    return reportClientFailure(command, error);
  } finally {
    await volume?.close().catch(() => undefined);
  }
}

/** Passes bytes through; on a terminal draws a progress bar on stderr. */
function progress(totalBytes: number, label: string): Transform {
  const tty = process.stderr.isTTY === true;
  let done = 0;
  let lastDrawMs = 0;
  const started = Date.now();
  const draw = (final: boolean): void => {
    const now = Date.now();
    if (!final && now - lastDrawMs < 100) return;
    lastDrawMs = now;
    const fraction = totalBytes === 0 ? 1 : Math.min(1, done / totalBytes);
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = Math.max(0.001, (now - started) / 1000);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${Math.round(fraction * 100)}% ${humanBytes(done)} ${humanBytes(Math.round(done / seconds))}/s${final ? '\n' : ''}`);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.byteLength;
      if (tty) draw(false);
      callback(null, chunk);
    },
    flush(callback) {
      if (tty) draw(true);
      callback();
    },
  });
}

function typeOf(stats: Stats): InodeType {
  if (stats.isDirectory()) return InodeType.INODE_DIRECTORY;
  if (stats.isSymbolicLink()) return InodeType.INODE_SYMLINK;
  if (stats.isFile()) return InodeType.INODE_FILE;
  return InodeType.INODE_SPECIAL;
}

function typeName(type: InodeType): string {
  switch (type) {
    case InodeType.INODE_DIRECTORY:
      return 'directory';
    case InodeType.INODE_SYMLINK:
      return 'symlink';
    case InodeType.INODE_FILE:
      return 'file';
    default:
      return 'special';
  }
}

function statsJson(stats: Stats): Record<string, unknown> {
  return {
    ino: stats.ino,
    type: typeName(typeOf(stats)),
    mode: stats.mode & 0o7777,
    nlink: stats.nlink,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.size,
    atime: stats.atime.toISOString(),
    mtime: stats.mtime.toISOString(),
    ctime: stats.ctime.toISOString(),
  };
}

/** 'drwxr-xr-x' as ls prints it. */
export function modeString(stats: Stats): string {
  const kind = stats.isDirectory() ? 'd' : stats.isSymbolicLink() ? 'l' : stats.isFile() ? '-' : stats.isFIFO() ? 'p' : stats.isSocket() ? 's' : stats.isCharacterDevice() ? 'c' : stats.isBlockDevice() ? 'b' : '?';
  const mode = stats.mode;
  const triple = (shift: number, special: number, specialChar: string): string => {
    const bits = (mode >> shift) & 7;
    const execute = (bits & 1) !== 0;
    const setSpecial = (mode & special) !== 0;
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${setSpecial ? (execute ? specialChar : specialChar.toUpperCase()) : execute ? 'x' : '-'}`;
  };
  return `${kind}${triple(6, 0o4000, 's')}${triple(3, 0o2000, 's')}${triple(0, 0o1000, 't')}`;
}
