// Entry point of the `atoll` program: one binary, the role or action chosen by sub-command.
import { serverRoles, type ServerRole } from '../config/index.js';
import { atollVersion } from '../instance/index.js';
import { clusterCommand, nodeCommand, partitionCommand, volumeCommand } from './admin-commands.js';
import { configCommand } from './config-command.js';
import { exitCodes } from './exit-codes.js';
import { fsCommand, trashCommand } from './fs-commands.js';
import { mountCommand, umountCommand } from './mount-command.js';
import { roleSummary, serveRole } from './serve-role.js';
import { startCommand, stopCommand } from './start.js';

interface Command {
  readonly summary: string;
  readonly run: (argv: readonly string[]) => Promise<number>;
}

const commands: Record<string, Command> = {
  ...Object.fromEntries(
    serverRoles.map((role: ServerRole) => [role, { summary: `run a ${roleSummary(role)}`, run: (argv: readonly string[]) => serveRole(role, argv) }]),
  ),
  start: { summary: 'run a whole local cluster (several instances of every role) on this host', run: startCommand },
  stop: { summary: 'stop a local cluster started with atoll start --detach', run: stopCommand },
  config: { summary: 'instance config files: check (several configs meant for one host, offline)', run: configCommand },
  cluster: { summary: 'the master group: info, status', run: clusterCommand },
  node: { summary: 'metanodes and datanodes: list, info, decommission', run: nodeCommand },
  volume: { summary: 'volumes: create, list, info, update, delete', run: volumeCommand },
  partition: { summary: 'meta and data partitions: list, info', run: partitionCommand },
  fs: { summary: 'files of a volume without a mount: ls, stat, put, get, cat, mkdir, rm, mv, ln, df', run: fsCommand },
  mount: { summary: 'serve a volume as a FUSE file system at a directory (until unmounted)', run: mountCommand },
  umount: { summary: 'unmount a directory mounted with atoll mount', run: umountCommand },
  trash: { summary: 'the trash of a volume: list, restore, purge', run: trashCommand },
  version: {
    summary: 'print the version',
    run: async () => {
      process.stdout.write(`atoll ${atollVersion}\n`);
      return exitCodes.ok;
    },
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `usage: atoll <command> [options]\n\nAtollFS, a distributed POSIX file system.\n\ncommands:\n${lines.join('\n')}\n\nRun 'atoll <command> --help' for the options of a command.\n`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(usage());
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  if (name === '--version') return commands.version!.run([]);
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`atoll: unknown command '${name}' (see atoll --help)\n`);
    return exitCodes.usage;
  }
  return command.run(rest);
}
