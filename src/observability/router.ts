// Matches a method and a URL path to a registered route. Patterns are `/`-separated
// segments, each literal or `:name`. When several patterns of the request's method
// match, the one with a literal segment where the others have a parameter wins, first
// differing segment first, so `/volumes/stats` beats `/volumes/:name` whatever the
// order of registration.
//
// Matching works on the raw (still percent-encoded) segments, so an encoded `/` inside
// a parameter stays inside it; parameter values are returned raw and decoded by the
// caller, which owns the reply for malformed encodings.
import assert from 'node:assert/strict';

export const routeMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type RouteMethod = (typeof routeMethods)[number];

export function isRouteMethod(method: string): method is RouteMethod {
  return (routeMethods as readonly string[]).includes(method);
}

type Segment = { readonly literal: string } | { readonly parameter: string };

interface Route<Value> {
  readonly method: RouteMethod;
  readonly pattern: string;
  readonly segments: readonly Segment[];
  readonly value: Value;
}

export type RouteMatch<Value> =
  | { readonly kind: 'found'; readonly pattern: string; readonly value: Value; readonly rawParams: Readonly<Record<string, string>> }
  /** The path matches routes, none of this method; `allowed` is for the Allow header. */
  | { readonly kind: 'method-not-allowed'; readonly pattern: string; readonly allowed: readonly RouteMethod[] }
  | { readonly kind: 'not-found' };

const parameterNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class Router<Value> {
  readonly #routes: Route<Value>[] = [];
  readonly #routesMax: number;

  constructor(routesMax: number) {
    this.#routesMax = routesMax;
  }

  /** Adds a route; a bad pattern or a second route of the same method and shape is a bug. */
  add(method: RouteMethod, pattern: string, value: Value): void {
    assert.ok(isRouteMethod(method), `route method must be one of ${routeMethods.join(', ')}: ${String(method)}`);
    assert.ok(this.#routes.length < this.#routesMax, `too many routes: routesMax is ${this.#routesMax}`);
    const segments = parsePattern(pattern);
    const shape = shapeOf(segments);
    const clash = this.#routes.find((route) => route.method === method && shapeOf(route.segments) === shape);
    assert.ok(clash === undefined, `route ${method} ${pattern} clashes with ${method} ${clash?.pattern ?? ''}`);
    this.#routes.push({ method, pattern, segments, value });
  }

  match(method: string, path: string): RouteMatch<Value> {
    const pathSegments = path.split('/').slice(1);
    const matching: { route: Route<Value>; rawParams: Record<string, string> }[] = [];
    for (const route of this.#routes) {
      const rawParams = matchSegments(route.segments, pathSegments);
      if (rawParams !== undefined) matching.push({ route, rawParams });
    }
    if (matching.length === 0) return { kind: 'not-found' };

    // HEAD is GET without the body: a GET route answers it unless a HEAD route exists.
    const ofMethod = (wanted: string) => matching.filter((candidate) => candidate.route.method === wanted);
    let candidates = ofMethod(method);
    if (candidates.length === 0 && method === 'HEAD') candidates = ofMethod('GET');
    if (candidates.length > 0) {
      const best = mostSpecific(candidates);
      return { kind: 'found', pattern: best.route.pattern, value: best.route.value, rawParams: best.rawParams };
    }
    const allowed = new Set<RouteMethod>(matching.map((candidate) => candidate.route.method));
    if (allowed.has('GET')) allowed.add('HEAD');
    return {
      kind: 'method-not-allowed',
      pattern: mostSpecific(matching).route.pattern,
      allowed: routeMethods.filter((known) => allowed.has(known)),
    };
  }
}

function parsePattern(pattern: string): Segment[] {
  assert.ok(pattern.startsWith('/'), `route pattern must start with '/': ${pattern}`);
  assert.ok(!pattern.includes('?') && !pattern.includes('#'), `route pattern must not contain '?' or '#': ${pattern}`);
  const names = new Set<string>();
  return pattern
    .split('/')
    .slice(1)
    .map((text): Segment => {
      if (!text.startsWith(':')) return { literal: text };
      const name = text.slice(1);
      assert.ok(parameterNamePattern.test(name), `route parameter name must be an identifier: '${text}' in ${pattern}`);
      assert.ok(!names.has(name), `route parameter ':${name}' appears twice in ${pattern}`);
      names.add(name);
      return { parameter: name };
    });
}

// Two patterns with the same shape match the same paths: `/a/:x` and `/a/:y`.
function shapeOf(segments: readonly Segment[]): string {
  return segments.map((segment) => ('literal' in segment ? `L${segment.literal}` : 'P')).join('/');
}

function matchSegments(segments: readonly Segment[], pathSegments: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== pathSegments.length) return undefined;
  const rawParams: Record<string, string> = {};
  for (let index = 0; index < segments.length; index += 1) {
    const segment = segments[index]!;
    const text = pathSegments[index]!;
    if ('literal' in segment) {
      if (segment.literal !== text) return undefined;
    } else {
      // An empty parameter (`/volumes/`) is no parameter at all.
      if (text.length === 0) return undefined;
      rawParams[segment.parameter] = text;
    }
  }
  return rawParams;
}

function mostSpecific<Candidate extends { route: Route<unknown> }>(candidates: readonly Candidate[]): Candidate {
  let best = candidates[0]!;
  for (const candidate of candidates.slice(1)) {
    if (compareSpecificity(candidate.route.segments, best.route.segments) < 0) best = candidate;
  }
  return best;
}

// Negative when `left` is more specific: a literal beats a parameter at the first
// segment where they differ in kind.
function compareSpecificity(left: readonly Segment[], right: readonly Segment[]): number {
  for (let index = 0; index < left.length && index < right.length; index += 1) {
    const leftIsLiteral = 'literal' in left[index]!;
    const rightIsLiteral = 'literal' in right[index]!;
    if (leftIsLiteral !== rightIsLiteral) return leftIsLiteral ? -1 : 1;
  }
  return 0;
}
