/**
 * What the parser produces: the declarations of one .proto file, with type references
 * still as written. The schema linker (schema.ts) resolves them across files.
 */
import type { SourcePosition } from './parse-error.js';

export const scalarTypes = [
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes',
] as const;
export type ScalarType = (typeof scalarTypes)[number];

export function isScalarType(name: string): name is ScalarType {
  return (scalarTypes as readonly string[]).includes(name);
}

/** A field type as written: a scalar keyword or a (possibly qualified) type name. */
export type TypeReference =
  | { readonly kind: 'scalar'; readonly scalar: ScalarType }
  | { readonly kind: 'named'; readonly name: string; readonly position: SourcePosition };

export type FieldLabel = 'singular' | 'optional' | 'repeated';

export interface FieldDeclaration {
  readonly name: string;
  readonly number: number;
  readonly label: FieldLabel;
  readonly type: TypeReference;
  /** Set for `map<K, V>` fields; `type` is then the value type and label is 'repeated'. */
  readonly mapKey: ScalarType | undefined;
  /** Name of the enclosing `oneof`, if any. */
  readonly oneof: string | undefined;
  /** `[packed = false]` turns off packed encoding; undefined means the proto3 default. */
  readonly packed: boolean | undefined;
  readonly deprecated: boolean;
  readonly comment: string | undefined;
  readonly position: SourcePosition;
}

export interface OneofDeclaration {
  readonly name: string;
  readonly comment: string | undefined;
  readonly position: SourcePosition;
}

export interface ReservedDeclaration {
  /** Inclusive number ranges. */
  readonly ranges: ReadonlyArray<{ readonly from: number; readonly to: number }>;
  readonly names: readonly string[];
}

export interface MessageDeclaration {
  readonly name: string;
  readonly fields: FieldDeclaration[];
  readonly oneofs: OneofDeclaration[];
  readonly messages: MessageDeclaration[];
  readonly enums: EnumDeclaration[];
  readonly reserved: ReservedDeclaration;
  readonly deprecated: boolean;
  readonly comment: string | undefined;
  readonly position: SourcePosition;
}

export interface EnumValueDeclaration {
  readonly name: string;
  readonly number: number;
  readonly deprecated: boolean;
  readonly comment: string | undefined;
  readonly position: SourcePosition;
}

export interface EnumDeclaration {
  readonly name: string;
  readonly values: EnumValueDeclaration[];
  readonly allowAlias: boolean;
  readonly reserved: ReservedDeclaration;
  readonly deprecated: boolean;
  readonly comment: string | undefined;
  readonly position: SourcePosition;
}

export interface MethodDeclaration {
  readonly name: string;
  readonly requestType: TypeReference & { readonly kind: 'named' };
  readonly responseType: TypeReference & { readonly kind: 'named' };
  /** From `option (method_id) = N;`; required, checked by the linker. */
  readonly methodId: number | undefined;
  readonly deprecated: boolean;
  readonly comment: string | undefined;
  readonly position: SourcePosition;
}

export interface ServiceDeclaration {
  readonly name: string;
  readonly methods: MethodDeclaration[];
  readonly deprecated: boolean;
  readonly comment: string | undefined;
  readonly position: SourcePosition;
}

export interface ImportDeclaration {
  readonly path: string;
  readonly position: SourcePosition;
}

export interface ProtoFile {
  /** File name as given to the parser (relative to the proto folder). */
  readonly fileName: string;
  readonly packageName: string;
  readonly imports: ImportDeclaration[];
  readonly messages: MessageDeclaration[];
  readonly enums: EnumDeclaration[];
  readonly services: ServiceDeclaration[];
  readonly comment: string | undefined;
}
