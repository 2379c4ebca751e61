// Public face of the configuration layer: typed per-role configs loaded from defaults,
// a TOML/JSON file and flags, plus the two start-up checks every server runs (its data
// directory lock and its ports). Schema building blocks stay internal: new roles are
// added in roles.ts.

export { ConfigError, type ConfigSource } from './config-error.js';
export { isHelpRequested } from './flags.js';
export { configFileOf, describeFlags, loadConfig, redactConfig, type LoadedConfig, type LoadOptions } from './load-config.js';
export {
  listInstancePorts,
  serverRoles,
  type ConfigOfRole,
  type DatanodeConfig,
  type InstancePort,
  type LogLevel,
  type MasterConfig,
  type MetadataEngine,
  type MetanodeConfig,
  type ServerConfig,
  type ServerConfigBase,
  type ServerRole,
} from './roles.js';
export { formatByteSize, formatDuration, formatHostPort, type HostPort } from './value-types.js';
export { describePortOwner, findPortOwner, type PortOwner } from './port-owner.js';
export { PortUnavailableError, checkPortsFree, explainListenError, listenOrExplain, type PortProblem, type PortToCheck } from './port-check.js';
export {
  DataDirLockedError,
  acquireDataDirLock,
  describeInstance,
  type DataDirLock,
  type DataDirLockOwner,
  type DataDirLockHolder,
  type DataDirLockProblem,
} from './data-dir-lock.js';
// The schema helpers, for commands other than the server roles (`atoll start`, ...), so
// every command parses flags and files the same way.
export {
  defineSchema,
  integerKey,
  booleanKey,
  pathKey,
  stringKey,
  byteSizeKey,
  durationKey,
  enumKey,
  hostPortListKey,
  optionalKey,
  optionalPathKey,
  optionalStringKey,
  type ConfigSchema,
  type FinishContext,
  type SchemaKeys,
} from './schema.js';
// Reads a secret given inline or as a file (`cluster-secret` / `cluster-secret-file`), for
// a schema's `finish`.
export { resolveSecretPair } from './roles.js';
export { resolveConfig, describeSchemaFlags } from './load-config.js';
