import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { createMetrics, durationSecondsBuckets, sizeBytesBuckets } from './metrics.js';
import { processMetricsRegistry } from './process-metrics.js';
import { findSamples, parseSamples, sampleValue } from './prometheus-samples.test-support.js';

// Each Metrics is given a unique instance name so that tests sharing this process
// cannot see each other's series.
let instanceCounter = 0;
function uniqueInstance(prefix: string): string {
  instanceCounter += 1;
  return `${prefix}-${process.pid}-${instanceCounter}`;
}

test('two instances in one process each expose only their own labels', async () => {
  const metanode = createMetrics({ role: 'metanode', instance: uniqueInstance('mn') });
  const datanode = createMetrics({ role: 'datanode', instance: uniqueInstance('dn') });
  metanode.counter({ name: 'atoll_rpc_requests_total', help: 'RPC requests.', labelNames: ['method'] }).inc({ method: 'Lookup' }, 3);
  datanode.counter({ name: 'atoll_rpc_requests_total', help: 'RPC requests.', labelNames: ['method'] }).inc({ method: 'Append' }, 5);

  const metanodeText = await metanode.render();
  const datanodeText = await datanode.render();
  assert.deepEqual(findSamples(metanodeText, 'atoll_rpc_requests_total'), [
    { name: 'atoll_rpc_requests_total', labels: { method: 'Lookup', role: 'metanode', instance: metanode.instance }, value: 3 },
  ]);
  assert.deepEqual(findSamples(datanodeText, 'atoll_rpc_requests_total'), [
    { name: 'atoll_rpc_requests_total', labels: { method: 'Append', role: 'datanode', instance: datanode.instance }, value: 5 },
  ]);
  for (const [metrics, text] of [[metanode, metanodeText], [datanode, datanodeText]] as const) {
    const samples = parseSamples(text);
    assert.ok(samples.length > 10, 'process metrics are there too');
    for (const sample of samples) {
      assert.deepEqual([sample.labels.role, sample.labels.instance], [metrics.role, metrics.instance], `${sample.name} of ${metrics.instance}`);
    }
  }
});

test('the global default registry is left alone', async () => {
  const before = await globalRegistry.metrics();
  createMetrics({ role: 'master', instance: uniqueInstance('m') }).gauge({ name: 'atoll_volumes', help: 'Volumes.' }).set(4);
  assert.equal(await globalRegistry.metrics(), before);
});

test('process metrics appear in every instance with that instance labels', async () => {
  const first = createMetrics({ role: 'metanode', instance: uniqueInstance('mn') });
  const second = createMetrics({ role: 'metanode', instance: uniqueInstance('mn') });
  for (const metrics of [first, second]) {
    const text = await metrics.render();
    const labels = { role: 'metanode', instance: metrics.instance };
    assert.ok(sampleValue(text, 'process_cpu_user_seconds_total', labels) > 0);
    assert.ok(sampleValue(text, 'process_resident_memory_bytes', labels) > 0);
    assert.ok(sampleValue(text, 'nodejs_eventloop_lag_seconds', labels) >= 0);
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
  }
});

test('the JSON view of one instance does not leak its labels into another', async () => {
  const first = createMetrics({ role: 'metanode', instance: uniqueInstance('mn') });
  const second = createMetrics({ role: 'datanode', instance: uniqueInstance('dn') });
  await first.registry.getMetricsAsJSON();
  const secondJson = await second.registry.getMetricsAsJSON();
  const heap = secondJson.find((metric) => metric.name === 'nodejs_heap_size_used_bytes');
  assert.deepEqual(heap?.values[0]?.labels, { role: 'datanode', instance: second.instance });
});

test('many instances share one process collector and start nothing that keeps the process alive', () => {
  const collector = processMetricsRegistry();
  const resourcesBefore = process.getActiveResourcesInfo().filter((resource) => resource !== 'TTYWrap').sort();
  for (let index = 0; index < 50; index += 1) createMetrics({ role: 'datanode', instance: uniqueInstance('dn') });
  assert.equal(processMetricsRegistry(), collector);
  const resourcesAfter = process.getActiveResourcesInfo().filter((resource) => resource !== 'TTYWrap').sort();
  assert.deepEqual(resourcesAfter, resourcesBefore);
});

test('histograms use the duration buckets unless given others', async () => {
  const metrics = createMetrics({ role: 'metanode', instance: uniqueInstance('mn') });
  metrics.histogram({ name: 'atoll_rpc_request_duration_seconds', help: 'RPC latency.', labelNames: ['method'] }).observe({ method: 'Lookup' }, 0.0003);
  metrics.histogram({ name: 'atoll_rpc_request_body_bytes', help: 'RPC body sizes.', buckets: sizeBytesBuckets }).observe(100);
  const text = await metrics.render();
  const durationBounds = findSamples(text, 'atoll_rpc_request_duration_seconds_bucket', { method: 'Lookup' }).map((sample) => sample.labels.le);
  assert.deepEqual(durationBounds, [...durationSecondsBuckets.map(String), '+Inf']);
  assert.equal(sampleValue(text, 'atoll_rpc_request_duration_seconds_bucket', { method: 'Lookup', le: '0.00025' }), 0);
  assert.equal(sampleValue(text, 'atoll_rpc_request_duration_seconds_bucket', { method: 'Lookup', le: '0.0005', role: 'metanode' }), 1);
  assert.equal(sampleValue(text, 'atoll_rpc_request_body_bytes_bucket', { le: '64' }), 0);
  assert.equal(sampleValue(text, 'atoll_rpc_request_body_bytes_bucket', { le: '256' }), 1);
  assert.equal(sampleValue(text, 'atoll_rpc_request_body_bytes_bucket', { le: '67108864' }), 1);
});

test('gauges may be set at scrape time by a collect callback', async () => {
  const metrics = createMetrics({ role: 'datanode', instance: uniqueInstance('dn') });
  let queued = 7;
  metrics.gauge({ name: 'atoll_repair_queue_extents', help: 'Extents waiting for repair.', collect() { this.set(queued); } });
  assert.equal(sampleValue(await metrics.render(), 'atoll_repair_queue_extents'), 7);
  queued = 2;
  assert.equal(sampleValue(await metrics.render(), 'atoll_repair_queue_extents'), 2);
});

test('bad names, labels, duplicates and buckets are refused with the reason', () => {
  const metrics = createMetrics({ role: 'master', instance: uniqueInstance('m') });
  assert.throws(() => metrics.counter({ name: 'atoll_elections', help: 'x' }), /cannot create counter 'atoll_elections': a counter's name must end in '_total'/);
  assert.throws(() => metrics.histogram({ name: 'atoll_rpc_latency_ms', help: 'x' }), /base unit 'seconds'/);
  assert.throws(() => metrics.gauge({ name: 'atoll_nodes', help: 'x', labelNames: ['instance'] }), /label 'instance': 'instance' is reserved/);
  assert.throws(() => metrics.gauge({ name: 'atoll_nodes', help: 'x', labelNames: ['zone', 'zone'] }), /duplicate label names/);
  assert.throws(() => metrics.gauge({ name: 'atoll_nodes', help: '  ' }), /help text is empty/);
  assert.throws(() => metrics.histogram({ name: 'atoll_sync_seconds', help: 'x', buckets: [0.1, 0.1] }), /strictly increasing/);
  assert.throws(() => metrics.histogram({ name: 'atoll_sync_seconds', help: 'x', buckets: [] }), /no buckets/);
  metrics.gauge({ name: 'atoll_nodes', help: 'Nodes.' });
  assert.throws(() => metrics.gauge({ name: 'atoll_nodes', help: 'Nodes.' }), /already registered for instance 'm-/);
});

test('the content type is the Prometheus text format', () => {
  assert.equal(createMetrics({ role: 'master', instance: uniqueInstance('m') }).contentType, 'text/plain; version=0.0.4; charset=utf-8');
});
