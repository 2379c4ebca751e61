// Paths as the SDK takes them: '/'-separated, absolute or relative to the volume's root,
// '.' and empty components dropped. '..' stays a component: it is resolved through the
// directory's parent inode, after symbolic links, as POSIX does.
import { AtollError, StatusCode } from '../errors/index.js';

export const nameBytesMax = 255;

/** The components of a path; the root is []. */
export function pathComponents(path: unknown, syscall: string): string[] {
  if (typeof path !== 'string') throw new AtollError(StatusCode.INVALID_ARGUMENT, `${syscall}: the path must be a string, got ${path === null ? 'null' : typeof path}`);
  if (path.length === 0) throw new AtollError(StatusCode.NOT_FOUND, `${syscall}: empty path`);
  if (path.includes('\0')) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${syscall}: the path contains a NUL byte`);
  const components: string[] = [];
  for (const component of path.split('/')) {
    if (component === '' || component === '.') continue;
    if (Buffer.byteLength(component) > nameBytesMax) throw new AtollError(StatusCode.NAME_TOO_LONG, `${syscall} '${path}': a name is longer than ${nameBytesMax} bytes`);
    components.push(component);
  }
  return components;
}

/** The parent's components and the last name; the root has no last name. */
export function splitLast(path: unknown, syscall: string): { parent: string[]; name: string } {
  const components = pathComponents(path, syscall);
  const name = components.pop();
  if (name === undefined) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${syscall} '${String(path)}': the root has no name`);
  if (name === '..') throw new AtollError(StatusCode.INVALID_ARGUMENT, `${syscall} '${String(path)}': the last name may not be '..'`);
  return { parent: components, name };
}

/** '/a/b' for ['a', 'b']. */
export function joinComponents(components: readonly string[]): string {
  return `/${components.join('/')}`;
}
