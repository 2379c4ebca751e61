import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type FlagDefinition, isHelpRequested, parseArguments } from './flags.js';

const definitions: FlagDefinition[] = [
  { name: 'port', aliases: [], short: undefined, isBoolean: false, isList: false },
  { name: 'masters', aliases: ['master'], short: 'p', isBoolean: false, isList: true },
  { name: 'verbose', aliases: [], short: undefined, isBoolean: true, isList: false },
  { name: 'secret', aliases: [], short: undefined, isBoolean: false, isList: false },
];

test('flags take a value as the next argument or after "="', () => {
  const parsed = parseArguments(['--port', '1', 'mnt', '--secret=a=b'], definitions);
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.occurrences, [
    { name: 'port', flag: '--port', text: '1' },
    { name: 'secret', flag: '--secret', text: 'a=b' },
  ]);
  assert.deepEqual(parsed.positional, ['mnt']);
});

test('repeated list flags accumulate under every spelling', () => {
  const parsed = parseArguments(['-p', 'a:1', '--master', 'b:2', '--masters=c:3,d:4', '-p=e:5'], definitions);
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.occurrences.map((occurrence) => [occurrence.name, occurrence.flag, occurrence.text]), [
    ['masters', '-p', 'a:1'],
    ['masters', '--master', 'b:2'],
    ['masters', '--masters', 'c:3,d:4'],
    ['masters', '-p', 'e:5'],
  ]);
});

test('on/off flags are set by --flag and --no-flag', () => {
  assert.deepEqual(parseArguments(['--verbose'], definitions).occurrences, [{ name: 'verbose', flag: '--verbose', text: 'true' }]);
  assert.deepEqual(parseArguments(['--no-verbose'], definitions).occurrences, [{ name: 'verbose', flag: '--no-verbose', text: 'false' }]);
  assert.deepEqual(parseArguments(['--verbose=false'], definitions).occurrences, [{ name: 'verbose', flag: '--verbose', text: 'false' }]);
  // an on/off flag never takes the next argument, which stays positional
  assert.deepEqual(parseArguments(['--verbose', 'x'], definitions).positional, ['x']);
});

test('-- ends the flags', () => {
  const parsed = parseArguments(['--port', '1', '--', '--port', '-x'], definitions);
  assert.deepEqual(parsed.positional, ['--port', '-x']);
  assert.equal(parsed.occurrences.length, 1);
});

test('unknown flags are errors with a suggestion when close', () => {
  const parsed = parseArguments(['--mastr', 'a:1', '--prot', '2', '--zzz', '-q'], definitions);
  assert.deepEqual(parsed.errors.map((error) => error.message), [
    'config: mastr: unknown flag --mastr; did you mean --master? (from flag --mastr)',
    'config: prot: unknown flag --prot; did you mean --port? (from flag --prot)',
    'config: zzz: unknown flag --zzz (from flag --zzz)',
    'config: q: unknown flag -q (from flag -q)',
  ]);
  assert.ok(parsed.errors.every((error) => error.source === 'flag'));
});

test('a missing value, a flag used as a value, or a repeated single flag is an error', () => {
  const messages = (argv: string[]): string[] => parseArguments(argv, definitions).errors.map((error) => error.message);
  assert.deepEqual(messages(['--port']), ['config: port: needs a value (from flag --port)']);
  assert.deepEqual(messages(['--port', '--verbose']), [
    'config: port: needs a value, but the next argument is --verbose (write --port=VALUE for a value starting with "-") (from flag --port)',
  ]);
  assert.deepEqual(messages(['--port', '1', '--port=2']), ['config: port: given more than once (--port "1" and --port "2") (from flag --port)']);
  assert.deepEqual(messages(['--no-port']), ['config: port: --no- only applies to on/off flags; port takes a value (from flag --no-port)']);
  assert.deepEqual(messages(['--no-verbose=1']), ['config: verbose: --no-verbose takes no value, got "1" (from flag --no-verbose)']);
});

test('help is requested by --help or -h before --', () => {
  assert.equal(isHelpRequested(['--port', '1', '--help']), true);
  assert.equal(isHelpRequested(['-h']), true);
  assert.equal(isHelpRequested(['--', '--help']), false);
  assert.equal(isHelpRequested(['--port', '1']), false);
});

test('a hint replaces the suggestion for a name known to be wrong here', () => {
  const parsed = parseArguments(['-x', '1', '--masterz', 'a:1'], definitions, { x: 'use --port', masterz: 'not here' });
  assert.deepEqual(parsed.errors.map((error) => error.message), [
    'config: x: unknown flag -x; use --port (from flag -x)',
    'config: masterz: unknown flag --masterz; not here (from flag --masterz)',
  ]);
});
