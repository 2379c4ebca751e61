// Errors as node:fs gives them: an AtollError (with its status) whose `code` is the errno
// name, with `errno` (negative, as Node's), `syscall` and `path`, and a message in Node's
// shape: "ENOENT: no such file, directory or object, open '/a/b'".
import { AtollError, StatusCode, errnoNumber } from '../errors/index.js';
import { toAtollError } from '../masterclient/partition-router.js';

export interface FsError extends AtollError {
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  readonly dest?: string;
}

export function fsError(caught: unknown, syscall: string, path?: string, dest?: string): FsError {
  const cause = toAtollError(caught);
  if ((cause as Partial<FsError>).syscall !== undefined) return cause as FsError;
  const where = path === undefined ? '' : dest === undefined ? ` '${path}'` : ` '${path}' -> '${dest}'`;
  const error = new AtollError(cause.status, `${cause.code}: ${cause.message}, ${syscall}${where}`, { cause }) as AtollError & { errno: number; syscall: string; path?: string; dest?: string };
  error.errno = cause.status === StatusCode.OK ? 0 : -errnoNumber(cause.status);
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  if (dest !== undefined) error.dest = dest;
  return error as FsError;
}

/** Runs `body`; any failure comes out as an FsError of `syscall` on `path`. */
export async function asFs<T>(syscall: string, path: string | undefined, body: () => Promise<T>, dest?: string): Promise<T> {
  try {
    return await body();
  } catch (caught) {
    throw fsError(caught, syscall, path, dest);
  }
}
