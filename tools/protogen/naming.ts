/**
 * How proto names become TypeScript names. Field names follow protobufjs
 * (`util.camelCase`): the first character is kept and every `_x` with `x` a lowercase
 * letter becomes `X`, so `parent_ino` is `parentIno` and objects line up with what
 * protobufjs produces for the same .proto.
 */

export function fieldNameToTypeScript(protoName: string): string {
  return protoName.slice(0, 1) + protoName.slice(1).replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}

/** `CreateVolume` becomes `createVolume`, the key of the method in the service table. */
export function methodNameToTypeScript(protoName: string): string {
  return protoName.slice(0, 1).toLowerCase() + protoName.slice(1);
}

/** Nested declarations are flattened: `Outer.Inner` becomes `Outer_Inner`. */
export function nestedNameToTypeScript(path: readonly string[]): string {
  return path.join('_');
}

/**
 * Names that would set an object's prototype instead of a property when assigned
 * (TypeScript enums compile to `E["__proto__"] = 0`).
 */
export const forbiddenPropertyNames: ReadonlySet<string> = new Set(['__proto__']);

/** Type and value names with a fixed meaning in generated modules. */
export const reservedTopLevelNames: ReadonlySet<string> = new Set([
  'protobuf', 'Map', 'Uint8Array', 'Object', 'Array', 'Number', 'String', 'Boolean', 'Partial', 'undefined', 'NaN', 'Infinity',
]);
