// How the commands that work through the SDK (atoll fs, atoll trash, atoll mount) report a
// failure and which exit code it gives: a bad command line 1; an AtollError by its status
// (not found 2, cluster unreachable 3, a refused operation such as EEXIST or ENOTEMPTY 1,
// a bug 70); a local system error (reading or writing a local file, the mount point)
// 2 when missing, else `localExitCode`.
import { ConfigError } from '../config/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import { exitCodeOfStatus } from './admin-command.js';
import { CliUsageError } from './admin-connection.js';
import { exitCodes } from './exit-codes.js';

/** The exit code of `error`, after printing it; throws what is not an expected failure (a bug). */
export function reportClientFailure(command: string, error: unknown, localExitCode: number = exitCodes.usage): number {
  const print = (message: string): void => void process.stderr.write(`${command}: ${message}\n`);
  if (error instanceof ConfigError || error instanceof CliUsageError) {
    print(error.message);
    return exitCodes.usage;
  }
  if (error instanceof AtollError) {
    print(error.message);
    const code = exitCodeOfStatus(error.status);
    return code === exitCodes.internal && error.status !== StatusCode.INTERNAL ? exitCodes.usage : code;
  }
  const local = error as NodeJS.ErrnoException;
  if (typeof local?.code === 'string') {
    print(local.message);
    return local.code === 'ENOENT' ? exitCodes.notFound : localExitCode;
  }
  throw error;
}
