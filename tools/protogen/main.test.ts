import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCode, main } from './main.js';

function capture(): { log(text: string): void; error(text: string): void; lines: string[] } {
  const lines: string[] = [];
  return { log: (text) => lines.push(text), error: (text) => lines.push(text), lines };
}

test('--write generates modules, --check then passes, and an edit makes --check list the stale file', () => {
  const root = mkdtempSync(join(tmpdir(), 'protogen-'));
  try {
    mkdirSync(join(root, 'proto'));
    writeFileSync(join(root, 'proto/common.proto'), 'syntax = "proto3";\npackage t;\nmessage A { uint64 id = 1; }\n');
    writeFileSync(join(root, 'proto/service.proto'), 'syntax = "proto3";\npackage t;\nimport "common.proto";\nservice S { rpc Get(A) returns (A) { option (method_id) = 1; } }\n');
    const first = capture();
    assert.equal(main(['--write', '--root', root], first), exitCode.ok, first.lines.join('\n'));
    const service = readFileSync(join(root, 'src/proto/generated/service.ts'), 'utf8');
    assert.match(service, /import \* as protobuf from '\.\.\/\.\.\/codec\/protobuf\/index\.js';/);
    assert.match(service, /import \{ A \} from '\.\/common\.js';/);
    assert.equal(main(['--check', '--root', root], capture()), exitCode.ok);

    writeFileSync(join(root, 'proto/common.proto'), 'syntax = "proto3";\npackage t;\nmessage A { uint64 id = 1; string name = 2; }\n');
    const check = capture();
    assert.equal(main(['--check', '--root', root], check), exitCode.stale);
    assert.deepEqual(check.lines.filter((line) => line.startsWith('stale:')), ['stale: src/proto/generated/common.ts (changed)']);

    rmSync(join(root, 'proto/service.proto'));
    assert.equal(main(['--write', '--root', root], capture()), exitCode.ok);
    assert.equal(existsSync(join(root, 'src/proto/generated/service.ts')), false, 'orphaned module deleted');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an invalid .proto exits 5 with file:line:column, and bad arguments exit 1', () => {
  const root = mkdtempSync(join(tmpdir(), 'protogen-'));
  try {
    mkdirSync(join(root, 'proto'));
    writeFileSync(join(root, 'proto/bad.proto'), 'syntax = "proto3";\nmessage A { uint64 id = 1 }\n');
    const output = capture();
    assert.equal(main(['--check', '--root', root], output), exitCode.invalidProto);
    assert.match(output.lines.join('\n'), /proto\/bad\.proto:2:27: expected ';'/);
    assert.equal(main([], capture()), exitCode.usage);
    assert.equal(main(['--write', '--check'], capture()), exitCode.usage);
    assert.equal(main(['--frobnicate'], capture()), exitCode.usage);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
