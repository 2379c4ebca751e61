// docs/api.md is the reference of the admin API: every route of AdminApi.routes has a
// section headed `METHOD /path` with a curl example of that very request, and the
// document names no route the API does not serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AdminApi } from './admin-api.js';

// The document sits in docs/, the compiled test in dist/src/master/.
const documentPath = new URL('../../../docs/api.md', import.meta.url);
const document = readFileSync(documentPath, 'utf8');

interface RouteSection {
  readonly method: string;
  readonly path: string;
  readonly line: number;
  readonly body: string;
}

const headingPattern = /^(#{1,6})\s+(.*?)\s*$/;
const routeHeadingPattern = /^`([A-Z]+) (\/\S*)`$/;

/** Every heading that names a route, with the text up to the next heading of its level or above. */
function routeSections(text: string): RouteSection[] {
  const lines = text.split('\n');
  const sections: RouteSection[] = [];
  let fenced = false;
  const headings: Array<{ level: number; title: string; line: number }> = [];
  lines.forEach((line, index) => {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) return;
    const match = headingPattern.exec(line);
    if (match !== null) headings.push({ level: match[1]!.length, title: match[2]!, line: index });
  });
  headings.forEach((heading, position) => {
    const route = routeHeadingPattern.exec(heading.title);
    if (route === null) return;
    const next = headings.slice(position + 1).find((later) => later.level <= heading.level);
    const body = lines.slice(heading.line + 1, next === undefined ? lines.length : next.line).join('\n');
    sections.push({ method: route[1]!, path: route[2]!, line: heading.line + 1, body });
  });
  return sections;
}

const routeKey = (method: string, path: string) => `${method} ${path}`;
const sections = routeSections(document);
const served = new Set(AdminApi.routes.map(([method, path]) => routeKey(method, path)));

test('docs/api.md has a section for every route of the admin API', () => {
  const documented = new Set(sections.map((section) => routeKey(section.method, section.path)));
  const missing = [...served].filter((route) => !documented.has(route));
  assert.deepEqual(missing, [], `docs/api.md has no heading line \`METHOD /path\` for: ${missing.join('; ')}`);
});

test('docs/api.md documents no route the admin API does not serve, and none twice', () => {
  const unknown = sections.filter((section) => !served.has(routeKey(section.method, section.path)));
  assert.deepEqual(unknown.map((section) => `line ${section.line}: ${routeKey(section.method, section.path)}`), [], 'docs/api.md has route headings that are not in AdminApi.routes');
  const seen = new Map<string, number>();
  for (const section of sections) {
    const key = routeKey(section.method, section.path);
    assert.equal(seen.get(key), undefined, `docs/api.md documents ${key} twice (lines ${seen.get(key)} and ${section.line})`);
    seen.set(key, section.line);
  }
});

// A curl command line of the section, as written in its shell code block.
function curlCommands(body: string): string[] {
  const commands: string[] = [];
  let fenced = false;
  let current: string | null = null;
  for (const line of body.split('\n')) {
    if (line.startsWith('```')) {
      fenced = !fenced;
      current = null;
      continue;
    }
    if (!fenced) continue;
    const trimmed = line.trim();
    if (current === null && trimmed.startsWith('curl ')) current = '';
    if (current === null) continue;
    current += ` ${trimmed.replace(/\\$/, '')}`;
    if (!trimmed.endsWith('\\')) {
      commands.push(current.trim());
      current = null;
    }
  }
  return commands;
}

function methodOfCurl(command: string): string {
  const explicit = /(?:^|\s)(?:-X|--request)\s+([A-Z]+)/.exec(command);
  if (explicit !== null) return explicit[1]!;
  if (/(?:^|\s)(?:-I|--head)(?:\s|$)/.test(command)) return 'HEAD';
  return /(?:^|\s)(?:-d|--data|--data-raw|--data-binary)\s/.test(command) ? 'POST' : 'GET';
}

function pathPattern(path: string): RegExp {
  const segments = path.split('/').map((segment) => (segment.startsWith(':') ? '[^/?\\s"\']+' : segment.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')));
  return new RegExp(`\\$MASTER${segments.join('/')}(?:[?"'\\s]|$)`);
}

test('every route section of docs/api.md has a curl example of that request', () => {
  const problems: string[] = [];
  for (const section of sections) {
    const commands = curlCommands(section.body);
    const key = routeKey(section.method, section.path);
    if (commands.length === 0) {
      problems.push(`${key} (line ${section.line}): no curl example in a code block`);
      continue;
    }
    const pattern = pathPattern(section.path);
    const matching = commands.filter((command) => pattern.test(command) && methodOfCurl(command) === section.method);
    if (matching.length === 0) {
      problems.push(`${key} (line ${section.line}): no curl example sends ${section.method} to $MASTER${section.path}; found: ${commands.join(' | ')}`);
    }
    if (section.method !== 'GET' && matching.length > 0) {
      const authenticated = matching.filter((command) => command.includes('Authorization: Bearer $TOKEN'));
      if (authenticated.length === 0) problems.push(`${key} (line ${section.line}): the curl example of a change must send Authorization: Bearer $TOKEN`);
    }
  }
  assert.deepEqual(problems, []);
});
