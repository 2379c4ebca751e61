/**
 * Links parsed .proto files into one schema: resolves every type reference with
 * protobuf's scoping rules, checks the rules protoc would check (unique names and
 * numbers, reserved numbers, enum zero values, imports) plus our own (method ids
 * declared and unique across all services), and assigns TypeScript names.
 */
import type {
  EnumDeclaration,
  FieldDeclaration,
  MessageDeclaration,
  MethodDeclaration,
  OneofDeclaration,
  ProtoFile,
  ReservedDeclaration,
  ScalarType,
  ServiceDeclaration,
  TypeReference,
} from './ast.js';
import {
  fieldNameToTypeScript,
  forbiddenPropertyNames,
  methodNameToTypeScript,
  nestedNameToTypeScript,
  reservedTopLevelNames,
} from './naming.js';
import { ProtoParseError, formatPosition, type SourcePosition } from './parse-error.js';

export interface ResolvedEnum {
  readonly kind: 'enum';
  readonly fullName: string;
  readonly typeScriptName: string;
  readonly file: ProtoFile;
  readonly declaration: EnumDeclaration;
  /** Name of the first value numbered 0: the proto3 default. */
  readonly defaultValueName: string;
}

export type ResolvedFieldType =
  | { readonly kind: 'scalar'; readonly scalar: ScalarType }
  | { readonly kind: 'enum'; readonly enumType: ResolvedEnum }
  | { readonly kind: 'message'; readonly messageType: ResolvedMessage };

export interface ResolvedOneof {
  readonly declaration: OneofDeclaration;
  readonly typeScriptName: string;
  readonly fields: ResolvedField[];
}

export interface ResolvedField {
  readonly declaration: FieldDeclaration;
  readonly typeScriptName: string;
  /** `Message.field`, used in error messages of the generated code. */
  readonly fullName: string;
  readonly number: number;
  readonly label: 'singular' | 'optional' | 'repeated';
  /** For map fields: the value type; for others: the field type. */
  readonly type: ResolvedFieldType;
  readonly mapKey: ScalarType | undefined;
  readonly oneof: ResolvedOneof | undefined;
  /** Repeated scalar numeric, bool or enum written packed (the proto3 default). */
  readonly packed: boolean;
}

export interface ResolvedMessage {
  readonly kind: 'message';
  readonly fullName: string;
  readonly typeScriptName: string;
  readonly file: ProtoFile;
  readonly declaration: MessageDeclaration;
  /** Fields in declaration order, oneof members included. */
  readonly fields: ResolvedField[];
  readonly oneofs: ResolvedOneof[];
}

export interface ResolvedMethod {
  readonly declaration: MethodDeclaration;
  readonly typeScriptName: string;
  readonly methodId: number;
  readonly request: ResolvedMessage;
  readonly response: ResolvedMessage;
}

export interface ResolvedService {
  readonly fullName: string;
  readonly typeScriptName: string;
  readonly declaration: ServiceDeclaration;
  readonly methods: ResolvedMethod[];
}

export interface ResolvedFile {
  readonly file: ProtoFile;
  /** Every message of the file, nested ones included, parents before children. */
  readonly messages: ResolvedMessage[];
  readonly enums: ResolvedEnum[];
  readonly services: ResolvedService[];
  /** Imported files that this file actually depends on for generation. */
  readonly imports: ProtoFile[];
}

export interface Schema {
  readonly files: ResolvedFile[];
}

type ResolvedType = ResolvedMessage | ResolvedEnum;

const packableScalars: ReadonlySet<ScalarType> = new Set<ScalarType>([
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool',
]);

/** Imports of protoc's own descriptor, used only to declare custom options. */
function isDescriptorImport(path: string): boolean {
  return path === 'google/protobuf/descriptor.proto';
}

function fail(message: string, position: SourcePosition): never {
  throw new ProtoParseError(message, position);
}

function isReserved(reserved: ReservedDeclaration, number: number): boolean {
  return reserved.ranges.some((range) => number >= range.from && number <= range.to);
}

export function linkSchema(files: readonly ProtoFile[]): Schema {
  const filesByName = new Map<string, ProtoFile>();
  for (const file of files) {
    if (filesByName.has(file.fileName)) throw new Error(`protogen: file ${file.fileName} given twice`);
    filesByName.set(file.fileName, file);
  }
  checkImports(files, filesByName);

  // Pass 1: declare every message and enum under its full name.
  const types = new Map<string, ResolvedType>();
  const packages = new Set<string>();
  const pendingMessages: Array<{ message: ResolvedMessage; scope: string }> = [];
  const fileMessages = new Map<ProtoFile, ResolvedMessage[]>();
  const fileEnums = new Map<ProtoFile, ResolvedEnum[]>();

  for (const file of files) {
    const parts = file.packageName === '' ? [] : file.packageName.split('.');
    for (let count = 1; count <= parts.length; count++) packages.add(parts.slice(0, count).join('.'));
    const messages: ResolvedMessage[] = [];
    const enums: ResolvedEnum[] = [];
    fileMessages.set(file, messages);
    fileEnums.set(file, enums);

    const declareEnum = (declaration: EnumDeclaration, scope: string, path: readonly string[]): void => {
      const fullName = scope === '' ? declaration.name : `${scope}.${declaration.name}`;
      const zero = declaration.values[0];
      if (zero.number !== 0) fail(`the first value of enum ${declaration.name} must be 0 in proto3 (it is the default)`, zero.position);
      const resolved: ResolvedEnum = {
        kind: 'enum',
        fullName,
        typeScriptName: nestedNameToTypeScript([...path, declaration.name]),
        file,
        declaration,
        defaultValueName: zero.name,
      };
      declare(fullName, resolved, declaration.position);
      checkEnum(declaration);
      enums.push(resolved);
    };

    const declareMessage = (declaration: MessageDeclaration, scope: string, path: readonly string[]): void => {
      const fullName = scope === '' ? declaration.name : `${scope}.${declaration.name}`;
      const resolved: ResolvedMessage = {
        kind: 'message',
        fullName,
        typeScriptName: nestedNameToTypeScript([...path, declaration.name]),
        file,
        declaration,
        fields: [],
        oneofs: [],
      };
      declare(fullName, resolved, declaration.position);
      messages.push(resolved);
      pendingMessages.push({ message: resolved, scope: fullName });
      for (const nested of declaration.enums) declareEnum(nested, fullName, [...path, declaration.name]);
      for (const nested of declaration.messages) declareMessage(nested, fullName, [...path, declaration.name]);
    };

    for (const declaration of file.enums) declareEnum(declaration, file.packageName, []);
    for (const declaration of file.messages) declareMessage(declaration, file.packageName, []);
  }

  function declare(fullName: string, type: ResolvedType, position: SourcePosition): void {
    const existing = types.get(fullName);
    if (existing !== undefined) {
      fail(`${fullName} is already defined at ${formatPosition(existing.declaration.position)}`, position);
    }
    types.set(fullName, type);
  }

  /** Protobuf scoping: search outward from `scope` for the first component, then the rest. */
  function resolve(reference: TypeReference & { kind: 'named' }, scope: string, from: ProtoFile): ResolvedType {
    let found: ResolvedType | undefined;
    if (reference.name.startsWith('.')) {
      found = types.get(reference.name.slice(1));
    } else {
      const firstComponent = reference.name.split('.')[0];
      let current = scope;
      for (;;) {
        const prefix = current === '' ? '' : `${current}.`;
        if (types.has(prefix + firstComponent) || packages.has(prefix + firstComponent)) {
          found = types.get(prefix + reference.name);
          if (found !== undefined) break;
        }
        if (current === '') break;
        const dot = current.lastIndexOf('.');
        current = dot === -1 ? '' : current.slice(0, dot);
      }
    }
    if (found === undefined) fail(`unknown type ${reference.name}`, reference.position);
    if (found.file !== from && !from.imports.some((entry) => entry.path === found!.file.fileName)) {
      fail(`type ${reference.name} is defined in ${found.file.fileName}, which ${from.fileName} does not import`, reference.position);
    }
    return found;
  }

  // Pass 2: resolve fields and check each message.
  for (const { message, scope } of pendingMessages) {
    linkMessage(message, scope, resolve);
  }

  // Pass 3: services; method ids are unique across the whole schema so a frame can
  // carry the id alone.
  const methodIds = new Map<number, { method: MethodDeclaration; service: string }>();
  const resolvedFiles: ResolvedFile[] = [];
  for (const file of files) {
    const services: ResolvedService[] = [];
    for (const service of file.services) {
      const fullName = file.packageName === '' ? service.name : `${file.packageName}.${service.name}`;
      if (types.has(fullName)) fail(`${fullName} is already defined as a type`, service.position);
      const methods: ResolvedMethod[] = [];
      const methodNames = new Set<string>();
      for (const method of service.methods) {
        if (methodNames.has(method.name)) fail(`rpc ${method.name} is declared twice in service ${service.name}`, method.position);
        methodNames.add(method.name);
        if (method.methodId === undefined) {
          fail(`rpc ${method.name} needs a stable id: add '{ option (method_id) = N; }'`, method.position);
        }
        const clash = methodIds.get(method.methodId);
        if (clash !== undefined) {
          fail(
            `method_id ${method.methodId} of rpc ${method.name} is already used by ${clash.service}.${clash.method.name} at ${formatPosition(clash.method.position)}`,
            method.position,
          );
        }
        methodIds.set(method.methodId, { method, service: fullName });
        const request = resolve(method.requestType, fullName, file);
        const response = resolve(method.responseType, fullName, file);
        if (request.kind !== 'message') fail(`request type of rpc ${method.name} must be a message`, method.requestType.position);
        if (response.kind !== 'message') fail(`response type of rpc ${method.name} must be a message`, method.responseType.position);
        methods.push({ declaration: method, typeScriptName: methodNameToTypeScript(method.name), methodId: method.methodId, request, response });
      }
      services.push({ fullName, typeScriptName: service.name, declaration: service, methods });
    }
    const imports = file.imports.filter((entry) => !isDescriptorImport(entry.path)).map((entry) => filesByName.get(entry.path)!);
    const resolved: ResolvedFile = { file, messages: fileMessages.get(file)!, enums: fileEnums.get(file)!, services, imports };
    checkTopLevelNames(resolved);
    resolvedFiles.push(resolved);
  }
  return { files: resolvedFiles };
}

function checkImports(files: readonly ProtoFile[], filesByName: Map<string, ProtoFile>): void {
  for (const file of files) {
    const seen = new Set<string>();
    for (const entry of file.imports) {
      if (isDescriptorImport(entry.path)) continue;
      if (seen.has(entry.path)) fail(`${entry.path} is imported twice`, entry.position);
      seen.add(entry.path);
      if (entry.path === file.fileName) fail(`${file.fileName} imports itself`, entry.position);
      if (!filesByName.has(entry.path)) fail(`import ${entry.path} not found (imports name other files of the same proto folder)`, entry.position);
    }
  }
  // Generated ES modules must not form cycles (protoc forbids them too).
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: ProtoFile, chain: string[]): void => {
    if (state.get(file.fileName) === 'done') return;
    state.set(file.fileName, 'visiting');
    for (const entry of file.imports) {
      const target = filesByName.get(entry.path);
      if (target === undefined) continue;
      if (state.get(target.fileName) === 'visiting') {
        fail(`import cycle: ${[...chain, file.fileName, target.fileName].join(' -> ')}`, entry.position);
      }
      visit(target, [...chain, file.fileName]);
    }
    state.set(file.fileName, 'done');
  };
  for (const file of files) visit(file, []);
}

function checkEnum(declaration: EnumDeclaration): void {
  const names = new Set<string>();
  const numbers = new Map<number, string>();
  let aliased = false;
  for (const value of declaration.values) {
    if (names.has(value.name)) fail(`enum value ${value.name} is declared twice in ${declaration.name}`, value.position);
    names.add(value.name);
    if (forbiddenPropertyNames.has(value.name)) fail(`enum value name ${value.name} cannot be used in TypeScript`, value.position);
    const existing = numbers.get(value.number);
    if (existing !== undefined) {
      if (!declaration.allowAlias) {
        fail(`enum value ${value.name} reuses number ${value.number} of ${existing}: add 'option allow_alias = true;' if intended`, value.position);
      }
      aliased = true;
    }
    numbers.set(value.number, value.name);
    if (isReserved(declaration.reserved, value.number)) fail(`enum value ${value.name} uses reserved number ${value.number}`, value.position);
    if (declaration.reserved.names.includes(value.name)) fail(`enum value name ${value.name} is reserved`, value.position);
  }
  if (declaration.allowAlias && !aliased) {
    fail(`enum ${declaration.name} sets allow_alias but has no aliases`, declaration.position);
  }
}

function linkMessage(
  message: ResolvedMessage,
  scope: string,
  resolve: (reference: TypeReference & { kind: 'named' }, scope: string, from: ProtoFile) => ResolvedType,
): void {
  const declaration = message.declaration;
  const numbers = new Map<number, FieldDeclaration>();
  const typeScriptNames = new Map<string, SourcePosition>();
  const oneofs = new Map<string, ResolvedOneof>();

  const claimName = (name: string, position: SourcePosition, what: string): void => {
    if (forbiddenPropertyNames.has(name)) fail(`${what} name ${name} cannot be used as a TypeScript property`, position);
    const existing = typeScriptNames.get(name);
    if (existing !== undefined) {
      fail(`${what} becomes TypeScript property '${name}', which ${formatPosition(existing)} already uses in ${message.fullName}`, position);
    }
    typeScriptNames.set(name, position);
  };

  for (const oneof of declaration.oneofs) {
    const resolved: ResolvedOneof = { declaration: oneof, typeScriptName: fieldNameToTypeScript(oneof.name), fields: [] };
    claimName(resolved.typeScriptName, oneof.position, `oneof ${oneof.name}`);
    oneofs.set(oneof.name, resolved);
    message.oneofs.push(resolved);
  }

  for (const field of declaration.fields) {
    const existing = numbers.get(field.number);
    if (existing !== undefined) {
      fail(`field ${field.name} reuses number ${field.number} of field ${existing.name} in ${message.fullName}`, field.position);
    }
    numbers.set(field.number, field);
    if (isReserved(declaration.reserved, field.number)) fail(`field ${field.name} uses reserved number ${field.number}`, field.position);
    if (declaration.reserved.names.includes(field.name)) fail(`field name ${field.name} is reserved`, field.position);

    let type: ResolvedFieldType;
    if (field.type.kind === 'scalar') {
      type = { kind: 'scalar', scalar: field.type.scalar };
    } else {
      const target = resolve(field.type, scope, message.file);
      type = target.kind === 'enum' ? { kind: 'enum', enumType: target } : { kind: 'message', messageType: target };
    }
    const packable = field.mapKey === undefined && (type.kind === 'enum' || (type.kind === 'scalar' && packableScalars.has(type.scalar)));
    if (field.packed !== undefined && (!packable || field.label !== 'repeated')) {
      fail(`[packed] applies only to repeated numeric, bool or enum fields`, field.position);
    }
    const oneof = field.oneof === undefined ? undefined : oneofs.get(field.oneof);
    const typeScriptName = fieldNameToTypeScript(field.name);
    claimName(typeScriptName, field.position, `field ${field.name}`);
    const resolved: ResolvedField = {
      declaration: field,
      typeScriptName,
      fullName: `${message.fullName}.${field.name}`,
      number: field.number,
      label: field.label,
      type,
      mapKey: field.mapKey,
      oneof,
      packed: packable && field.label === 'repeated' && field.packed !== false,
    };
    message.fields.push(resolved);
    oneof?.fields.push(resolved);
  }
}

/** Every exported name and generated helper of a module must be unique. */
function checkTopLevelNames(file: ResolvedFile): void {
  const names = new Map<string, SourcePosition>();
  const claim = (name: string, position: SourcePosition): void => {
    if (reservedTopLevelNames.has(name)) fail(`${name} cannot be used as a generated TypeScript name`, position);
    const existing = names.get(name);
    if (existing !== undefined) fail(`generated TypeScript name ${name} clashes with the declaration at ${formatPosition(existing)}`, position);
    names.set(name, position);
  };
  for (const message of file.messages) {
    claim(message.typeScriptName, message.declaration.position);
    for (const helper of ['create', 'measure', 'write', 'read']) claim(helper + message.typeScriptName, message.declaration.position);
  }
  for (const enumType of file.enums) claim(enumType.typeScriptName, enumType.declaration.position);
  for (const service of file.services) claim(service.typeScriptName, service.declaration.position);
}
