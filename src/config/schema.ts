// A small declarative schema: each config key is one KeySpec built by a helper below
// (`portKey`, `byteSizeKey`, ...). The spec knows how to read the key from flag text and
// from a TOML/JSON value, its default, and its one-line description; help text, README
// and the loader are all driven by it, so a key cannot exist without being documented
// and validated.
//
// The schema is keyed by the camelCase field of the typed config (`httpPort`); the
// file key and flag are the kebab-case spelling of it (`http-port`). Typing the schema as
// `SchemaKeys<MasterConfig>` makes the compiler check that every field has a spec of the
// right value type and that there is no spec without a field.

import assert from 'node:assert/strict';
import type { ConfigError, ConfigSource } from './config-error.js';
import { isAbsolute, resolve } from 'node:path';
import {
  type HostPort,
  type Parsed,
  describeGiven,
  formatByteSize,
  formatDuration,
  formatHostPort,
  integerRangeText,
  parseBoolean,
  parseByteSize,
  parseDuration,
  parseHost,
  parseHostPort,
  parseInteger,
  parsedValue,
  parseProblem,
  splitCommaList,
} from './value-types.js';

export interface ParseContext {
  /**
   * What relative paths are resolved against: the config file's directory for values
   * from the file (so a file can be moved together with the data it names), the working
   * directory for flags and defaults.
   */
  readonly baseDir: string;
}

export type KeyKind =
  | 'string'
  | 'host'
  | 'path'
  | 'integer'
  | 'port'
  | 'boolean'
  | 'enum'
  | 'byte-size'
  | 'duration'
  | 'string-list'
  | 'path-list'
  | 'host-port-list';

/**
 * A default computed from keys declared earlier in the same schema (`instance` from
 * `port`, `disks` from `data-dir`). `text` is what help and README show.
 */
export interface DerivedDefault<T> {
  readonly kind: 'derived';
  readonly text: string;
  readonly derive: (earlier: unknown, context: ParseContext) => T;
}

export type DefaultValue<T> = { readonly kind: 'fixed'; readonly value: T } | DerivedDefault<T>;

/** `earlier` holds the already resolved keys (camelCase) plus `role`. */
export function derivedDefault<T, Earlier>(text: string, derive: (earlier: Earlier, context: ParseContext) => T): DerivedDefault<T> {
  return { kind: 'derived', text, derive: derive as (earlier: unknown, context: ParseContext) => T };
}

export interface KeySpec<T> {
  readonly kind: KeyKind;
  readonly description: string;
  /** Placeholder after the flag in help text: `--port <port>`. */
  readonly valueHint: string;
  readonly defaultValue: DefaultValue<T>;
  /** Extra long flag names (`--master` for `masters`); files use the key name only. */
  readonly aliases: readonly string[];
  /** One-letter flag (`p` for `-p`). */
  readonly short: string | undefined;
  /** Lists accumulate over repeated flags and comma-separated items. */
  readonly isList: boolean;
  /** Booleans are set by `--flag` / `--no-flag` and take no separate value argument. */
  readonly isBoolean: boolean;
  /** Never printed: shown as `(hidden)` by `redactConfig`. */
  readonly secret: boolean;
  /** For enums: the allowed values, for help text and suggestions. */
  readonly allowedValues: readonly string[] | undefined;
  /** Parses the text of one flag occurrence (for lists: one or more comma-separated items). */
  parseFlagText(text: string, context: ParseContext): Parsed<T>;
  /** Converts a value read from a TOML or JSON file. */
  parseFileValue(value: unknown, context: ParseContext): Parsed<T>;
  /** Checks the final value (ranges, list duplicates); returns a problem or undefined. */
  validate(value: T): string | undefined;
  /** Shows a value the way it would be written in a file or flag. */
  format(value: T): string;
}

export type SchemaKeys<Config> = { readonly [Field in keyof Config]-?: KeySpec<Config[Field]> };

export interface FinishContext<Config> {
  /** Where each key's value came from, by camelCase field. */
  readonly sourceOf: (field: keyof Config) => ConfigSource;
  /** The flag as typed for a key set by flag (`-p`), for messages. */
  readonly flagOf: (field: keyof Config) => string | undefined;
}

export interface ConfigSchema<Config> {
  /** Role name: used in help text, and given to derived defaults as `role`. */
  readonly name: string;
  readonly keys: SchemaKeys<Config>;
  /**
   * Advice for names that users bring from other roles or tools (`masters` on a
   * master), by key name (or short flag letter); shown instead of "did you mean".
   */
  readonly unknownKeyHints?: Readonly<Record<string, string>>;
  /**
   * Checks that span keys (two ports equal) and values that need I/O (secret files),
   * run after every key is valid on its own. Returns the finished config and problems.
   */
  readonly finish?: (config: Config, context: FinishContext<Config>) => { config: Config; errors: ConfigError[] };
}

// ---------------------------------------------------------------- names

/** `raftHeartbeatPort` -> `raft-heartbeat-port`: the file key and the flag name. */
export function kebabCase(field: string): string {
  return field.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

// ---------------------------------------------------------------- builders

interface CommonOptions<T> {
  readonly description: string;
  readonly default: T | DerivedDefault<T>;
  readonly aliases?: readonly string[];
  readonly short?: string;
  readonly secret?: boolean;
}

function isDerived<T>(value: T | DerivedDefault<T>): value is DerivedDefault<T> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'derived' && 'derive' in value;
}

interface ScalarParts<T> {
  readonly kind: KeyKind;
  readonly valueHint: string;
  readonly parse: (given: unknown, context: ParseContext) => Parsed<T>;
  readonly validate?: (value: T) => string | undefined;
  readonly format: (value: T) => string;
  readonly allowedValues?: readonly string[];
}

function scalarKey<T>(options: CommonOptions<T>, parts: ScalarParts<T>): KeySpec<T> {
  const validate = parts.validate ?? (() => undefined);
  const checked = (parsed: Parsed<T>): Parsed<T> => {
    if (!parsed.ok) return parsed;
    const problem = validate(parsed.value);
    return problem === undefined ? parsed : parseProblem(problem);
  };
  return {
    kind: parts.kind,
    description: options.description,
    valueHint: parts.valueHint,
    defaultValue: isDerived(options.default) ? options.default : { kind: 'fixed', value: options.default },
    aliases: options.aliases ?? [],
    short: options.short,
    isList: false,
    isBoolean: parts.kind === 'boolean',
    secret: options.secret ?? false,
    allowedValues: parts.allowedValues,
    parseFlagText: (text, context) => checked(parts.parse(text, context)),
    parseFileValue: (value, context) => checked(parts.parse(value, context)),
    validate,
    format: parts.format,
  };
}

export function stringKey(
  options: CommonOptions<string> & { readonly pattern?: RegExp; readonly patternText?: string },
): KeySpec<string> {
  return scalarKey(options, {
    kind: 'string',
    valueHint: '<text>',
    parse: (given) => (typeof given === 'string' ? parsedValue(given) : parseProblem(`must be text, got ${describeGiven(given)}`)),
    validate: (value) => {
      if (options.pattern !== undefined && !options.pattern.test(value)) {
        return `must be ${options.patternText ?? `text matching ${options.pattern}`}, got ${describeGiven(value)}`;
      }
      return undefined;
    },
    format: (value) => value,
  });
}

/** Text that may be absent (secrets, tokens); never empty when present. */
export function optionalStringKey(options: Omit<CommonOptions<string | undefined>, 'default'>): KeySpec<string | undefined> {
  return scalarKey<string | undefined>({ ...options, default: undefined }, {
    kind: 'string',
    valueHint: '<text>',
    parse: (given) => {
      if (typeof given !== 'string') return parseProblem(`must be text, got ${describeGiven(given)}`);
      if (given.length === 0) return parseProblem('must not be empty (leave the key out instead)');
      return parsedValue(given);
    },
    format: (value) => value ?? '',
  });
}

export function hostKey(options: CommonOptions<string>): KeySpec<string> {
  return scalarKey(options, { kind: 'host', valueHint: '<host>', parse: parseHost, format: (value) => value });
}

function parsePath(given: unknown, context: ParseContext): Parsed<string> {
  if (typeof given !== 'string' || given.trim().length === 0) return parseProblem(`must be a path, got ${describeGiven(given)}`);
  return parsedValue(isAbsolute(given) ? resolve(given) : resolve(context.baseDir, given));
}

/** A file or directory; made absolute when read (see ParseContext for relative to what). */
export function pathKey(options: CommonOptions<string>): KeySpec<string> {
  return scalarKey(options, { kind: 'path', valueHint: '<path>', parse: parsePath, format: (value) => value });
}

export function optionalPathKey(options: Omit<CommonOptions<string | undefined>, 'default'>): KeySpec<string | undefined> {
  return scalarKey<string | undefined>({ ...options, default: undefined }, {
    kind: 'path',
    valueHint: '<path>',
    parse: parsePath,
    format: (value) => value ?? '',
  });
}

export function integerKey(options: CommonOptions<number> & { readonly min?: number; readonly max?: number }): KeySpec<number> {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return scalarKey(options, {
    kind: 'integer',
    valueHint: '<n>',
    parse: (given) => parseInteger(given, min, max),
    validate: (value) => (Number.isSafeInteger(value) && value >= min && value <= max ? undefined : `must be ${integerRangeText(min, max)}, got ${value}`),
    format: (value) => String(value),
  });
}

/** 0 to 65535; 0 means "pick a free port at start" (tests and `atoll start` use it). */
export function portKey(options: CommonOptions<number>): KeySpec<number> {
  return { ...integerKey({ ...options, min: 0, max: 65535 }), kind: 'port', valueHint: '<port>' };
}

export function booleanKey(options: CommonOptions<boolean>): KeySpec<boolean> {
  return scalarKey(options, { kind: 'boolean', valueHint: '', parse: parseBoolean, format: (value) => String(value) });
}

export function enumKey<const Value extends string>(options: CommonOptions<Value> & { readonly values: readonly Value[] }): KeySpec<Value> {
  const allowed: readonly string[] = options.values;
  const list = options.values.join(', ');
  return scalarKey(options, {
    kind: 'enum',
    valueHint: `<${options.values.join('|')}>`,
    parse: (given) => (typeof given === 'string' && allowed.includes(given)
      ? parsedValue(given as Value)
      : parseProblem(`must be one of ${list}, got ${describeGiven(given)}`)),
    format: (value) => value,
    allowedValues: options.values,
  });
}

export function byteSizeKey(options: CommonOptions<number> & { readonly min?: number; readonly max?: number }): KeySpec<number> {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return scalarKey(options, {
    kind: 'byte-size',
    valueHint: '<size>',
    parse: parseByteSize,
    validate: (value) => {
      if (value < min) return `must be at least ${formatByteSize(min)}, got ${formatByteSize(value)}`;
      if (value > max) return `must be at most ${formatByteSize(max)}, got ${formatByteSize(value)}`;
      return undefined;
    },
    format: formatByteSize,
  });
}

export function durationKey(options: CommonOptions<number> & { readonly min?: number; readonly max?: number }): KeySpec<number> {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return scalarKey(options, {
    kind: 'duration',
    valueHint: '<duration>',
    parse: parseDuration,
    validate: (value) => {
      if (value < min) return `must be at least ${formatDuration(min)}, got ${formatDuration(value)}`;
      if (value > max) return `must be at most ${formatDuration(max)}, got ${formatDuration(value)}`;
      return undefined;
    },
    format: formatDuration,
  });
}

/**
 * The same key without a default: absent unless given (a command's optional setting,
 * such as a PATCH field). The inner spec's default is ignored.
 */
export function optionalKey<T>(spec: KeySpec<T>): KeySpec<T | undefined> {
  return {
    ...spec,
    defaultValue: { kind: 'fixed', value: undefined },
    validate: (value) => (value === undefined ? undefined : spec.validate(value)),
    format: (value) => (value === undefined ? '' : spec.format(value)),
  };
}

// ---------------------------------------------------------------- lists

interface ListParts<Item> {
  readonly kind: KeyKind;
  readonly valueHint: string;
  readonly parseItem: (given: unknown, context: ParseContext) => Parsed<Item>;
  readonly formatItem: (item: Item) => string;
  /** Two items that mean the same thing get the same identity (duplicate check). */
  readonly identity: (item: Item) => string;
}

interface ListOptions<Item> extends CommonOptions<readonly Item[]> {
  readonly minItems?: number;
}

function listKey<Item>(options: ListOptions<Item>, parts: ListParts<Item>): KeySpec<readonly Item[]> {
  const minItems = options.minItems ?? 0;
  const parseItems = (items: readonly unknown[], context: ParseContext): Parsed<readonly Item[]> => {
    const values: Item[] = [];
    for (const item of items) {
      const parsed = parts.parseItem(item, context);
      if (!parsed.ok) return parseProblem(`item ${describeGiven(item)}: ${parsed.problem}`);
      values.push(parsed.value);
    }
    return parsedValue(values);
  };
  return {
    kind: parts.kind,
    description: options.description,
    valueHint: parts.valueHint,
    defaultValue: isDerived(options.default) ? options.default : { kind: 'fixed', value: options.default },
    aliases: options.aliases ?? [],
    short: options.short,
    isList: true,
    isBoolean: false,
    secret: options.secret ?? false,
    allowedValues: undefined,
    parseFlagText: (text, context) => parseItems(splitCommaList(text), context),
    parseFileValue: (value, context) => {
      if (!Array.isArray(value)) {
        return parseProblem(`must be a list (an array like ["a", "b"]), got ${describeGiven(value)}`);
      }
      return parseItems(value, context);
    },
    validate: (value) => {
      if (value.length < minItems) return minItems === 1 ? 'must not be empty' : `must have at least ${minItems} items, got ${value.length}`;
      const seen = new Set<string>();
      for (const item of value) {
        const identity = parts.identity(item);
        if (seen.has(identity)) return `lists ${parts.formatItem(item)} twice`;
        seen.add(identity);
      }
      return undefined;
    },
    format: (value) => value.map(parts.formatItem).join(','),
  };
}

export function stringListKey(options: ListOptions<string>): KeySpec<readonly string[]> {
  return listKey(options, {
    kind: 'string-list',
    valueHint: '<text,...>',
    parseItem: (given) => (typeof given === 'string' && given.length > 0 ? parsedValue(given) : parseProblem('must be non-empty text')),
    formatItem: (item) => item,
    identity: (item) => item,
  });
}

export function pathListKey(options: ListOptions<string>): KeySpec<readonly string[]> {
  return listKey(options, {
    kind: 'path-list',
    valueHint: '<path,...>',
    parseItem: parsePath,
    formatItem: (item) => item,
    identity: (item) => item,
  });
}

export function hostPortListKey(options: ListOptions<HostPort>): KeySpec<readonly HostPort[]> {
  return listKey(options, {
    kind: 'host-port-list',
    valueHint: '<host:port,...>',
    parseItem: parseHostPort,
    formatItem: formatHostPort,
    identity: (item) => `${item.host.toLowerCase()} ${item.port}`,
  });
}

// ---------------------------------------------------------------- definition checks

/** Flag names taken by the loader itself. */
export const reservedFlagNames: readonly string[] = ['config', 'help'];

/**
 * Builds a schema and checks it once, when the module loads: names unique across keys,
 * aliases and short flags, fixed defaults valid. A bad schema is a bug, so it fails an
 * assertion rather than producing a ConfigError.
 */
export function defineSchema<Config>(schema: ConfigSchema<Config>): ConfigSchema<Config> {
  const takenNames = new Set<string>(reservedFlagNames);
  const takenShorts = new Set<string>(['h']);
  for (const [field, spec] of Object.entries(schema.keys) as [string, KeySpec<unknown>][]) {
    const name = kebabCase(field);
    assert.match(name, /^[a-z][a-z0-9-]*$/, `schema ${schema.name}: bad key name ${name}`);
    assert.ok(spec.description.length > 0 && !spec.description.includes('\n'), `schema ${schema.name}: ${name} needs a one-line description`);
    for (const flagName of [name, ...spec.aliases]) {
      assert.ok(!takenNames.has(flagName), `schema ${schema.name}: flag name ${flagName} used twice`);
      assert.ok(!flagName.startsWith('no-'), `schema ${schema.name}: ${flagName} clashes with --no-<flag>`);
      takenNames.add(flagName);
    }
    if (spec.short !== undefined) {
      assert.match(spec.short, /^[a-zA-Z]$/, `schema ${schema.name}: ${name}: short flag must be one letter`);
      assert.ok(!takenShorts.has(spec.short), `schema ${schema.name}: short flag -${spec.short} used twice`);
      takenShorts.add(spec.short);
    }
    if (spec.defaultValue.kind === 'fixed') {
      const problem = spec.validate(spec.defaultValue.value);
      assert.equal(problem, undefined, `schema ${schema.name}: ${name}: default ${spec.format(spec.defaultValue.value)} ${problem}`);
    }
  }
  return schema;
}

/** Describes the default for help and README: the value, the rule, or "none". */
export function describeDefault(spec: KeySpec<unknown>): string {
  if (spec.defaultValue.kind === 'derived') return spec.defaultValue.text;
  const value = spec.defaultValue.value;
  if (value === undefined) return 'none';
  if (Array.isArray(value) && value.length === 0) return 'empty';
  return spec.format(value);
}

/** A copy of the config with secret keys replaced by "(hidden)", for logs and status pages. */
export function redactSecrets<Config extends object>(schema: ConfigSchema<Config>, config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(config)) {
    const spec = (schema.keys as Record<string, KeySpec<unknown> | undefined>)[field];
    shown[field] = spec?.secret === true && value !== undefined ? '(hidden)' : value;
  }
  return shown;
}
