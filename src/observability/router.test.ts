import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from './router.js';

function routerOf(...routes: [Parameters<Router<string>['add']>[0], string][]): Router<string> {
  const router = new Router<string>(100);
  for (const [method, pattern] of routes) router.add(method, pattern, `${method} ${pattern}`);
  return router;
}

test('a literal segment beats a parameter whatever the order of registration', () => {
  for (const router of [
    routerOf(['GET', '/volumes/:name'], ['GET', '/volumes/stats']),
    routerOf(['GET', '/volumes/stats'], ['GET', '/volumes/:name']),
  ]) {
    assert.deepEqual(router.match('GET', '/volumes/stats'), { kind: 'found', pattern: '/volumes/stats', value: 'GET /volumes/stats', rawParams: {} });
    assert.deepEqual(router.match('GET', '/volumes/photos'), { kind: 'found', pattern: '/volumes/:name', value: 'GET /volumes/:name', rawParams: { name: 'photos' } });
  }
});

test('the earlier segment decides between two partly literal patterns', () => {
  const router = routerOf(['GET', '/:kind/partitions'], ['GET', '/volumes/:name']);
  const match = router.match('GET', '/volumes/partitions');
  assert.equal(match.kind === 'found' && match.pattern, '/volumes/:name');
});

test('the method is matched first: a parameter route of the method wins over a literal of another', () => {
  const router = routerOf(['GET', '/volumes/stats'], ['DELETE', '/volumes/:name']);
  const match = router.match('DELETE', '/volumes/stats');
  assert.equal(match.kind === 'found' && match.value, 'DELETE /volumes/:name');
});

test('HEAD is answered by the GET route unless a HEAD route exists', () => {
  const router = routerOf(['GET', '/status'], ['GET', '/metrics'], ['HEAD', '/metrics']);
  const status = router.match('HEAD', '/status');
  assert.equal(status.kind === 'found' && status.value, 'GET /status');
  const metrics = router.match('HEAD', '/metrics');
  assert.equal(metrics.kind === 'found' && metrics.value, 'HEAD /metrics');
});

test('a path of other methods only is method-not-allowed, with every allowed method', () => {
  const router = routerOf(['GET', '/volumes/:name'], ['DELETE', '/volumes/:name'], ['PUT', '/volumes/:name']);
  assert.deepEqual(router.match('POST', '/volumes/a'), {
    kind: 'method-not-allowed',
    pattern: '/volumes/:name',
    allowed: ['GET', 'HEAD', 'PUT', 'DELETE'],
  });
});

test('unknown paths, extra segments, trailing slashes and empty parameters are not found', () => {
  const router = routerOf(['GET', '/volumes/:name']);
  for (const path of ['/', '/volume/a', '/volumes/a/b', '/volumes/', '/volumes/a/', '//volumes/a']) {
    assert.deepEqual(router.match('GET', path), { kind: 'not-found' }, path);
  }
});

test('parameters are returned raw, so an encoded slash stays inside one', () => {
  const router = routerOf(['GET', '/volumes/:name/files/:path']);
  const match = router.match('GET', '/volumes/a%20b/files/dir%2Ffile');
  assert.deepEqual(match.kind === 'found' && match.rawParams, { name: 'a%20b', path: 'dir%2Ffile' });
});

test('patterns of the same shape and method clash; other methods may share a shape', () => {
  const router = routerOf(['GET', '/volumes/:name']);
  assert.throws(() => router.add('GET', '/volumes/:id', 'x'), /route GET \/volumes\/:id clashes with GET \/volumes\/:name/);
  router.add('DELETE', '/volumes/:id', 'x');
});

test('malformed patterns are refused', () => {
  const router = new Router<string>(100);
  assert.throws(() => router.add('GET', 'volumes', 'x'), /must start with '\/'/);
  assert.throws(() => router.add('GET', '/volumes/:', 'x'), /parameter name must be an identifier/);
  assert.throws(() => router.add('GET', '/a/:x/b/:x', 'x'), /':x' appears twice/);
  assert.throws(() => router.add('GET', '/a?b=1', 'x'), /must not contain '\?'/);
  assert.throws(() => router.add('TRACE' as 'GET', '/a', 'x'), /route method must be one of/);
});

test('the number of routes is bounded', () => {
  const router = new Router<string>(2);
  router.add('GET', '/a', 'a');
  router.add('GET', '/b', 'b');
  assert.throws(() => router.add('GET', '/c', 'c'), /too many routes: routesMax is 2/);
});
