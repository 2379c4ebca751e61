import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProto } from './parser.js';
import { ProtoParseError } from './parse-error.js';

const header = 'syntax = "proto3";\npackage atoll.test;\n';

test('parses messages, fields, labels, maps, oneofs, options, reserved and services', () => {
  const file = parseProto(
    `${header}
import "other.proto";
option go_package = "x/y";

// A volume.
// Second line.
message Volume {
  // The id.
  uint64 id = 1;
  optional string name = 2 [deprecated = true];
  repeated int32 sizes = 3 [packed = false, json_name = "s"];
  map<string, Volume> children = 4;
  oneof placement {
    string zone = 5;
    uint32 rack = 6;
  }
  reserved 7, 9 to 11, 100 to max;
  reserved "old", "older";
  message Inner { bytes data = 1; }
  enum Kind { KIND_UNSPECIFIED = 0; KIND_X = 1; }
  Inner inner = 8; .atoll.test.Volume.Kind kind = 12;
  option deprecated = false;
}

enum Code {
  option allow_alias = true;
  CODE_OK = 0;
  CODE_FINE = 0 [deprecated = true];
  CODE_NEGATIVE = -3;
  reserved 5, 6 to 8;
}

/* The service. */
service VolumeService {
  rpc Create(Volume) returns (Volume) { option (method_id) = 1; }
  rpc Delete (.atoll.test.Volume) returns (Volume) {
    option deprecated = true;
    option (atoll.method_id) = 0x10;
  }
}
`,
    'volume.proto',
  );
  assert.equal(file.packageName, 'atoll.test');
  assert.deepEqual(file.imports.map((entry) => entry.path), ['other.proto']);
  const volume = file.messages[0];
  assert.equal(volume.name, 'Volume');
  assert.equal(volume.comment, 'A volume.\nSecond line.');
  assert.deepEqual(
    volume.fields.map((field) => [field.name, field.number, field.label, field.oneof ?? null, field.mapKey ?? null]),
    [
      ['id', 1, 'singular', null, null],
      ['name', 2, 'optional', null, null],
      ['sizes', 3, 'repeated', null, null],
      ['children', 4, 'repeated', null, 'string'],
      ['zone', 5, 'singular', 'placement', null],
      ['rack', 6, 'singular', 'placement', null],
      ['inner', 8, 'singular', null, null],
      ['kind', 12, 'singular', null, null],
    ],
  );
  assert.equal(volume.fields[0].comment, 'The id.');
  assert.equal(volume.fields[1].deprecated, true);
  assert.equal(volume.fields[2].packed, false);
  assert.deepEqual(volume.fields[3].type, { kind: 'named', name: 'Volume', position: { file: 'volume.proto', line: 14, column: 15 } });
  assert.deepEqual(volume.reserved.ranges, [{ from: 7, to: 7 }, { from: 9, to: 11 }, { from: 100, to: 0x1fff_ffff }]);
  assert.deepEqual(volume.reserved.names, ['old', 'older']);
  assert.equal(volume.messages[0].name, 'Inner');
  assert.equal(volume.enums[0].name, 'Kind');
  const code = file.enums[0];
  assert.equal(code.allowAlias, true);
  assert.deepEqual(code.values.map((value) => [value.name, value.number, value.deprecated]), [
    ['CODE_OK', 0, false],
    ['CODE_FINE', 0, true],
    ['CODE_NEGATIVE', -3, false],
  ]);
  const service = file.services[0];
  assert.equal(service.comment, 'The service.');
  assert.deepEqual(service.methods.map((method) => [method.name, method.methodId, method.requestType.name, method.deprecated]), [
    ['Create', 1, 'Volume', false],
    ['Delete', 16, '.atoll.test.Volume', true],
  ]);
});

test('a comment separated by a blank line or trailing other code is not documentation', () => {
  const file = parseProto(
    `${header}
// Detached: a blank line follows.

message A {
  uint32 x = 1; // trailing comment of x
  uint32 y = 2;
  /* block
   * comment */
  uint32 z = 3;
}
`,
    'a.proto',
  );
  assert.equal(file.messages[0].comment, undefined);
  assert.equal(file.messages[0].fields[1].comment, undefined);
  assert.equal(file.messages[0].fields[2].comment, 'block\ncomment');
});

test('accepts extend blocks that declare custom options, for protoc compatibility', () => {
  const file = parseProto(
    `${header}import "google/protobuf/descriptor.proto";
extend google.protobuf.MethodOptions { uint32 method_id = 50001; }
message A {}
`,
    'a.proto',
  );
  assert.equal(file.messages.length, 1);
});

/** [description, source after the header, expected message part, line, column] */
const invalidInputs: Array<[string, string, string, number, number]> = [
  ['missing semicolon', 'message A { uint32 x = 1 }', "expected ';' but found '}'", 3, 26],
  ['unknown top-level word', 'messages A {}', "unexpected 'messages' at top level", 3, 1],
  ['field number zero', 'message A {\n  uint32 x = 0;\n}', 'field number 0 is outside 1..536870911', 4, 14],
  ['field number too large', 'message A { uint32 x = 536870912; }', 'field number 536870912 is outside', 3, 24],
  ['implementation-reserved number', 'message A { uint32 x = 19000; }', 'reserved by protobuf', 3, 24],
  ['required label', 'message A { required uint32 x = 1; }', "'required' is not allowed in proto3", 3, 13],
  ['group', 'message A { group G = 1 {} }', 'groups are a proto2 feature', 3, 13],
  ['extensions', 'message A { extensions 100 to 200; }', 'extensions are a proto2 feature', 3, 13],
  ['streaming rpc', 'service S { rpc F(stream A) returns (A); }', 'streaming rpc F is not supported', 3, 19],
  ['bad map key', 'message A { map<double, string> m = 1; }', 'map key type must be an integer type, bool or string', 3, 17],
  ['map in oneof', 'message A { oneof o { map<string, string> m = 1; } }', 'map fields cannot be in oneof o', 3, 23],
  ['repeated in oneof', 'message A { oneof o { repeated uint32 m = 1; } }', "fields in oneof o cannot be 'repeated'", 3, 23],
  ['unterminated message', 'message A { uint32 x = 1;', "missing '}' closing message A", 3, 1],
  ['unterminated string', 'import "a.proto;\n', 'unterminated string literal', 3, 8],
  ['unterminated block comment', '/* never closed', 'unterminated /* comment', 3, 1],
  ['unexpected character', 'message A { uint32 x = 1; } #', "unexpected character '#'", 3, 29],
  ['default value', 'message A { uint32 x = 1 [default = 5]; }', 'default values are not allowed in proto3', 3, 27],
  ['enum value out of int32', 'enum E { E_ZERO = 0; E_BIG = 2147483648; }', 'does not fit int32', 3, 30],
  ['empty enum', 'enum E {}', 'enum E has no values', 3, 6],
  ['method_id twice', 'service S { rpc F(A) returns (A) { option (method_id) = 1; option (method_id) = 2; } }', 'declares method_id twice', 3, 67],
  ['method_id zero', 'service S { rpc F(A) returns (A) { option (method_id) = 0; } }', 'method_id 0 of rpc F is outside', 3, 57],
  ['method_id not an integer', 'service S { rpc F(A) returns (A) { option (method_id) = "x"; } }', 'method_id of rpc F must be an integer', 3, 57],
  ['scalar as rpc type', 'service S { rpc F(uint32) returns (A) { option (method_id) = 1; } }', 'expected a message type for rpc F', 3, 19],
  ['public import', 'import public "a.proto";', 'public imports are not supported', 3, 8],
  ['other extension', 'extend Foo { uint32 x = 1; }', 'extensions are not supported', 3, 1],
  ['empty reserved range', 'message A { reserved 5 to 3; }', 'reserved range 5 to 3 is empty', 3, 22],
  ['packed on a non-boolean', 'message A { repeated uint32 x = 1 [packed = 1]; }', 'option packed must be true or false', 3, 45],
  ['bad octal', 'message A { uint32 x = 09; }', "invalid octal literal '09'", 3, 24],
];

for (const [description, source, expected, line, column] of invalidInputs) {
  test(`rejects ${description} with its file:line:column`, () => {
    assert.throws(
      () => parseProto(header + source, 'bad.proto'),
      (error: unknown) => {
        assert.ok(error instanceof ProtoParseError, `expected ProtoParseError, got ${String(error)}`);
        assert.ok(error.message.includes(expected), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(expected)}`);
        assert.deepEqual(error.position, { file: 'bad.proto', line, column });
        assert.ok(error.message.startsWith(`bad.proto:${line}:${column}: `));
        return true;
      },
    );
  });
}

test('rejects proto2 and a missing syntax statement', () => {
  assert.throws(() => parseProto('syntax = "proto2";', 'a.proto'), /a\.proto:1:10: only proto3 is supported/);
  assert.throws(() => parseProto('message A {}', 'a.proto'), /a\.proto:1:1: expected 'syntax = "proto3";'/);
});
