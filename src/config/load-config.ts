// Turns defaults, a config file and command-line flags into one typed config.
// Precedence: defaults < file (--config) < flags. Every problem is collected and thrown
// together as one ConfigError, so one run shows everything that needs fixing.

import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { ConfigError, type ConfigSource } from './config-error.js';
import { type ConfigFileContents, readConfigFile } from './config-file.js';
import { type FlagDefinition, parseArguments } from './flags.js';
import { type ConfigOfRole, type ServerRole, roleSchemas } from './roles.js';
import { type ConfigSchema, type KeySpec, type ParseContext, describeDefault, kebabCase, redactSecrets } from './schema.js';
import { closestName } from './suggest.js';

export interface LoadedConfig<Config> {
  readonly config: Config;
  /** Arguments that are not flags (and everything after `--`), in order. */
  readonly positional: readonly string[];
  /** Absolute path of the `--config` file, when one was given. */
  readonly configFile?: string;
}

export interface LoadOptions {
  /** Base for relative paths in flags and defaults; `process.cwd()` if not given. */
  readonly workingDirectory?: string;
}

const configFlag: FlagDefinition = { name: 'config', aliases: [], short: undefined, isBoolean: false, isList: false };

/** Thrown inside a derived default that needs a key which already failed; not a user error. */
class EarlierKeyFailed {}

interface Origin {
  readonly source: ConfigSource;
  readonly flag: string | undefined;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The loader for any schema; `loadConfig` picks the schema by role. */
export function resolveConfig<Config>(schema: ConfigSchema<Config>, argv: readonly string[], options: LoadOptions = {}): LoadedConfig<Config> {
  const workingDirectory = options.workingDirectory ?? process.cwd();
  const entries = Object.entries(schema.keys) as [string, KeySpec<unknown>][];
  const fieldByName = new Map(entries.map(([field]) => [kebabCase(field), field]));
  const errors: ConfigError[] = [];

  const definitions: FlagDefinition[] = [
    configFlag,
    ...entries.map(([field, spec]) => ({ name: kebabCase(field), aliases: spec.aliases, short: spec.short, isBoolean: spec.isBoolean, isList: spec.isList })),
  ];
  const hints = schema.unknownKeyHints ?? {};
  const parsedArguments = parseArguments(argv, definitions, hints);
  errors.push(...parsedArguments.errors);

  let file: ConfigFileContents | undefined;
  const configOccurrence = parsedArguments.occurrences.find((occurrence) => occurrence.name === configFlag.name);
  if (configOccurrence !== undefined) {
    try {
      file = readConfigFile(configOccurrence.text, workingDirectory);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      errors.push(error);
    }
  }
  if (file !== undefined) {
    for (const key of Object.keys(file.values)) {
      if (fieldByName.has(key)) continue;
      const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
      const suggestion = closestName(key, [...fieldByName.keys()]);
      const advice = hint !== undefined ? `; ${hint}` : suggestion !== undefined ? `; did you mean ${suggestion}?` : '';
      errors.push(ConfigError.forKey(key, `unknown key${advice}`, file.source));
    }
  }

  const resolved: Record<string, unknown> = {};
  const origins = new Map<string, Origin>();
  const failed = new Set<string>();
  // Derived defaults see only keys resolved before them; reading a later key is a
  // schema ordering bug, reading a failed one means its own error is already reported.
  const earlier = new Proxy(resolved, {
    get(target, property) {
      if (property === 'role') return schema.name;
      if (typeof property === 'string' && failed.has(property)) throw new EarlierKeyFailed();
      assert.ok(typeof property === 'string' && property in target, `schema ${schema.name}: derived default reads ${String(property)} before it is resolved`);
      return target[property];
    },
  });
  const flagContext: ParseContext = { baseDir: workingDirectory };
  const fileContext: ParseContext = { baseDir: file === undefined ? workingDirectory : dirname(file.path) };

  for (const [field, spec] of entries) {
    const name = kebabCase(field);
    const occurrences = parsedArguments.occurrences.filter((occurrence) => occurrence.name === name);
    const fail = (problem: string, origin: Origin): void => {
      errors.push(ConfigError.forKey(name, problem, origin.source, origin.flag));
      failed.add(field);
    };
    let value: unknown;
    let origin: Origin;
    if (occurrences.length > 0) {
      // Flags replace the file's value; repeated list flags add up.
      origin = { source: 'flag', flag: occurrences[0].flag };
      const parts: unknown[] = [];
      for (const occurrence of occurrences) {
        const parsed = spec.parseFlagText(occurrence.text, flagContext);
        if (parsed.ok) parts.push(parsed.value);
        else fail(parsed.problem, { source: 'flag', flag: occurrence.flag });
      }
      if (failed.has(field)) continue;
      value = spec.isList ? (parts as unknown[][]).flat() : parts[0];
    } else if (file !== undefined && Object.hasOwn(file.values, name)) {
      origin = { source: file.source, flag: undefined };
      const parsed = spec.parseFileValue(file.values[name], fileContext);
      if (!parsed.ok) {
        fail(parsed.problem, origin);
        continue;
      }
      value = parsed.value;
    } else {
      origin = { source: 'default', flag: undefined };
      if (spec.defaultValue.kind === 'fixed') {
        value = spec.defaultValue.value;
      } else {
        try {
          value = spec.defaultValue.derive(earlier, flagContext);
        } catch (error) {
          if (!(error instanceof EarlierKeyFailed)) throw error;
          failed.add(field);
          continue;
        }
      }
    }
    // Whole-value checks (list length, duplicates) after combining repeated flags.
    const problem = spec.validate(value);
    if (problem !== undefined) {
      fail(problem, origin);
      continue;
    }
    resolved[field] = value;
    origins.set(field, origin);
  }

  if (errors.length === 0 && schema.finish !== undefined) {
    const originOf = (field: PropertyKey): Origin => {
      const origin = origins.get(String(field));
      assert.ok(origin !== undefined, `schema ${schema.name}: no origin for ${String(field)}`);
      return origin;
    };
    const finished = schema.finish(resolved as Config, {
      sourceOf: (field) => originOf(field).source,
      flagOf: (field) => originOf(field).flag,
    });
    errors.push(...finished.errors);
    if (errors.length === 0) return { config: deepFreeze(finished.config), positional: parsedArguments.positional, ...fileOf(file) };
  }
  if (errors.length > 0) throw ConfigError.combine(errors);
  return { config: deepFreeze(resolved as Config), positional: parsedArguments.positional, ...fileOf(file) };
}

function fileOf(file: ConfigFileContents | undefined): { configFile?: string } {
  return file === undefined ? {} : { configFile: file.path };
}

/**
 * Loads the config of a server role from defaults, `--config FILE` and flags in `argv`
 * (the arguments after the role's sub-command). Throws ConfigError listing every problem.
 * `--help` is not handled here: check `isHelpRequested(argv)` first and print `describeFlags(role)`.
 */
export function loadConfig<Role extends ServerRole>(role: Role, argv: readonly string[], options: LoadOptions = {}): LoadedConfig<ConfigOfRole[Role]> {
  const loaded = resolveConfig(roleSchemas[role] as ConfigSchema<ConfigOfRole[Role]>, argv, options);
  if (loaded.configFile !== undefined) configFiles.set(loaded.config, loaded.configFile);
  return loaded;
}

// The file each loaded server config came from, so the instance can name it in its LOCK
// and instance.json (and other instances in their refusals) without the file being a key
// of the schema. Keyed by the frozen config object the loader returned.
const configFiles = new WeakMap<object, string>();

/** Absolute path of the `--config` file `config` was loaded from by `loadConfig`, if any. */
export function configFileOf(config: object): string | undefined {
  return configFiles.get(config);
}

// ---------------------------------------------------------------- help text

const descriptionColumn = 36;

/** Help text listing every flag of a schema with its description and default. */
export function describeSchemaFlags<Config>(schema: ConfigSchema<Config>, command = `atoll ${schema.name}`): string {
  const entries = Object.entries(schema.keys) as [string, KeySpec<unknown>][];
  const rows: [string, string][] = [['--config <file>', 'read settings from a TOML (.toml) or JSON (.json) file; flags override it']];
  for (const [field, spec] of entries) {
    const name = kebabCase(field);
    const names = [...(spec.short === undefined ? [] : [`-${spec.short}`]), ...[name, ...spec.aliases].map((flagName) => `--${flagName}`)];
    const left = spec.isBoolean ? names.map((flagName) => flagName.replace(/^--/, '--[no-]')).join(', ') : `${names.join(', ')} ${spec.valueHint}`;
    rows.push([left, `${spec.description} [default: ${describeDefault(spec)}]`]);
  }
  const lines = [`Usage: ${command} [options]`, '', 'Options (defaults < --config file < flags):'];
  for (const [left, description] of rows) {
    if (left.length + 2 >= descriptionColumn) {
      lines.push(`  ${left}`, `${' '.repeat(descriptionColumn)}${description}`);
    } else {
      lines.push(`  ${left.padEnd(descriptionColumn - 2)}${description}`);
    }
  }
  const kinds = new Set(entries.map(([, spec]) => spec.kind));
  const notes: string[] = [];
  if (entries.some(([, spec]) => spec.isList)) notes.push('Lists: repeat the flag or separate items with commas; flags replace the file\'s list.');
  if (kinds.has('byte-size')) notes.push('Sizes: 4096, 512MiB, 10GiB (powers of 1024) or 10GB (powers of 1000).');
  if (kinds.has('duration')) notes.push('Durations: 200ms, 5s, 1m30s, 1h.');
  if (kinds.has('path') || kinds.has('path-list')) notes.push('Relative paths: from the working directory in flags, from the file\'s directory in a config file.');
  return [...lines, ...(notes.length > 0 ? ['', ...notes] : [])].join('\n') + '\n';
}

/** Help text for `atoll <role> --help`. */
export function describeFlags(role: ServerRole): string {
  return describeSchemaFlags(roleSchemas[role] as ConfigSchema<unknown>);
}

/** The config with secret values shown as "(hidden)", for logs and /status. */
export function redactConfig<Role extends ServerRole>(role: Role, config: ConfigOfRole[Role]): Record<string, unknown> {
  return redactSecrets(roleSchemas[role] as ConfigSchema<ConfigOfRole[Role]>, config);
}

