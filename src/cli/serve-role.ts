// `atoll master|metanode|datanode`: run one server instance in the foreground until
// SIGINT or SIGTERM, then stop it gracefully.
import { ConfigError, describeFlags, isHelpRequested, loadConfig, type DatanodeConfig, type MasterConfig, type MetanodeConfig, type ServerRole } from '../config/index.js';
import { startNodeRole } from '../nodeagent/index.js';
import { nodeRolePlug } from './role-plug.js';
import { MasterServer } from '../master/index.js';
import type { ServerInstance } from '../instance/index.js';
import { logError } from '../observability/index.js';
import { exitCodes } from './exit-codes.js';

const roleSummaries: Record<ServerRole, string> = {
  master: 'cluster manager: nodes, volumes, partition placement (one Raft group of masters)',
  metanode: 'metadata server: meta partitions of inodes and dentries',
  datanode: 'data server: data partitions of extents',
};

export function roleSummary(role: ServerRole): string {
  return roleSummaries[role];
}

export async function serveRole(role: ServerRole, argv: readonly string[]): Promise<number> {
  if (isHelpRequested(argv)) {
    process.stdout.write(`atoll ${role}: ${roleSummaries[role]}\n\n${describeFlags(role)}\n`);
    return exitCodes.ok;
  }
  let config;
  try {
    const loaded = loadConfig(role, argv);
    if (loaded.positional.length > 0) {
      process.stderr.write(`atoll ${role}: unexpected argument '${loaded.positional[0]}' (see atoll ${role} --help)\n`);
      return exitCodes.usage;
    }
    config = loaded.config;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`atoll ${role}: ${error.message}\n`);
      return exitCodes.usage;
    }
    throw error;
  }
  // The role's server: the master runs its Raft group and API on the instance runtime;
  // metanode and datanode register, heartbeat and hold partitions through their plugs.
  let instance: ServerInstance;
  let stop: () => Promise<void>;
  try {
    if (role === 'master') {
      const master = await MasterServer.start({ config: config as MasterConfig });
      instance = master.instance;
      stop = () => master.stop();
    } else {
      const node = await startNodeRole(role, config as MetanodeConfig | DatanodeConfig, nodeRolePlug(role, config as MetanodeConfig | DatanodeConfig));
      instance = node.instance;
      stop = () => node.stop();
    }
  } catch (error) {
    process.stderr.write(`atoll ${role}: cannot start: ${(error as Error).message}\n`);
    return error instanceof ConfigError ? exitCodes.usage : exitCodes.unavailable;
  }
  // A bug must not leave a half-working server behind: log it and exit.
  const onFatal = (error: unknown): void => {
    logError(instance.logger, error, 'fatal: uncaught error, exiting');
    process.exit(exitCodes.internal);
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  instance.logger.info({ signal }, 'signal received');
  await stop();
  return exitCodes.ok;
}
