// The one error type of the configuration layer. A start-up usually has several
// problems at once (a typo in the file and a bad flag), so the loader collects them and
// throws a single ConfigError whose message lists them all, one per line; fixing a
// config one error per run is the experience this avoids.

import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';

/** Where a value came from; part of every message so the user knows what to edit. */
export type ConfigSource = 'default' | 'flag' | `file ${string}`;

export class ConfigError extends AtollError {
  override readonly name = 'ConfigError';
  /** The key (kebab-case, as in the file and the flag) the problem is about. */
  readonly key: string;
  readonly source: ConfigSource;
  /** Every problem found; `[this]` for a single one. */
  readonly errors: readonly ConfigError[];

  constructor(message: string, details: { key: string; source: ConfigSource; errors?: readonly ConfigError[]; cause?: unknown }) {
    super(StatusCode.INVALID_ARGUMENT, message, { cause: details.cause });
    this.key = details.key;
    this.source = details.source;
    this.errors = details.errors ?? [this];
  }

  /**
   * Builds the usual message shape: `config: <key>: <problem> (from <origin>)`, where
   * origin is the flag as typed (`flag --http-port`), the file, or `default`.
   */
  static forKey(key: string, problem: string, source: ConfigSource, flagAsTyped?: string, cause?: unknown): ConfigError {
    const origin = source === 'flag' && flagAsTyped !== undefined ? `flag ${flagAsTyped}` : source;
    return new ConfigError(`config: ${key}: ${problem} (from ${origin})`, { key, source, cause });
  }

  /**
   * One error carrying all of `errors`. Key and source are those of the first problem
   * so a caller that only looks at one still sees a real one.
   */
  static combine(errors: readonly ConfigError[]): ConfigError {
    if (errors.length === 0) throw new Error('ConfigError.combine: no errors to combine');
    if (errors.length === 1) return errors[0];
    const flattened = errors.flatMap((error) => error.errors);
    const first = flattened[0];
    const message = flattened.map((error) => error.message).join('\n');
    return new ConfigError(message, { key: first.key, source: first.source, errors: flattened });
  }
}
