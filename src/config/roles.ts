// The configuration of each server role: its typed config, its schema, and the checks
// that span keys. Default ports follow one pattern per role (service, +10 HTTP, +20
// Raft heartbeat, +30 Raft replica: master 17010, metanode 17210, datanode 17310), so a
// second instance on the same host can add 1 to each and never collide with the first.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type ConfigSource } from './config-error.js';
import {
  type ConfigSchema,
  type FinishContext,
  type KeySpec,
  type SchemaKeys,
  byteSizeKey,
  defineSchema,
  derivedDefault,
  durationKey,
  enumKey,
  hostKey,
  hostPortListKey,
  integerKey,
  kebabCase,
  optionalPathKey,
  optionalStringKey,
  pathKey,
  pathListKey,
  portKey,
  stringKey,
} from './schema.js';
import type { HostPort } from './value-types.js';

export type ServerRole = 'master' | 'metanode' | 'datanode';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type MetadataEngine = 'memory' | 'lmdb';

/** Keys every server instance has. */
export interface ServerConfigBase {
  /** Listen address, also advertised to the master and peers. */
  readonly host: string;
  /** Service (RPC) port; 0 = pick a free one at start. */
  readonly port: number;
  readonly httpPort: number;
  readonly raftHeartbeatPort: number;
  readonly raftReplicaPort: number;
  /** Instance name for logs and metrics; default `<role>-<port>`. */
  readonly instance: string;
  /** Absolute path. */
  readonly dataDir: string;
  readonly zone: string;
  /** The effective secret: from `cluster-secret`, or read from `cluster-secret-file`. */
  readonly clusterSecret: string | undefined;
  /** Absolute path of the file the secret was read from, if it was. */
  readonly clusterSecretFile: string | undefined;
  readonly logLevel: LogLevel;
}

export interface MasterConfig extends ServerConfigBase {
  /** Service addresses of all master group members (this one included); empty for one master. */
  readonly peers: readonly HostPort[];
  /** The effective admin API token: from `admin-token`, or read from `admin-token-file`. */
  readonly adminToken: string | undefined;
  readonly adminTokenFile: string | undefined;
  /** Where the master keeps its state and elects its leader. */
  readonly backend: MasterBackend;
  /** etcd client endpoints (backend etcd). */
  readonly etcd: readonly HostPort[];
  /** Key prefix of this cluster in etcd. */
  readonly etcdPrefix: string;
  /** Milliseconds; the election lease's TTL (rounded up to whole seconds for etcd). */
  readonly etcdLeaseTtl: number;
}

export type MasterBackend = 'raft' | 'etcd';

/** Background work one metanode or datanode does at once. */
export interface NodeWorkLimits {
  /** Raft snapshots sent to lagging or new replicas at once; more wait for a later try. */
  readonly snapshotSendsMax: number;
  /** Raft snapshots received at once; more are refused (OVERLOADED) and sent again later. */
  readonly snapshotReceivesMax: number;
}

export interface MetanodeConfig extends ServerConfigBase, NodeWorkLimits {
  readonly masters: readonly HostPort[];
  /** Bytes. */
  readonly memoryBudget: number;
  readonly engine: MetadataEngine;
}

export interface DatanodeConfig extends ServerConfigBase, NodeWorkLimits {
  readonly masters: readonly HostPort[];
  /** Absolute paths, one per physical disk. */
  readonly disks: readonly string[];
  /** Bytes kept free on each disk. */
  readonly diskReserved: number;
  /** Bytes of data partitions each disk may hold; 0: as much as the disk has. */
  readonly diskCapacity: number;
  /** Repairs (of one partition replica each) carried out at once; more are refused and retried. */
  readonly repairsInFlightMax: number;
}

export type ServerConfig = MasterConfig | MetanodeConfig | DatanodeConfig;

export interface ConfigOfRole {
  readonly master: MasterConfig;
  readonly metanode: MetanodeConfig;
  readonly datanode: DatanodeConfig;
}

// ---------------------------------------------------------------- ports

export interface InstancePort {
  /** Key name, as in the file and the flag. */
  readonly key: string;
  readonly port: number;
  /** What the port is for, in a few words, for messages. */
  readonly purpose: string;
}

const portPurposes = {
  port: 'service RPC',
  httpPort: 'HTTP admin and metrics',
  raftHeartbeatPort: 'Raft heartbeats',
  raftReplicaPort: 'Raft replication and snapshots',
} as const satisfies Partial<Record<keyof ServerConfigBase, string>>;

type PortField = keyof typeof portPurposes;
const portFields = Object.keys(portPurposes) as PortField[];

/** The instance's own ports, for `checkPortsFree` and for `listenOrExplain` messages. */
export function listInstancePorts(config: ServerConfigBase): InstancePort[] {
  return portFields.map((field) => ({ key: kebabCase(field), port: config[field], purpose: portPurposes[field] }));
}

// ---------------------------------------------------------------- keys shared by roles

interface DefaultPorts {
  readonly port: number;
  readonly httpPort: number;
  readonly raftHeartbeatPort: number;
  readonly raftReplicaPort: number;
}

type AddressFields = 'host' | PortField | 'instance' | 'dataDir' | 'zone';
type OperationFields = 'clusterSecret' | 'clusterSecretFile' | 'logLevel';

function addressKeys(defaults: DefaultPorts): SchemaKeys<Pick<ServerConfigBase, AddressFields>> {
  return {
    host: hostKey({ default: '127.0.0.1', description: 'address to listen on and to advertise to the master and peers' }),
    port: portKey({ default: defaults.port, description: 'service port for RPC from clients and other instances (0: pick a free one at start)' }),
    httpPort: portKey({ default: defaults.httpPort, description: 'HTTP port for the admin API, /metrics, /healthz and /readyz (0: pick a free one)' }),
    raftHeartbeatPort: portKey({ default: defaults.raftHeartbeatPort, description: 'port for Raft heartbeats, coalesced per pair of instances (0: pick a free one)' }),
    raftReplicaPort: portKey({ default: defaults.raftReplicaPort, description: 'port for Raft log replication and snapshots (0: pick a free one)' }),
    instance: stringKey({
      default: derivedDefault<string, { role: string; port: number }>('<role>-<port>', (earlier) => `${earlier.role}-${earlier.port}`),
      description: 'instance name, unique on the host; labels logs and metrics',
      pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
      patternText: 'up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    }),
    dataDir: pathKey({
      default: derivedDefault<string, { instance: string }>('./atoll-data/<instance>', (earlier, context) => resolve(context.baseDir, 'atoll-data', earlier.instance)),
      description: 'directory of this instance\'s state; locked (LOCK file) while the instance runs',
    }),
    zone: stringKey({
      default: 'default',
      description: 'failure domain of this instance; placement spreads replicas over zones',
      pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
      patternText: 'up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    }),
  };
}

function operationKeys(): SchemaKeys<Pick<ServerConfigBase, OperationFields>> {
  return {
    clusterSecret: optionalStringKey({
      secret: true,
      description: 'shared secret that authenticates node and client connections (flags show in ps: prefer cluster-secret-file)',
    }),
    clusterSecretFile: optionalPathKey({ description: 'file holding the cluster secret (one trailing newline is ignored)' }),
    logLevel: enumKey({
      values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const,
      default: 'info',
      description: 'least severe level written to the log',
    }),
  };
}

function mastersKey(): KeySpec<readonly HostPort[]> {
  return hostPortListKey({
    default: [{ host: '127.0.0.1', port: 17010 }],
    minItems: 1,
    aliases: ['master'],
    short: 'p',
    description: 'master addresses (host:port) to register with; repeat -p or separate with commas',
  });
}

function nodeWorkKeys(): SchemaKeys<NodeWorkLimits> {
  return {
    snapshotSendsMax: integerKey({
      default: 8,
      min: 1,
      max: 1024,
      description: 'Raft snapshots this instance sends at once to replicas that fell behind; more are tried again later',
    }),
    snapshotReceivesMax: integerKey({
      default: 16,
      min: 1,
      max: 1024,
      description: 'Raft snapshots this instance receives at once; more are refused (OVERLOADED) and their senders try again later',
    }),
  };
}

// ---------------------------------------------------------------- checks across keys

function rankOf(source: ConfigSource): number {
  if (source === 'flag') return 2;
  return source === 'default' ? 0 : 1;
}

/**
 * A secret may be given inline or as a file; the file form keeps it out of `ps` and
 * out of config files that get pasted into bug reports. The higher-precedence source
 * wins (a flag's file beats the config file's inline value); both from the same
 * source is ambiguous and refused. The file is read here so the server gets the value.
 */
export function resolveSecretPair<Config extends object>(
  config: Config,
  context: FinishContext<Config>,
  valueField: keyof Config & string,
  fileField: keyof Config & string,
  errors: ConfigError[],
): Config {
  const value = config[valueField] as string | undefined;
  const file = config[fileField] as string | undefined;
  const valueName = kebabCase(valueField);
  const fileName = kebabCase(fileField);
  if (file === undefined) return config;
  if (value !== undefined) {
    const valueRank = rankOf(context.sourceOf(valueField));
    const fileRank = rankOf(context.sourceOf(fileField));
    if (valueRank === fileRank) {
      errors.push(ConfigError.forKey(fileName, `give either ${valueName} or ${fileName}, not both`, context.sourceOf(fileField), context.flagOf(fileField)));
      return config;
    }
    if (valueRank > fileRank) return { ...config, [fileField]: undefined };
  }
  let contents: string;
  try {
    contents = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    errors.push(ConfigError.forKey(fileName, `cannot read ${file}: ${reason}`, context.sourceOf(fileField), context.flagOf(fileField), error));
    return config;
  }
  if (contents.length === 0) {
    errors.push(ConfigError.forKey(fileName, `${file} is empty`, context.sourceOf(fileField), context.flagOf(fileField)));
    return config;
  }
  return { ...config, [valueField]: contents };
}

/** Two of the instance's own ports must differ, unless both are 0 (each picks its own). */
function checkDistinctPorts<Config extends ServerConfigBase>(config: Config, context: FinishContext<Config>, errors: ConfigError[]): void {
  for (let later = 1; later < portFields.length; later++) {
    for (let earlier = 0; earlier < later; earlier++) {
      const laterField = portFields[later];
      const earlierField = portFields[earlier];
      const port = config[laterField];
      if (port === 0 || port !== config[earlierField]) continue;
      const earlierOrigin = context.sourceOf(earlierField) === 'flag' ? `flag ${context.flagOf(earlierField)}` : context.sourceOf(earlierField);
      errors.push(ConfigError.forKey(
        kebabCase(laterField),
        `same port as ${kebabCase(earlierField)} (both ${port}; ${kebabCase(earlierField)} from ${earlierOrigin}); each port of an instance must be different`,
        context.sourceOf(laterField),
        context.flagOf(laterField),
      ));
    }
  }
}

function finishServerConfig<Config extends ServerConfigBase>(config: Config, context: FinishContext<Config>): { config: Config; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  let finished = resolveSecretPair(config, context, 'clusterSecret', 'clusterSecretFile', errors);
  if ('adminToken' in finished) {
    finished = resolveSecretPair(finished, context, 'adminToken' as keyof Config & string, 'adminTokenFile' as keyof Config & string, errors);
  }
  checkDistinctPorts(finished, context, errors);
  return { config: finished, errors };
}

// ---------------------------------------------------------------- the roles

export const masterSchema: ConfigSchema<MasterConfig> = defineSchema<MasterConfig>({
  name: 'master',
  unknownKeyHints: {
    masters: 'a master names the members of its group in peers',
    master: 'a master names the members of its group in --peers',
    p: 'a master names the members of its group in --peers',
  },
  keys: {
    ...addressKeys({ port: 17010, httpPort: 17020, raftHeartbeatPort: 17030, raftReplicaPort: 17040 }),
    peers: hostPortListKey({
      default: [],
      description: 'service addresses (host:port) of all master group members, this one included; empty for a single master',
    }),
    adminToken: optionalStringKey({ secret: true, description: 'token the HTTP admin API requires (prefer admin-token-file)' }),
    adminTokenFile: optionalPathKey({ description: 'file holding the admin API token (one trailing newline is ignored)' }),
    backend: enumKey({
      values: ['raft', 'etcd'] as const,
      default: 'raft',
      description: 'where the masters keep their state and elect a leader: raft (their own group) or etcd (an etcd cluster, see etcd)',
    }),
    etcd: hostPortListKey({
      default: [],
      description: 'etcd client endpoints (host:port) for backend etcd',
    }),
    etcdPrefix: stringKey({
      default: '/atollfs/atoll',
      description: 'key prefix of this cluster in etcd (backend etcd); one prefix per cluster',
      pattern: /^\/[A-Za-z0-9._\/-]{1,200}$/,
      patternText: 'a "/" then up to 200 letters, digits, ".", "_", "-" or "/"',
    }),
    etcdLeaseTtl: durationKey({
      default: 5_000,
      min: 2_000,
      max: 60_000,
      description: 'TTL of the leader election lease in etcd (backend etcd); a leader that cannot renew it stops writing before it expires',
    }),
    ...operationKeys(),
  },
  finish: finishMasterConfig,
});

function finishMasterConfig(config: MasterConfig, context: FinishContext<MasterConfig>): { config: MasterConfig; errors: ConfigError[] } {
  const finished = finishServerConfig(config, context);
  if (finished.config.backend === 'etcd' && finished.config.etcd.length === 0) {
    finished.errors.push(ConfigError.forKey('etcd', 'backend etcd needs the etcd endpoints (host:port,...)', context.sourceOf('etcd'), context.flagOf('etcd')));
  }
  return finished;
}

export const metanodeSchema: ConfigSchema<MetanodeConfig> = defineSchema<MetanodeConfig>({
  name: 'metanode',
  keys: {
    ...addressKeys({ port: 17210, httpPort: 17220, raftHeartbeatPort: 17230, raftReplicaPort: 17240 }),
    masters: mastersKey(),
    memoryBudget: byteSizeKey({
      default: 2 ** 30,
      min: 64 * 2 ** 20,
      description: 'memory for metadata; past it the metanode takes no new partitions',
    }),
    engine: enumKey({
      values: ['memory', 'lmdb'] as const,
      default: 'memory',
      description: 'meta partition store: memory (snapshot + log) or lmdb (on disk, memory-mapped)',
    }),
    ...nodeWorkKeys(),
    ...operationKeys(),
  },
  finish: finishServerConfig,
});

export const datanodeSchema: ConfigSchema<DatanodeConfig> = defineSchema<DatanodeConfig>({
  name: 'datanode',
  keys: {
    ...addressKeys({ port: 17310, httpPort: 17320, raftHeartbeatPort: 17330, raftReplicaPort: 17340 }),
    masters: mastersKey(),
    disks: pathListKey({
      default: derivedDefault<readonly string[], { dataDir: string }>('<data-dir>/disk0', (earlier) => [join(earlier.dataDir, 'disk0')]),
      minItems: 1,
      description: 'directories holding data partitions, one per physical disk',
    }),
    diskReserved: byteSizeKey({
      default: 2 ** 30,
      description: 'space kept free on each disk; a disk below it takes no new data',
    }),
    diskCapacity: byteSizeKey({
      default: 0,
      description: 'bytes of data partitions each disk may hold (a budget below the disk\'s size); 0: the whole disk',
    }),
    repairsInFlightMax: integerKey({
      default: 4,
      min: 1,
      max: 1024,
      description: 'partition repairs this datanode carries out at once (as leader and for leaders); more are refused and retried by the next repair round',
    }),
    ...nodeWorkKeys(),
    ...operationKeys(),
  },
  finish: finishServerConfig,
});

export const roleSchemas: { readonly [Role in ServerRole]: ConfigSchema<ConfigOfRole[Role]> } = {
  master: masterSchema,
  metanode: metanodeSchema,
  datanode: datanodeSchema,
};

export const serverRoles: readonly ServerRole[] = ['master', 'metanode', 'datanode'];
