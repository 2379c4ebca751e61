// Command-line flags to (flag, text) occurrences, without interpreting values: typing
// them is the schema's job, so a value from a flag and one from a file go through the
// same parser and give the same message.
//
// Accepted forms: `--key value`, `--key=value`, `--flag` / `--no-flag` for on/off keys,
// `-p value` / `-p=value` for one-letter flags, and `--` to end the flags. A value that
// starts with "-" must use the `=` form, so a forgotten value never swallows the next flag.

import { ConfigError } from './config-error.js';
import { closestName } from './suggest.js';

export interface FlagDefinition {
  /** Canonical kebab-case name: `--name`. */
  readonly name: string;
  readonly aliases: readonly string[];
  readonly short: string | undefined;
  readonly isBoolean: boolean;
  /** Lists may be given repeatedly; anything else only once. */
  readonly isList: boolean;
}

export interface FlagOccurrence {
  /** Canonical name of the definition it matched. */
  readonly name: string;
  /** The flag as typed (`-p`, `--master`), for messages. */
  readonly flag: string;
  /** The value text; "true"/"false" for `--flag`/`--no-flag`. */
  readonly text: string;
}

export interface ParsedArguments {
  readonly occurrences: readonly FlagOccurrence[];
  readonly positional: readonly string[];
  readonly errors: readonly ConfigError[];
}

/**
 * `hints` explains names that are known to be wrong for this command (`--masters` given
 * to a master), by name without dashes; they replace the did-you-mean suggestion.
 */
export function parseArguments(
  argv: readonly string[],
  definitions: readonly FlagDefinition[],
  hints: Readonly<Record<string, string>> = {},
): ParsedArguments {
  const byLongName = new Map<string, FlagDefinition>();
  const byShortName = new Map<string, FlagDefinition>();
  for (const definition of definitions) {
    for (const name of [definition.name, ...definition.aliases]) byLongName.set(name, definition);
    if (definition.short !== undefined) byShortName.set(definition.short, definition);
  }
  const occurrences: FlagOccurrence[] = [];
  const positional: string[] = [];
  const errors: ConfigError[] = [];
  const flagError = (key: string, flag: string, problem: string): void => {
    errors.push(ConfigError.forKey(key, problem, 'flag', flag));
  };

  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--') {
      positional.push(...argv.slice(index + 1));
      break;
    }
    if (!argument.startsWith('-') || argument === '-') {
      positional.push(argument);
      continue;
    }
    const isLong = argument.startsWith('--');
    const equals = argument.indexOf('=');
    const flag = equals < 0 ? argument : argument.slice(0, equals);
    const inlineValue = equals < 0 ? undefined : argument.slice(equals + 1);
    const typedName = flag.slice(isLong ? 2 : 1);

    let definition = isLong ? byLongName.get(typedName) : byShortName.get(typedName);
    let negated = false;
    if (definition === undefined && isLong && typedName.startsWith('no-')) {
      const positive = byLongName.get(typedName.slice(3));
      if (positive !== undefined) {
        if (!positive.isBoolean) {
          flagError(positive.name, flag, `--no- only applies to on/off flags; ${positive.name} takes a value`);
          continue;
        }
        definition = positive;
        negated = true;
      }
    }
    if (definition === undefined) {
      const hint = Object.hasOwn(hints, typedName) ? hints[typedName] : undefined;
      const suggestion = isLong ? closestName(typedName, [...byLongName.keys()]) : undefined;
      const advice = hint !== undefined ? `; ${hint}` : suggestion !== undefined ? `; did you mean --${suggestion}?` : '';
      flagError(typedName, flag, `unknown flag ${flag}${advice}`);
      continue;
    }

    let text: string;
    if (definition.isBoolean) {
      if (negated && inlineValue !== undefined) {
        flagError(definition.name, flag, `${flag} takes no value, got ${JSON.stringify(inlineValue)}`);
        continue;
      }
      text = negated ? 'false' : inlineValue ?? 'true';
    } else if (inlineValue !== undefined) {
      text = inlineValue;
    } else {
      const next = argv[index + 1];
      if (next === undefined) {
        flagError(definition.name, flag, 'needs a value');
        continue;
      }
      if (next.startsWith('-') && next !== '-') {
        flagError(definition.name, flag, `needs a value, but the next argument is ${next} (write ${flag}=VALUE for a value starting with "-")`);
        continue;
      }
      text = next;
      index++;
    }

    if (!definition.isList) {
      const earlier = occurrences.find((occurrence) => occurrence.name === definition.name);
      if (earlier !== undefined) {
        flagError(definition.name, flag, `given more than once (${earlier.flag} ${JSON.stringify(earlier.text)} and ${flag} ${JSON.stringify(text)})`);
        continue;
      }
    }
    occurrences.push({ name: definition.name, flag, text });
  }
  return { occurrences, positional, errors };
}

/** True when `--help` or `-h` comes before any `--`: the caller prints help instead of loading. */
export function isHelpRequested(argv: readonly string[]): boolean {
  for (const argument of argv) {
    if (argument === '--') return false;
    if (argument === '--help' || argument === '-h') return true;
  }
  return false;
}
