// Prometheus metrics of one server instance. Each instance has its own Registry, never
// prom-client's global one: tests and the simulator run several instances in one
// process, and each instance's /metrics must show only its own series. The registry
// labels every series with {role, instance}, so metrics code never passes them.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { labelNameProblem, metricNameProblem, type MetricKind } from './metric-names.js';
import { mirrorProcessMetricsInto } from './process-metrics.js';

export interface MetricsOptions {
  readonly role: string;
  readonly instance: string;
}

export interface MetricConfig<LabelName extends string> {
  /** `atoll_<subsystem>_<what>_<unit>`, `_total` last on counters; see README.md. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly LabelName[];
}

export interface GaugeConfig<LabelName extends string> extends MetricConfig<LabelName> {
  /** Called at each scrape to set the gauge from the current state (queue lengths, ...). */
  readonly collect?: (this: Gauge<LabelName>) => void | Promise<void>;
}

export interface HistogramConfig<LabelName extends string> extends MetricConfig<LabelName> {
  /** Upper bounds, strictly increasing; durationSecondsBuckets when absent. */
  readonly buckets?: readonly number[];
}

/** 100 µs to 10 s: local RPCs take about 100 µs here, disk syncs and elections seconds. */
export const durationSecondsBuckets: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** 64 B to 64 MiB by powers of four: small metadata messages up to half an extent. */
export const sizeBytesBuckets: readonly number[] = Object.freeze(
  Array.from({ length: 11 }, (_unused, power) => 64 * 4 ** power),
);

export class Metrics {
  readonly role: string;
  readonly instance: string;
  readonly registry: Registry;

  constructor(options: MetricsOptions) {
    if (options.role.length === 0 || options.instance.length === 0) {
      throw new Error(`cannot create metrics: role and instance must be non-empty: role='${options.role}' instance='${options.instance}'`);
    }
    this.role = options.role;
    this.instance = options.instance;
    this.registry = new Registry();
    this.registry.setDefaultLabels({ role: options.role, instance: options.instance });
    mirrorProcessMetricsInto(this.registry);
  }

  /** The Content-Type of render()'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  counter<LabelName extends string = never>(config: MetricConfig<LabelName>): Counter<LabelName> {
    this.#checkConfig(config, 'counter');
    return new Counter<LabelName>({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames ?? [],
      registers: [this.registry],
    });
  }

  gauge<LabelName extends string = never>(config: GaugeConfig<LabelName>): Gauge<LabelName> {
    this.#checkConfig(config, 'gauge');
    return new Gauge<LabelName>({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames ?? [],
      registers: [this.registry],
      ...(config.collect === undefined ? {} : { collect: config.collect }),
    });
  }

  histogram<LabelName extends string = never>(config: HistogramConfig<LabelName>): Histogram<LabelName> {
    this.#checkConfig(config, 'histogram');
    const buckets = config.buckets ?? durationSecondsBuckets;
    const bucketsProblem = bucketListProblem(buckets);
    if (bucketsProblem !== undefined) {
      throw new Error(`cannot create metric ${config.name}: ${bucketsProblem}: buckets=[${buckets.join(', ')}]`);
    }
    return new Histogram<LabelName>({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames ?? [],
      buckets: [...buckets],
      registers: [this.registry],
    });
  }

  /** All of this instance's metrics in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  #checkConfig(config: MetricConfig<string>, kind: MetricKind): void {
    const nameProblem = metricNameProblem(config.name, kind);
    if (nameProblem !== undefined) throw new Error(`cannot create ${kind} '${config.name}': ${nameProblem}`);
    if (config.help.trim().length === 0) throw new Error(`cannot create ${kind} '${config.name}': help text is empty`);
    const labelNames = config.labelNames ?? [];
    for (const label of labelNames) {
      const labelProblem = labelNameProblem(label);
      if (labelProblem !== undefined) throw new Error(`cannot create ${kind} '${config.name}': label '${label}': ${labelProblem}`);
    }
    if (new Set(labelNames).size !== labelNames.length) {
      throw new Error(`cannot create ${kind} '${config.name}': duplicate label names: [${labelNames.join(', ')}]`);
    }
    // prom-client's own message does not say which instance; two components claiming
    // one name is a bug worth a precise message.
    if (this.registry.getSingleMetric(config.name) !== undefined) {
      throw new Error(`cannot create ${kind} '${config.name}': a metric of that name is already registered for instance '${this.instance}'`);
    }
  }
}

export function createMetrics(options: MetricsOptions): Metrics {
  return new Metrics(options);
}

function bucketListProblem(buckets: readonly number[]): string | undefined {
  if (buckets.length === 0) return 'no buckets';
  for (let index = 0; index < buckets.length; index += 1) {
    const bound = buckets[index] ?? Number.NaN;
    if (!Number.isFinite(bound)) return 'bucket bounds must be finite (+Inf is added by itself)';
    if (index > 0 && bound <= (buckets[index - 1] ?? Number.NaN)) return 'bucket bounds must be strictly increasing';
  }
  return undefined;
}
