// How the admin commands (`atoll cluster|node|volume|partition ...`) find and reach the
// masters: -p/--master addresses with the cluster secret and admin token from flags, or,
// with no -p, the cluster.json that `atoll start` wrote in the cluster directory.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  booleanKey,
  durationKey,
  formatHostPort,
  hostPortListKey,
  optionalPathKey,
  optionalStringKey,
  pathKey,
  resolveSecretPair,
  type ConfigError,
  type FinishContext,
  type HostPort,
  type SchemaKeys,
} from '../config/index.js';
import { mastersOf, type ClusterPlan } from '../launcher/index.js';
import { MasterClient } from '../masterclient/index.js';
import { RpcClient } from '../rpc/index.js';

export interface ConnectionConfig {
  readonly masters: readonly HostPort[];
  readonly clusterSecret: string | undefined;
  readonly clusterSecretFile: string | undefined;
  readonly adminToken: string | undefined;
  readonly adminTokenFile: string | undefined;
  readonly clusterDir: string;
  // Milliseconds a command keeps retrying unreachable or leaderless masters.
  readonly timeout: number;
  readonly json: boolean;
}

export const connectionKeys: SchemaKeys<ConnectionConfig> = {
  masters: hostPortListKey({
    default: [],
    aliases: ['master'],
    short: 'p',
    description: 'master service address (host:port); repeat -p or separate with commas; when none is given, cluster.json in --cluster-dir is read',
  }),
  clusterSecret: optionalStringKey({ secret: true, description: 'the cluster secret (shows in ps: prefer cluster-secret-file)' }),
  clusterSecretFile: optionalPathKey({ description: 'file holding the cluster secret (one trailing newline is ignored)' }),
  adminToken: optionalStringKey({ secret: true, description: 'admin API token, needed by changes (shows in ps: prefer admin-token-file)' }),
  adminTokenFile: optionalPathKey({ description: 'file holding the admin API token' }),
  clusterDir: pathKey({ default: '.atoll', description: 'cluster directory of atoll start, read when no -p is given' }),
  timeout: durationKey({ default: 10_000, min: 100, description: 'how long to keep retrying unreachable or leaderless masters' }),
  json: booleanKey({ default: false, description: 'print the admin API\'s JSON answer as it is' }),
};

/** Reads the inline-or-file secret pairs; for a command schema's `finish`. */
export function finishConnection<Config extends ConnectionConfig>(config: Config, context: FinishContext<Config>): { config: Config; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  let finished = resolveSecretPair(config, context, 'clusterSecret', 'clusterSecretFile', errors);
  finished = resolveSecretPair(finished, context, 'adminToken', 'adminTokenFile', errors);
  return { config: finished, errors };
}

/** A problem of the command line or the cluster directory: exit code 1. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

export interface Connection {
  readonly client: MasterClient;
  readonly masters: readonly string[];
  readonly adminTokenGiven: boolean;
  close(): Promise<void>;
}

export interface Target {
  readonly masters: string[];
  readonly secret: string;
  readonly adminToken: string | undefined;
}

// cluster.json as this command reads it: the launcher's plan, plus the admin token file
// the launcher may add.
type PlanOnDisk = ClusterPlan & { readonly adminTokenFile?: string };

function readSecretFile(path: string, what: string): string {
  let contents: string;
  try {
    contents = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliUsageError(`cannot read the ${what} file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
  }
  if (contents.length === 0) throw new CliUsageError(`the ${what} file ${path} is empty`);
  return contents;
}

const noMasters = (planPath: string): string =>
  `no masters to ask: give -p/--master host:port with --cluster-secret-file (or --cluster-secret), or --cluster-dir of a cluster started with atoll start (${planPath} not found)`;

/** Masters, cluster secret and admin token from the flags or from cluster.json. */
export function resolveTarget(config: ConnectionConfig): Target {
  if (config.masters.length > 0) {
    if (config.clusterSecret === undefined) throw new CliUsageError('no cluster secret: give --cluster-secret-file <path> or --cluster-secret <text> with -p/--master');
    return { masters: config.masters.map(formatHostPort), secret: config.clusterSecret, adminToken: config.adminToken };
  }
  const planPath = join(config.clusterDir, 'cluster.json');
  if (!existsSync(planPath)) throw new CliUsageError(noMasters(planPath));
  let plan: PlanOnDisk;
  try {
    plan = JSON.parse(readFileSync(planPath, 'utf8')) as PlanOnDisk;
  } catch (error) {
    throw new CliUsageError(`cannot read ${planPath}: ${(error as Error).message}`);
  }
  if (plan === null || typeof plan !== 'object' || plan.formatVersion !== 1 || !Array.isArray(plan.instances)) {
    throw new CliUsageError(`${planPath}: not a cluster plan this version understands`);
  }
  // The launcher writes absolute paths; a relative one (older plans) was relative to the
  // directory atoll start ran in, which is where these commands usually run too.
  const masters = mastersOf(plan);
  if (masters.length === 0) throw new CliUsageError(`${planPath}: the plan has no master instances`);
  const secret = config.clusterSecret ?? readSecretFile(resolve(plan.secretFile), 'cluster secret');
  const tokenFile = typeof plan.adminTokenFile === 'string' && plan.adminTokenFile !== '' ? plan.adminTokenFile : undefined;
  const adminToken = config.adminToken ?? (tokenFile === undefined ? undefined : readSecretFile(resolve(tokenFile), 'admin token'));
  return { masters, secret, adminToken };
}

export function openConnection(config: ConnectionConfig): Connection {
  const target = resolveTarget(config);
  let rpc: RpcClient;
  try {
    rpc = new RpcClient({ secret: target.secret, instance: 'atoll-cli' });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const client = new MasterClient({
    masters: target.masters,
    rpc,
    adminToken: target.adminToken,
    limits: {
      retryTotalMs: config.timeout,
      callDeadlineMs: Math.min(config.timeout, 5_000),
      retryBackoffMaxMs: Math.min(config.timeout, 1_000),
      retryBackoffInitialMs: Math.min(config.timeout, 50),
    },
  });
  return {
    client,
    masters: target.masters,
    adminTokenGiven: target.adminToken !== undefined,
    close: async () => {
      await client.stop();
      await rpc.close();
    },
  };
}
