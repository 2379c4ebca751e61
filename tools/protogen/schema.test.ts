import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProto } from './parser.js';
import { ProtoParseError } from './parse-error.js';
import { linkSchema, type Schema } from './schema.js';

function link(files: Record<string, string>): Schema {
  return linkSchema(Object.entries(files).map(([name, body]) => parseProto(`syntax = "proto3";\n${body}`, name)));
}

test('resolves names outward from the innermost scope, across packages and imports', () => {
  const schema = link({
    'common.proto': 'package atoll.common;\nenum Status { STATUS_OK = 0; }\nmessage Inode { uint64 ino = 1; }',
    'meta.proto': `package atoll.meta;
import "common.proto";
message Outer {
  message Inode { uint32 local = 1; }
  Inode local_inode = 1;
  common.Inode shared_inode = 2;
  .atoll.common.Status status = 3;
  atoll.common.Status status_again = 4;
}
service Meta { rpc Get(Outer) returns (common.Inode) { option (method_id) = 7; } }`,
  });
  const outer = schema.files[1].messages.find((message) => message.fullName === 'atoll.meta.Outer')!;
  const typeNames = outer.fields.map((field) =>
    field.type.kind === 'message' ? field.type.messageType.fullName : field.type.kind === 'enum' ? field.type.enumType.fullName : field.type.scalar,
  );
  assert.deepEqual(typeNames, ['atoll.meta.Outer.Inode', 'atoll.common.Inode', 'atoll.common.Status', 'atoll.common.Status']);
  assert.equal(schema.files[1].messages[1].typeScriptName, 'Outer_Inode');
  assert.equal(schema.files[1].services[0].methods[0].methodId, 7);
  assert.equal(schema.files[1].services[0].methods[0].typeScriptName, 'get');
});

test('repeated numeric fields are packed unless [packed = false]; strings and messages never', () => {
  const schema = link({
    'a.proto': 'message A { repeated uint64 a = 1; repeated uint64 b = 2 [packed = false]; repeated string c = 3; repeated A d = 4; repeated E e = 5; }\nenum E { E_ZERO = 0; }',
  });
  assert.deepEqual(schema.files[0].messages[0].fields.map((field) => field.packed), [true, false, false, false, true]);
});

/** [description, files, expected message part, file:line:column] */
const invalidSchemas: Array<[string, Record<string, string>, string, string]> = [
  ['an unknown type', { 'a.proto': 'message A { B b = 1; }' }, 'unknown type B', 'a.proto:2:13'],
  ['a type from a file that is not imported', { 'a.proto': 'message A { B b = 1; }', 'b.proto': 'message B {}' }, 'defined in b.proto, which a.proto does not import', 'a.proto:2:13'],
  ['a missing import', { 'a.proto': 'import "nope.proto";' }, 'import nope.proto not found', 'a.proto:2:1'],
  ['an import cycle', { 'a.proto': 'import "b.proto";', 'b.proto': 'import "a.proto";' }, 'import cycle: a.proto -> b.proto -> a.proto', 'b.proto:2:1'],
  ['a duplicate field number', { 'a.proto': 'message A {\n  uint32 x = 1;\n  uint32 y = 1;\n}' }, 'field y reuses number 1 of field x in A', 'a.proto:4:10'],
  ['a reserved field number', { 'a.proto': 'message A { reserved 2 to 4; uint32 x = 3; }' }, 'field x uses reserved number 3', 'a.proto:2:37'],
  ['a reserved field name', { 'a.proto': 'message A { reserved "x"; uint32 x = 3; }' }, 'field name x is reserved', 'a.proto:2:34'],
  ['two fields with one TypeScript name', { 'a.proto': 'message A { uint32 foo_bar = 1; uint32 fooBar = 2; }' }, "becomes TypeScript property 'fooBar'", 'a.proto:2:40'],
  ['an enum value named __proto__', { 'a.proto': 'enum E { E_ZERO = 0; __proto__ = 1; }' }, 'enum value name __proto__ cannot be used in TypeScript', 'a.proto:2:22'],
  ['a duplicate type', { 'a.proto': 'message A {}\nmessage A {}' }, 'A is already defined at a.proto:2:9', 'a.proto:3:9'],
  ['an enum not starting at zero', { 'a.proto': 'enum E { E_ONE = 1; }' }, 'the first value of enum E must be 0', 'a.proto:2:10'],
  ['an alias without allow_alias', { 'a.proto': 'enum E { E_ZERO = 0; E_NONE = 0; }' }, "reuses number 0 of E_ZERO: add 'option allow_alias = true;'", 'a.proto:2:22'],
  ['allow_alias without aliases', { 'a.proto': 'enum E { option allow_alias = true; E_ZERO = 0; }' }, 'sets allow_alias but has no aliases', 'a.proto:2:6'],
  ['an rpc without method_id', { 'a.proto': 'message A {}\nservice S { rpc F(A) returns (A); }' }, "rpc F needs a stable id: add '{ option (method_id) = N; }'", 'a.proto:3:17'],
  [
    'a method_id used twice across files',
    {
      'a.proto': 'message A {}\nservice S { rpc F(A) returns (A) { option (method_id) = 5; } }',
      'b.proto': 'import "a.proto";\nservice T { rpc G(A) returns (A) { option (method_id) = 5; } }',
    },
    'method_id 5 of rpc G is already used by S.F at a.proto:3:17',
    'b.proto:3:17',
  ],
  ['an enum as rpc request', { 'a.proto': 'enum E { E_ZERO = 0; }\nmessage A {}\nservice S { rpc F(E) returns (A) { option (method_id) = 1; } }' }, 'request type of rpc F must be a message', 'a.proto:4:19'],
  ['[packed] on a string field', { 'a.proto': 'message A { repeated string s = 1 [packed = true]; }' }, '[packed] applies only to repeated numeric', 'a.proto:2:29'],
  ['a nested name that flattens onto another', { 'a.proto': 'message A { message B {} }\nmessage A_B {}' }, 'generated TypeScript name A_B clashes', 'a.proto:3:9'],
];

for (const [description, files, expected, where] of invalidSchemas) {
  test(`rejects ${description} at ${where}`, () => {
    assert.throws(
      () => link(files),
      (error: unknown) => {
        assert.ok(error instanceof ProtoParseError, `expected ProtoParseError, got ${String(error)}`);
        assert.ok(error.message.includes(expected), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(expected)}`);
        assert.ok(error.message.startsWith(`${where}: `), `message ${JSON.stringify(error.message)} does not start at ${where}`);
        return true;
      },
    );
  });
}
