/**
 * Emits the TypeScript for one message: its interface, its codec constant and the four
 * module-private functions behind the codec (create, measure, write, read).
 *
 * The measure and write functions visit fields in the same order under the same
 * conditions; measure records lengths (nested sizes, packed payloads, string bytes)
 * that write consumes in order (see src/codec/protobuf/writer.ts). Any change here must
 * keep the two in step: the runtime asserts it on every encode.
 */
import type { ScalarType } from './ast.js';
import { CodeWriter, quote } from './code-writer.js';
import { enumEncoding, scalarEncodings, tagBytes, tagValue, type ScalarEncoding } from './scalar-encoding.js';
import type { ResolvedEnum, ResolvedField, ResolvedFieldType, ResolvedMessage, ResolvedOneof } from './schema.js';

const lengthDelimited = 2;

/** How the module being generated refers to messages and enums, local or imported. */
export interface ModuleNames {
  /** Local identifier of a message or enum (an alias when imported under another name). */
  typeName(type: ResolvedMessage | ResolvedEnum): string;
  /** Whether the message is generated in this module (then its helpers are called directly). */
  isLocal(type: ResolvedMessage): boolean;
}

type Helper = 'create' | 'measure' | 'write' | 'read';

function helper(names: ModuleNames, message: ResolvedMessage, which: Helper): string {
  return names.isLocal(message) ? `${which}${message.typeScriptName}` : `${names.typeName(message)}.${which}`;
}

function encodingOf(type: ResolvedFieldType): ScalarEncoding | undefined {
  if (type.kind === 'scalar') return scalarEncodings[type.scalar];
  if (type.kind === 'enum') return enumEncoding;
  return undefined;
}

function wireTypeOf(type: ResolvedFieldType): number {
  return encodingOf(type)?.wireType ?? lengthDelimited;
}

function valueTypeScript(type: ResolvedFieldType, names: ModuleNames): string {
  if (type.kind === 'scalar') return scalarEncodings[type.scalar].typeScriptType;
  if (type.kind === 'enum') return names.typeName(type.enumType);
  return names.typeName(type.messageType);
}

function defaultValue(type: ResolvedFieldType, names: ModuleNames): string {
  if (type.kind === 'enum') return `${names.typeName(type.enumType)}.${type.enumType.defaultValueName}`;
  if (type.kind === 'message') return 'undefined';
  switch (scalarEncodings[type.scalar].typeScriptType) {
    case 'number': return '0';
    case 'boolean': return 'false';
    case 'string': return "''";
    case 'Uint8Array': return 'protobuf.emptyBytes';
  }
}

function keyType(key: ScalarType): ResolvedFieldType {
  return { kind: 'scalar', scalar: key };
}

/** The TypeScript type of a field, without the optional marker. */
function fieldTypeScript(field: ResolvedField, names: ModuleNames): string {
  const value = valueTypeScript(field.type, names);
  if (field.mapKey !== undefined) return `Map<${scalarEncodings[field.mapKey].typeScriptType}, ${value}>`;
  if (field.label === 'repeated') return `${value}[]`;
  if (field.type.kind === 'message') return `${value} | undefined`;
  return value;
}

function oneofTypeScript(oneof: ResolvedOneof, names: ModuleNames): string {
  const cases = oneof.fields.map((field) => `{ case: ${quote(field.typeScriptName)}; value: ${valueTypeScript(field.type, names)} }`);
  return `${cases.join(' | ')} | undefined`;
}

/** Fields and oneofs in declaration order; a oneof stands where its first field is. */
type Member = { kind: 'field'; field: ResolvedField } | { kind: 'oneof'; oneof: ResolvedOneof };

function members(message: ResolvedMessage): Member[] {
  const result: Member[] = [];
  const seen = new Set<ResolvedOneof>();
  for (const field of message.fields) {
    if (field.oneof === undefined) {
      result.push({ kind: 'field', field });
    } else if (!seen.has(field.oneof)) {
      seen.add(field.oneof);
      result.push({ kind: 'oneof', oneof: field.oneof });
    }
  }
  return result;
}

function emptyValue(field: ResolvedField, names: ModuleNames): string {
  if (field.mapKey !== undefined) return 'new Map()';
  if (field.label === 'repeated') return '[]';
  if (field.label === 'optional') return 'undefined';
  return defaultValue(field.type, names);
}

// ---- measure / write fragments ---------------------------------------------

interface SizeFragment {
  readonly statements: string[];
  readonly expression: string;
}

/** Size of one value after its tag; may declare `length`/`slot` in the current block. */
function measureValue(type: ResolvedFieldType, value: string, field: ResolvedField, names: ModuleNames): SizeFragment {
  if (type.kind === 'message') {
    return {
      statements: [
        'const slot = writer.reserveSize();',
        `const length = ${helper(names, type.messageType, 'measure')}(${value}, writer);`,
        'writer.fillSize(slot, length);',
      ],
      expression: 'protobuf.varint32Size(length) + length',
    };
  }
  if (type.kind === 'scalar' && type.scalar === 'string') {
    return {
      statements: [`const length = protobuf.utf8ByteLength(${value});`, 'writer.recordSize(length);'],
      expression: 'protobuf.varint32Size(length) + length',
    };
  }
  if (type.kind === 'scalar' && type.scalar === 'bytes') {
    return { statements: [], expression: `protobuf.lengthDelimitedSize(${value}.length)` };
  }
  const encoding = encodingOf(type)!;
  if (encoding.checkedSizeFunction !== undefined) {
    return { statements: [], expression: `protobuf.${encoding.checkedSizeFunction}(${value}, ${quote(field.fullName)})` };
  }
  return { statements: [], expression: String(encoding.fixedBytes) };
}

function writeValue(type: ResolvedFieldType, value: string, names: ModuleNames): string[] {
  if (type.kind === 'message') {
    return ['writer.varint32(writer.nextSize());', `${helper(names, type.messageType, 'write')}(${value}, writer);`];
  }
  return [`writer.${encodingOf(type)!.writeMethod}(${value});`];
}

function writeTag(fieldNumber: number, wireType: number): string[] {
  const bytes = tagBytes(fieldNumber, wireType);
  if (bytes.length <= 2) return bytes.map((byte) => `writer.byte(${byte});`);
  return [`writer.varint32(${tagValue(fieldNumber, wireType)});`];
}

function tagSize(fieldNumber: number, wireType: number): number {
  return tagBytes(fieldNumber, wireType).length;
}

/** Condition under which a singular implicit-presence field is written (proto3: non-default). */
function presentCondition(type: ResolvedFieldType, value: string): string {
  if (type.kind === 'message') return `${value} !== undefined`;
  if (type.kind === 'enum') return `${value} !== 0`;
  switch (type.scalar) {
    case 'double':
    case 'float':
      // -0 is not the default: its bits differ, and protobuf C++/Go write it.
      return `(${value} !== 0 || Object.is(${value}, -0))`;
    case 'bool':
      return `${value} !== false`;
    case 'string':
    case 'bytes':
      return `${value}.length !== 0`;
    default:
      return `${value} !== 0`;
  }
}

function emitMeasureSingle(code: CodeWriter, type: ResolvedFieldType, value: string, field: ResolvedField, names: ModuleNames, target: string, fieldNumber: number): void {
  const fragment = measureValue(type, value, field, names);
  for (const statement of fragment.statements) code.line(statement);
  code.line(`${target} += ${tagSize(fieldNumber, wireTypeOf(type))} + ${fragment.expression};`);
}

function emitMeasureField(code: CodeWriter, field: ResolvedField, names: ModuleNames): void {
  const access = `message.${field.typeScriptName}`;
  if (field.mapKey !== undefined) {
    emitMeasureMap(code, field, names);
    return;
  }
  if (field.label === 'repeated' && field.packed) {
    const encoding = encodingOf(field.type)!;
    code.block('{', () => {
      code.line(`const values = ${access};`);
      code.block('if (values.length !== 0) {', () => {
        if (encoding.fixedBytes !== undefined) {
          if (encoding.checkedSizeFunction !== undefined) {
            code.line(`for (let index = 0; index < values.length; index++) protobuf.${encoding.checkedSizeFunction}(values[index], ${quote(field.fullName)});`);
          }
          code.line(`const length = values.length * ${encoding.fixedBytes};`);
        } else {
          code.line('let length = 0;');
          code.line(`for (let index = 0; index < values.length; index++) length += protobuf.${encoding.checkedSizeFunction}(values[index], ${quote(field.fullName)});`);
          code.line('writer.recordSize(length);');
        }
        code.line(`size += ${tagSize(field.number, lengthDelimited)} + protobuf.varint32Size(length) + length;`);
      });
    });
    return;
  }
  if (field.label === 'repeated') {
    code.block('{', () => {
      code.line(`const values = ${access};`);
      code.block('for (let index = 0; index < values.length; index++) {', () => {
        code.line('const value = values[index];');
        emitMeasureSingle(code, field.type, 'value', field, names, 'size', field.number);
      });
    });
    return;
  }
  code.block('{', () => {
    code.line(`const value = ${access};`);
    const condition = field.label === 'optional' ? 'value !== undefined' : presentCondition(field.type, 'value');
    const fragment = measureValue(field.type, 'value', field, names);
    if (fragment.statements.length === 0) {
      code.line(`if (${condition}) size += ${tagSize(field.number, wireTypeOf(field.type))} + ${fragment.expression};`);
    } else {
      code.block(`if (${condition}) {`, () => emitMeasureSingle(code, field.type, 'value', field, names, 'size', field.number));
    }
  });
}

function emitMeasureMap(code: CodeWriter, field: ResolvedField, names: ModuleNames): void {
  const key = keyType(field.mapKey!);
  code.block(`for (const [key, value] of message.${field.typeScriptName}) {`, () => {
    code.line('const entrySlot = writer.reserveSize();');
    code.line('let entryLength = 0;');
    // Map entries always carry both key and value, as protoc-generated code writes them.
    code.block('{', () => emitMeasureSingle(code, key, 'key', field, names, 'entryLength', 1));
    code.block('{', () => emitMeasureSingle(code, field.type, 'value', field, names, 'entryLength', 2));
    code.line('writer.fillSize(entrySlot, entryLength);');
    code.line(`size += ${tagSize(field.number, lengthDelimited)} + protobuf.varint32Size(entryLength) + entryLength;`);
  });
}

function emitMeasureOneof(code: CodeWriter, oneof: ResolvedOneof, message: ResolvedMessage, names: ModuleNames): void {
  code.block('{', () => {
    code.line(`const oneof = message.${oneof.typeScriptName};`);
    code.block('if (oneof !== undefined) {', () => {
      code.block('switch (oneof.case) {', () => {
        for (const field of oneof.fields) {
          code.block(`case ${quote(field.typeScriptName)}: {`, () => {
            code.line('const value = oneof.value;');
            emitMeasureSingle(code, field.type, 'value', field, names, 'size', field.number);
            code.line('break;');
          });
        }
        code.line('default:');
        code.indent(() => code.line(`throw protobuf.unknownOneofCase(${quote(`${message.fullName}.${oneof.declaration.name}`)}, oneof);`));
      });
    });
  });
}

function emitWriteField(code: CodeWriter, field: ResolvedField, names: ModuleNames): void {
  const access = `message.${field.typeScriptName}`;
  if (field.mapKey !== undefined) {
    const key = keyType(field.mapKey);
    code.block(`for (const [key, value] of ${access}) {`, () => {
      for (const line of writeTag(field.number, lengthDelimited)) code.line(line);
      code.line('writer.varint32(writer.nextSize());');
      for (const line of [...writeTag(1, wireTypeOf(key)), ...writeValue(key, 'key', names)]) code.line(line);
      for (const line of [...writeTag(2, wireTypeOf(field.type)), ...writeValue(field.type, 'value', names)]) code.line(line);
    });
    return;
  }
  if (field.label === 'repeated' && field.packed) {
    const encoding = encodingOf(field.type)!;
    code.block('{', () => {
      code.line(`const values = ${access};`);
      code.block('if (values.length !== 0) {', () => {
        for (const line of writeTag(field.number, lengthDelimited)) code.line(line);
        code.line(encoding.fixedBytes !== undefined ? `writer.varint32(values.length * ${encoding.fixedBytes});` : 'writer.varint32(writer.nextSize());');
        code.line(`for (let index = 0; index < values.length; index++) writer.${encoding.writeMethod}(values[index]);`);
      });
    });
    return;
  }
  const tag = writeTag(field.number, wireTypeOf(field.type));
  if (field.label === 'repeated') {
    code.block('{', () => {
      code.line(`const values = ${access};`);
      code.block('for (let index = 0; index < values.length; index++) {', () => {
        for (const line of [...tag, ...writeValue(field.type, 'values[index]', names)]) code.line(line);
      });
    });
    return;
  }
  code.block('{', () => {
    code.line(`const value = ${access};`);
    const condition = field.label === 'optional' ? 'value !== undefined' : presentCondition(field.type, 'value');
    code.line(`if (${condition}) { ${[...tag, ...writeValue(field.type, 'value', names)].join(' ')} }`);
  });
}

function emitWriteOneof(code: CodeWriter, oneof: ResolvedOneof, names: ModuleNames): void {
  code.block('{', () => {
    code.line(`const oneof = message.${oneof.typeScriptName};`);
    code.block('if (oneof !== undefined) {', () => {
      code.block('switch (oneof.case) {', () => {
        for (const field of oneof.fields) {
          code.line(`case ${quote(field.typeScriptName)}:`);
          code.indent(() => {
            for (const line of [...writeTag(field.number, wireTypeOf(field.type)), ...writeValue(field.type, 'oneof.value', names)]) code.line(line);
            code.line('break;');
          });
        }
      });
    });
  });
}

// ---- read fragments ----------------------------------------------------------

/** Statements that read one value of `type` and pass it to `assign` (an expression template). */
function readValue(code: CodeWriter, type: ResolvedFieldType, names: ModuleNames, assign: (value: string) => string): void {
  if (type.kind === 'message') {
    code.line('const outer = reader.enterMessage();');
    code.line(assign(`${helper(names, type.messageType, 'read')}(reader)`));
    code.line('reader.leaveMessage(outer);');
    return;
  }
  code.line(assign(`reader.${encodingOf(type)!.readMethod}()`));
}

function emitReadCases(code: CodeWriter, field: ResolvedField, names: ModuleNames): void {
  const access = `message.${field.typeScriptName}`;
  const wireType = wireTypeOf(field.type);
  if (field.mapKey !== undefined) {
    emitReadMapCase(code, field, names);
    return;
  }
  let assign: (value: string) => string;
  if (field.oneof !== undefined) {
    assign = (value) => `message.${field.oneof!.typeScriptName} = { case: ${quote(field.typeScriptName)}, value: ${value} };`;
  } else if (field.label === 'repeated') {
    assign = (value) => `${access}.push(${value});`;
  } else {
    assign = (value) => `${access} = ${value};`;
  }
  if (field.type.kind === 'message') {
    code.block(`case ${tagValue(field.number, wireType)}: {`, () => {
      readValue(code, field.type, names, assign);
      code.line('break;');
    });
  } else {
    code.line(`case ${tagValue(field.number, wireType)}: ${assign(`reader.${encodingOf(field.type)!.readMethod}()`)} break;`);
  }
  if (field.label === 'repeated' && wireType !== lengthDelimited) {
    // Packable: accept the packed form whatever this side writes (protobuf requires it).
    code.block(`case ${tagValue(field.number, lengthDelimited)}: {`, () => {
      code.line('const outer = reader.enter();');
      code.line(`const values = ${access};`);
      code.line(`while (reader.position < reader.limit) values.push(reader.${encodingOf(field.type)!.readMethod}());`);
      code.line('reader.leave(outer);');
      code.line('break;');
    });
  }
}

function emitReadMapCase(code: CodeWriter, field: ResolvedField, names: ModuleNames): void {
  const key = keyType(field.mapKey!);
  const valueIsMessage = field.type.kind === 'message';
  code.block(`case ${tagValue(field.number, lengthDelimited)}: {`, () => {
    code.line('const outer = reader.enterMessage();');
    code.line(`let key: ${valueTypeScript(key, names)} = ${defaultValue(key, names)};`);
    code.line(`let value: ${valueTypeScript(field.type, names)}${valueIsMessage ? ' | undefined' : ''} = ${defaultValue(field.type, names)};`);
    code.block('while (reader.position < reader.limit) {', () => {
      code.line('const tag = reader.tag();');
      code.block('switch (tag) {', () => {
        code.block(`case ${tagValue(1, wireTypeOf(key))}: {`, () => {
          readValue(code, key, names, (value) => `key = ${value};`);
          code.line('break;');
        });
        code.block(`case ${tagValue(2, wireTypeOf(field.type))}: {`, () => {
          readValue(code, field.type, names, (value) => `value = ${value};`);
          code.line('break;');
        });
        code.line('default:');
        code.indent(() => {
          code.line(`if (tag >>> 3 === 1 || tag >>> 3 === 2) throw reader.wrongWireType(tag, ${quote(`${field.fullName} (map entry)`)});`);
          code.line('reader.skip(tag);');
        });
      });
    });
    code.line('reader.leaveMessage(outer);');
    if (valueIsMessage && field.type.kind === 'message') {
      code.line(`message.${field.typeScriptName}.set(key, value ?? ${helper(names, field.type.messageType, 'create')}());`);
    } else {
      code.line(`message.${field.typeScriptName}.set(key, value);`);
    }
    code.line('break;');
  });
}

// ---- the message -------------------------------------------------------------

export function emitMessage(code: CodeWriter, message: ResolvedMessage, names: ModuleNames): void {
  const name = message.typeScriptName;
  const typeName = quote(message.fullName);
  const memberList = members(message);

  code.doc(message.declaration.comment, message.declaration.deprecated);
  code.block(`export interface ${name} {`, () => {
    for (const member of memberList) {
      if (member.kind === 'oneof') {
        code.doc(member.oneof.declaration.comment);
        code.line(`${member.oneof.typeScriptName}: ${oneofTypeScript(member.oneof, names)};`);
        continue;
      }
      const field = member.field;
      code.doc(field.declaration.comment, field.declaration.deprecated);
      const optional = field.label === 'optional' ? '?' : '';
      code.line(`${field.typeScriptName}${optional}: ${fieldTypeScript(field, names)};`);
    }
  });
  code.line();

  code.block(`export const ${name}: protobuf.MessageCodec<${name}> = {`, () => {
    code.line(`typeName: ${typeName},`);
    code.line(`create: create${name},`);
    code.line(`encode: (message) => protobuf.encodeMessage(message, measure${name}, write${name}, ${typeName}),`);
    code.line(`encodedSize: (message) => protobuf.encodedMessageSize(message, measure${name}, ${typeName}),`);
    code.line(`encodeInto: (message, buffer, offset) => protobuf.encodeMessageInto(message, buffer, offset, measure${name}, write${name}, ${typeName}),`);
    code.line(`decode: (bytes) => protobuf.decodeMessage(bytes, read${name}),`);
    code.line(`measure: measure${name},`);
    code.line(`write: write${name},`);
    code.line(`read: read${name},`);
  }, '};');
  code.line();

  const literal = (valueOf: (member: Member) => string): void => {
    for (const member of memberList) {
      const key = member.kind === 'oneof' ? member.oneof.typeScriptName : member.field.typeScriptName;
      code.line(`${key}: ${valueOf(member)},`);
    }
  };

  const parameter = memberList.length === 0 ? '_partial' : 'partial';
  code.block(`function create${name}(${parameter}?: Partial<${name}>): ${name} {`, () => {
    code.block('return {', () => {
      literal((member) => {
        const key = member.kind === 'oneof' ? member.oneof.typeScriptName : member.field.typeScriptName;
        if (member.kind === 'oneof' || member.field.label === 'optional' || (member.field.type.kind === 'message' && member.field.label === 'singular')) {
          return `partial?.${key}`;
        }
        return `partial?.${key} ?? ${emptyValue(member.field, names)}`;
      });
    }, '};');
  });
  code.line();

  const writerParameter = message.fields.length === 0 ? '_writer' : 'writer';
  const messageParameter = message.fields.length === 0 ? '_message' : 'message';
  code.block(`function measure${name}(${messageParameter}: ${name}, ${writerParameter}: protobuf.ProtoWriter): number {`, () => {
    code.line(`${message.fields.length === 0 ? 'const' : 'let'} size = 0;`);
    for (const member of memberList) {
      if (member.kind === 'oneof') emitMeasureOneof(code, member.oneof, message, names);
      else emitMeasureField(code, member.field, names);
    }
    code.line('return size;');
  });
  code.line();

  code.block(`function write${name}(${messageParameter}: ${name}, ${writerParameter}: protobuf.ProtoWriter): void {`, () => {
    for (const member of memberList) {
      if (member.kind === 'oneof') emitWriteOneof(code, member.oneof, names);
      else emitWriteField(code, member.field, names);
    }
  });
  code.line();

  code.block(`function read${name}(reader: protobuf.ProtoReader): ${name} {`, () => {
    code.block(`const message: ${name} = {`, () => {
      literal((member) => (member.kind === 'oneof' ? 'undefined' : emptyValue(member.field, names)));
    }, '};');
    code.block('while (reader.position < reader.limit) {', () => {
      code.line('const tag = reader.tag();');
      code.block('switch (tag) {', () => {
        for (const field of message.fields) emitReadCases(code, field, names);
        code.line('default:');
        code.indent(() => {
          if (message.fields.length > 0) {
            // A known field number with another wire type is corrupt input, not an unknown field.
            code.block('switch (tag >>> 3) {', () => {
              for (const field of message.fields) {
                code.line(`case ${field.number}: throw reader.wrongWireType(tag, ${quote(field.fullName)});`);
              }
            });
          }
          code.line('reader.skip(tag);');
        });
      });
    });
    code.line('return message;');
  });
}
