import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config-error.js';
import { readConfigFile } from './config-file.js';
import { findJsonSyntaxProblem } from './json-syntax-position.js';

const directory = mkdtempSync(join(tmpdir(), 'atoll-config-file-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

test('a TOML file gives its top-level keys with lists as arrays', () => {
  write('master.toml', 'port = 17011\nmasters = ["127.0.0.1:17010", "127.0.0.1:17011"]\n');
  const contents = readConfigFile('master.toml', directory);
  assert.equal(contents.path, join(directory, 'master.toml'));
  assert.equal(contents.source, `file ${join(directory, 'master.toml')}`);
  assert.deepEqual({ ...contents.values }, { port: 17011, masters: ['127.0.0.1:17010', '127.0.0.1:17011'] });
});

test('a JSON file gives its top-level keys', () => {
  const path = write('node.json', '{"port": 17211, "log-level": "debug"}');
  assert.deepEqual(readConfigFile(path, '/').values, { port: 17211, 'log-level': 'debug' });
});

test('a byte order mark at the start of a file is ignored', () => {
  const path = write('bom.json', '\uFEFF{"port": 1}');
  assert.deepEqual(readConfigFile(path, '/').values, { port: 1 });
});

test('a TOML syntax error names the file, line and column', () => {
  const path = write('broken.toml', 'port = 17010\nmasters = ["a:1",\nzone = \n');
  const error = configErrorOf(() => readConfigFile(path, '/'));
  assert.match(error.message, new RegExp(`^config: file ${path}, line 3, column \\d+: invalid TOML: `));
  assert.equal(error.message.includes('\n'), false);
  assert.equal(error.source, `file ${path}`);
});

test('a JSON syntax error names the file, line and reason', () => {
  const path = write('broken.json', '{\n  "port": 17010,\n  "zone": x\n}\n');
  const error = configErrorOf(() => readConfigFile(path, '/'));
  assert.equal(error.message, `config: file ${path}, line 3, column 11: invalid JSON: unexpected "x"`);
  const trailing = write('trailing.json', '{\n  "port": 17010,\n}');
  assert.equal(configErrorOf(() => readConfigFile(trailing, '/')).message, `config: file ${trailing}, line 3, column 1: invalid JSON: trailing comma before "}"`);
});

test('a file name without .toml or .json, or a missing file, is an error about --config', () => {
  const yaml = configErrorOf(() => readConfigFile('master.yaml', directory));
  assert.equal(yaml.message, 'config: config: file name must end in .toml or .json, got "master.yaml" (from flag --config)');
  assert.equal(yaml.source, 'flag');
  const missing = configErrorOf(() => readConfigFile('absent.toml', directory));
  assert.equal(missing.message, `config: config: cannot read ${join(directory, 'absent.toml')}: no such file (from flag --config)`);
});

test('a JSON file whose top level is not an object is refused', () => {
  const path = write('list.json', '[1, 2]');
  assert.equal(configErrorOf(() => readConfigFile(path, '/')).message, `config: file ${path}: must hold key = value settings at the top level`);
});

test('the JSON scanner agrees with JSON.parse on what is valid', () => {
  const samples = [
    '{}', '[]', '{"a": [1, -2.5e3, true, false, null, "x\\u0041\\n"]}', ' 1 ',
    '', '{', '{"a" 1}', '{"a": 1,}', '[1,]', '{"a": 01}', '"\n"', '{"a": 1} x', '[1 2]', '"\\x"', 'tru',
  ];
  for (const sample of samples) {
    let valid = true;
    try {
      JSON.parse(sample);
    } catch {
      valid = false;
    }
    assert.equal(findJsonSyntaxProblem(sample) === undefined, valid, `sample ${JSON.stringify(sample)}`);
  }
  assert.deepEqual(findJsonSyntaxProblem('{"a": 1,\n  }'), { offset: 11, reason: 'trailing comma before "}"', line: 2, column: 3 });
  assert.equal(findJsonSyntaxProblem('{"a": ')?.reason, 'unexpected end of file');
});
