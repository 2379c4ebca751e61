// Structured logs of one server instance: one JSON object per line, every line carrying
// the instance's role and name so that the logs of many instances can be merged and
// filtered without guessing where a line came from.
//
// Writes are synchronous (pino.destination({sync: true})): a fatal error logged right
// before `process.exit` must reach the file or stderr, and at our log volumes the cost
// of a write(2) per line does not matter. The asynchronous mode would need every exit
// path to flush first, and the one that forgets loses exactly the line that explains
// the crash.
import { hostname as osHostname } from 'node:os';
import { pino } from 'pino';
import { serializeError } from './error-serializer.js';
import { LogFile, openStderrDestination } from './log-destination.js';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Anything with a `write(line)`; tests pass an in-memory collector. */
export type LogStream = pino.DestinationStream;

export type LogDestination =
  | 'stderr'
  | { readonly filePath: string }
  | { readonly stream: LogStream };

export interface LoggerOptions {
  readonly role: string;
  readonly instance: string;
  readonly level: LogLevel;
  /** Where lines go; stderr when absent. A file is created (with its folder) or appended to; see log-destination.ts. */
  readonly destination?: LogDestination;
}

/** Fields child loggers add; the names are part of the log format documented in README.md. */
export interface LogContext {
  /** Which part of the instance logs: `http`, `raft`, `rpc`, ... */
  readonly component?: string;
  readonly partition?: number | bigint | string;
  readonly term?: number | bigint;
  /** The other node of a conversation, usually its node id or `host:port`. */
  readonly peer?: number | bigint | string;
  /** A connection id, to follow one connection's lines. */
  readonly connection?: number | bigint | string;
}

// Fields every line has. A logged object that uses one of these names would otherwise
// produce a line with the key twice, and JSON readers keep only one of them. (`msg` is
// left out: `logger.info({msg})` is pino's documented way to give the message.)
const reservedFields = ['level', 'time', 'pid', 'hostname', 'role', 'instance'] as const;
const reservedFieldSet: ReadonlySet<string> = new Set(reservedFields);
export const clashingFieldsKey = 'clashingFields';

// closeLogger and reopenLogFile find a logger's stream through pino's stream symbol
// (children share their parent's stream) and act only on a LogFile this module opened,
// never on a stream the caller owns.
function logFileOf(logger: Logger): LogFile | undefined {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  return stream instanceof LogFile ? stream : undefined;
}

export function createLogger(options: LoggerOptions): Logger {
  if (!logLevels.includes(options.level)) {
    throw new Error(`cannot create logger: unknown level '${String(options.level)}' (expected one of ${logLevels.join(', ')})`);
  }
  if (options.role.length === 0 || options.instance.length === 0) {
    throw new Error(`cannot create logger: role and instance must be non-empty: role='${options.role}' instance='${options.instance}'`);
  }
  const destination = options.destination ?? 'stderr';
  let stream: LogStream;
  if (destination === 'stderr') stream = openStderrDestination();
  else if ('filePath' in destination) stream = new LogFile(destination.filePath);
  else stream = destination.stream;
  return pino(
    {
      ...commonPinoOptions,
      level: options.level,
      base: { pid: process.pid, hostname: hostnameOnce(), role: options.role, instance: options.instance },
    },
    stream,
  );
}

/** A logger that drops everything, for tests and for code paths that must be given one. */
export function silentLogger(): Logger {
  return pino({ ...commonPinoOptions, level: 'silent' });
}

export function childLogger(logger: Logger, context: LogContext): Logger {
  const logged: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(context)) {
    if (value !== undefined) logged[field] = value;
  }
  return logger.child(logged);
}

/**
 * Logs `error` at error level under `err`, with its code and each cause as a nested
 * object (see error-serializer.ts), plus any extra fields.
 */
export function logError(logger: Logger, error: unknown, message: string, fields?: Record<string, unknown>): void {
  logger.error({ ...fields, err: error }, message);
}

/**
 * Flushes and closes the log file createLogger opened for this logger (or its parent);
 * does nothing for stderr and caller-provided streams. Lines logged afterwards go to
 * stderr rather than being lost or throwing.
 */
export async function closeLogger(logger: Logger): Promise<void> {
  await logFileOf(logger)?.close();
}

/** Reopens the log file by path, after an external tool renamed it (logrotate's SIGHUP). */
export function reopenLogFile(logger: Logger): void {
  logFileOf(logger)?.reopen();
}

const commonPinoOptions = {
  // ISO 8601 in UTC: readable in a terminal and sortable as text; epoch milliseconds
  // would make every human reader convert.
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: {
    level: (label: string) => ({ level: label }),
    log: moveClashingFields,
  },
  serializers: { err: serializeError },
} satisfies pino.LoggerOptions;

function moveClashingFields(object: Record<string, unknown>): Record<string, unknown> {
  let clashing: Record<string, unknown> | undefined;
  for (const field of reservedFields) {
    if (Object.prototype.hasOwnProperty.call(object, field)) {
      clashing ??= {};
      clashing[field] = object[field];
    }
  }
  if (clashing === undefined) return object;
  const kept: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(object)) {
    if (!reservedFieldSet.has(field)) kept[field] = value;
  }
  kept[clashingFieldsKey] = clashing;
  return kept;
}

let hostname: string | undefined;
function hostnameOnce(): string {
  // os.hostname() is a system call; one per process is enough.
  hostname ??= osHostname();
  return hostname;
}
