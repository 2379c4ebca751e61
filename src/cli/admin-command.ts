// The frame of the admin commands (`atoll <noun> <verb> [args] [options]`): flag parsing
// with the config schema (connection options shared by every verb), help text, the
// connection's lifetime, and one mapping from answers and errors to output and exit codes.
import { ConfigError, defineSchema, describeSchemaFlags, isHelpRequested, resolveConfig, type SchemaKeys } from '../config/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { AdminResult } from '../masterclient/index.js';
import { CliUsageError, connectionKeys, finishConnection, openConnection, type Connection, type ConnectionConfig } from './admin-connection.js';
import { exitCodes } from './exit-codes.js';

export interface VerbContext<Own> {
  // 'atoll volume create', for messages.
  readonly command: string;
  readonly config: Own & ConnectionConfig;
  // The positional arguments, as many as the verb declares.
  readonly args: readonly string[];
  readonly connection: Connection;
  out(text: string): void;
  err(text: string): void;
  // Sends one admin request and reports the answer: with --json the body as it is,
  // else `render(body)` on success; an error answer goes to stderr. Returns the exit code.
  // `Body` is what the API documents for a success; it is not checked at run time, so
  // renderers read it defensively.
  request<Body>(method: string, path: string, body?: unknown, render?: (body: Body) => string): Promise<number>;
  // The reporting half of request(), for verbs that send more than one request.
  report<Body>(result: AdminResult, render?: (body: Body) => string): number;
}

export interface VerbSpec<Own> {
  readonly summary: string;
  // Positional arguments in help text ('<name>'); each is required.
  readonly args: readonly string[];
  readonly keys: SchemaKeys<Own>;
  // Checks of the parsed options that need no master (throw CliUsageError).
  readonly check?: (config: Own & ConnectionConfig, args: readonly string[]) => void;
  readonly run: (context: VerbContext<Own>) => Promise<number>;
}

export interface Verb {
  readonly summary: string;
  readonly args: readonly string[];
  run(command: string, argv: readonly string[]): Promise<number>;
}

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const err = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

export function defineVerb<Own extends object>(spec: VerbSpec<Own>): Verb {
  type Config = Own & ConnectionConfig;
  const keys = { ...connectionKeys, ...spec.keys } as unknown as SchemaKeys<Config>;
  const schema = defineSchema<Config>({ name: 'admin', keys, finish: finishConnection });
  return {
    summary: spec.summary,
    args: spec.args,
    async run(command, argv) {
      if (isHelpRequested(argv)) {
        out(`${command}: ${spec.summary}.\n\n${describeSchemaFlags(schema, `${command}${spec.args.map((arg) => ` ${arg}`).join('')}`)}`);
        return exitCodes.ok;
      }
      let connection: Connection | null = null;
      try {
        const { config, positional } = resolveConfig(schema, argv);
        if (positional.length < spec.args.length) throw new CliUsageError(`missing ${spec.args.slice(positional.length).join(' ')} (usage: ${command} ${spec.args.join(' ')} [options])`);
        if (positional.length > spec.args.length) throw new CliUsageError(`unexpected argument '${positional[spec.args.length]}' (usage: ${command}${spec.args.map((arg) => ` ${arg}`).join('')} [options])`);
        spec.check?.(config, positional);
        const opened = openConnection(config);
        connection = opened;
        const report = <Body>(result: AdminResult, render?: (body: Body) => string): number =>
          reportAnswer(command, config.json, opened, result, render as ((body: unknown) => string) | undefined);
        return await spec.run({
          command,
          config,
          args: positional,
          connection: opened,
          out,
          err,
          report,
          request: async <Body>(method: string, path: string, body?: unknown, render?: (body: Body) => string) => report(await opened.client.admin(method, path, body), render),
        });
      } catch (error) {
        if (error instanceof ConfigError || error instanceof CliUsageError) {
          err(`${command}: ${error.message}`);
          return exitCodes.usage;
        }
        if (error instanceof AtollError) {
          err(`${command}: ${describeFailure(error, connection)}`);
          return exitCodeOfStatus(error.status);
        }
        throw error;
      } finally {
        await connection?.close();
      }
    },
  };
}

/** `atoll <noun>`: dispatches to its verbs; `atoll <noun> --help` lists them. */
export function nounCommand(noun: string, verbs: Readonly<Record<string, Verb>>, footer?: readonly string[]): (argv: readonly string[]) => Promise<number> {
  const help = (): string => {
    const rows = Object.entries(verbs).map(([name, verb]) => [`${name}${verb.args.map((arg) => ` ${arg}`).join('')}`, verb.summary] as const);
    const width = Math.max(...rows.map(([left]) => left.length));
    return [
      `usage: atoll ${noun} <verb> [arguments] [options]`,
      '',
      'verbs:',
      ...rows.map(([left, summary]) => `  ${left.padEnd(width)}  ${summary}`),
      '',
      ...(footer ?? [
        'Every verb reaches the masters with -p/--master host:port (repeatable) and',
        '--cluster-secret-file, or with no -p through <cluster-dir>/cluster.json of atoll start',
        '(--cluster-dir, default .atoll); changes need --admin-token-file or --admin-token.',
        'Every verb takes --json. Run \'atoll ' + noun + ' <verb> --help\' for its options.',
      ]),
      '',
    ].join('\n');
  };
  return async (argv) => {
    const [verbName, ...rest] = argv;
    if (verbName === undefined || verbName === '--help' || verbName === '-h' || verbName === 'help') {
      (verbName === undefined ? process.stderr : process.stdout).write(help());
      return verbName === undefined ? exitCodes.usage : exitCodes.ok;
    }
    const verb = Object.hasOwn(verbs, verbName) ? verbs[verbName] : undefined;
    if (verb === undefined) {
      err(`atoll ${noun}: unknown verb '${verbName}' (one of ${Object.keys(verbs).join(', ')}; see atoll ${noun} --help)`);
      return exitCodes.usage;
    }
    return verb.run(`atoll ${noun} ${verbName}`, rest);
  };
}

// ------------------------------------------------------------------ answers and errors

/** Exit code of an admin API answer: 2xx ok, 404 not found, other 4xx usage, 502-504 unavailable, other 5xx internal. */
export function exitCodeOfHttp(status: number): number {
  if (status >= 200 && status < 300) return exitCodes.ok;
  if (status === 404) return exitCodes.notFound;
  if (status >= 400 && status < 500) return exitCodes.usage;
  if (status === 502 || status === 503 || status === 504) return exitCodes.unavailable;
  return exitCodes.internal;
}

/** Exit code of a failure to get any answer. */
export function exitCodeOfStatus(status: StatusCode): number {
  switch (status) {
    case StatusCode.NOT_FOUND:
      return exitCodes.notFound;
    case StatusCode.INVALID_ARGUMENT:
    case StatusCode.UNAUTHENTICATED:
    case StatusCode.PERMISSION_DENIED:
      return exitCodes.usage;
    case StatusCode.UNAVAILABLE:
    case StatusCode.TIMEOUT:
    case StatusCode.OVERLOADED:
    case StatusCode.NOT_LEADER:
    case StatusCode.STALE_VIEW:
      return exitCodes.unavailable;
    default:
      return exitCodes.internal;
  }
}

function describeFailure(error: AtollError, connection: Connection | null): string {
  const masters = connection === null ? '' : ` (masters: ${connection.masters.join(', ')})`;
  if (error.status === StatusCode.UNAUTHENTICATED) return `the masters refused the cluster secret: ${error.message}`;
  if (exitCodeOfStatus(error.status) === exitCodes.unavailable) return `no answer from the masters: ${error.message}${masters}`;
  return error.message;
}

// The message of an admin API error body {error: {code, message}}, or the status alone.
export function answerMessage(result: AdminResult): string {
  const error = (result.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : `HTTP ${result.status}`;
  const message = typeof error?.message === 'string' ? error.message : 'no message';
  return `${code}: ${message} (HTTP ${result.status} from ${result.handledBy || 'a master'})`;
}

function reportAnswer(command: string, json: boolean, connection: Connection, result: AdminResult, render?: (body: unknown) => string): number {
  if (json) out(JSON.stringify(result.body));
  const code = exitCodeOfHttp(result.status);
  if (code === exitCodes.ok) {
    if (!json && render !== undefined) out(render(result.body));
    return code;
  }
  const hint = (result.status === 401 || result.status === 403) && !connection.adminTokenGiven ? ' (give --admin-token-file or --admin-token)' : '';
  err(`${command}: ${answerMessage(result)}${hint}`);
  return code;
}
