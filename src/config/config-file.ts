// Reading a config file: TOML for people, JSON for programs that generate configs.
// The format is chosen by the file name so that a file is never parsed as the wrong
// language (a TOML file read as JSON gives a baffling error on line 1).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TomlError, parse as parseToml } from 'smol-toml';
import { ConfigError, type ConfigSource } from './config-error.js';
import { findJsonSyntaxProblem } from './json-syntax-position.js';

export interface ConfigFileContents {
  /** Absolute path, as named in messages. */
  readonly path: string;
  readonly source: ConfigSource;
  /** Top-level keys as written in the file (kebab-case expected, checked by the loader). */
  readonly values: Readonly<Record<string, unknown>>;
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads and parses `path` (relative to `workingDirectory`). Throws ConfigError: for a
 * bad name or unreadable file the key is `config` and the source `flag` (the --config
 * flag is what to fix); for bad contents the source is the file, with line and column.
 */
export function readConfigFile(path: string, workingDirectory: string): ConfigFileContents {
  const absolutePath = resolve(workingDirectory, path);
  const source: ConfigSource = `file ${absolutePath}`;
  const isToml = absolutePath.endsWith('.toml');
  const isJson = absolutePath.endsWith('.json');
  if (!isToml && !isJson) {
    throw ConfigError.forKey('config', `file name must end in .toml or .json, got ${JSON.stringify(path)}`, 'flag', '--config');
  }
  let text: string;
  try {
    // Editors on Windows may start a file with a byte order mark; neither parser wants it.
    text = readFileSync(absolutePath, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    throw ConfigError.forKey('config', `cannot read ${absolutePath}: ${describeReadError(error)}`, 'flag', '--config', error);
  }
  const syntaxError = (line: number, column: number, reason: string, cause?: unknown): ConfigError =>
    new ConfigError(`config: file ${absolutePath}, line ${line}, column ${column}: invalid ${isToml ? 'TOML' : 'JSON'}: ${reason}`, {
      key: 'config',
      source,
      cause,
    });

  let parsed: unknown;
  if (isToml) {
    try {
      parsed = parseToml(text);
    } catch (error) {
      if (!(error instanceof TomlError)) throw error;
      // smol-toml's message is "Invalid TOML document: <reason>" followed by a code
      // excerpt; one line per problem keeps the combined error readable.
      const reason = error.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      throw syntaxError(error.line, error.column, reason, error);
    }
  } else {
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      const problem = findJsonSyntaxProblem(text);
      if (problem === undefined) throw error; // JSON.parse and the scanner disagree: a bug
      throw syntaxError(problem.line, problem.column, problem.reason, error);
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config: file ${absolutePath}: must hold key = value settings at the top level`, { key: 'config', source });
  }
  return { path: absolutePath, source, values: parsed as Record<string, unknown> };
}
