// The standard process and Node.js metrics (CPU, memory, event loop lag, GC, handles),
// collected once per process and shown in every instance registry of that process.
//
// Why not `collectDefaultMetrics({register})` once per instance registry: prom-client 15
// starts no interval timers for these (checked: nothing new in
// process.getActiveResourcesInfo(), and a process that only calls it exits at once), but
// every call creates an event-loop-delay sampler (`monitorEventLoopDelay`, sampling every
// 10 ms) and a GC PerformanceObserver that prom-client never releases. Tests and the
// simulator run many instances in one process, so per-instance calls would add one of
// each per instance, forever. These metrics describe the process, not the instance, so
// one collector per process is also the honest count.
//
// Each instance registry gets a read-only mirror of every process metric; the registry
// then adds its own default labels {role, instance} when it renders, exactly as it does
// for its own metrics.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric } from 'prom-client';

let processRegistry: Registry | undefined;

/** The one registry holding this process's default metrics, created on first use. */
export function processMetricsRegistry(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

// The subset of a prom-client metric object that Registry reads when rendering.
interface RenderedMetric {
  name: string;
  help: string;
  type: unknown;
  aggregator: unknown;
  values: MetricSample[];
}
interface MetricSample {
  labels?: Record<string, unknown>;
  sharedLabels?: Record<string, unknown>;
  [field: string]: unknown;
}
interface RenderableMetric {
  name: string;
  help: string;
  type: unknown;
  aggregator: unknown;
  get(): Promise<RenderedMetric>;
  getForPromString?(): Promise<RenderedMetric>;
}

/** Registers in `registry` a mirror of every process metric. */
export function mirrorProcessMetricsInto(registry: Registry): void {
  for (const source of processMetricsRegistry().getMetricsAsArray() as unknown as RenderableMetric[]) {
    const mirror = {
      name: source.name,
      help: source.help,
      type: source.type,
      aggregator: source.aggregator,
      get: async () => copyRendered(await source.get()),
      // Histograms render text from getForPromString (labels and `le` kept apart);
      // Registry calls it when present, so the mirror has it only when the source does.
      ...(source.getForPromString === undefined
        ? {}
        : { getForPromString: async () => copyRendered(await source.getForPromString!()) }),
      // Resetting one instance's metrics must not reset the process-wide ones.
      reset: () => undefined,
    };
    // Registry accepts any object with this shape; prom-client's type names only its classes.
    registry.registerMetric(mirror as unknown as Metric);
  }
}

// prom-client hands out its internal sample objects, and Registry.getMetricsAsJSON
// writes the registry's default labels into them; copying keeps one instance's labels
// from leaking into the next instance's output.
function copyRendered(rendered: RenderedMetric): RenderedMetric {
  return {
    ...rendered,
    values: rendered.values.map((sample) => ({
      ...sample,
      ...(sample.labels === undefined ? {} : { labels: { ...sample.labels } }),
      ...(sample.sharedLabels === undefined ? {} : { sharedLabels: { ...sample.sharedLabels } }),
    })),
  };
}
