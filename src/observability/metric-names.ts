// The naming rules for AtollFS metrics, checked when a metric is created so that a bad
// name fails the first test that builds the component instead of reaching a dashboard.
// They follow the Prometheus naming guide: one prefix for the project, base units
// (seconds, bytes) written last, `_total` on counters and nowhere else.

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export const metricNamePrefix = 'atoll_';

/** Base units; when a name has one it is the last word (before `_total` on counters). */
export const metricBaseUnits: readonly string[] = ['seconds', 'bytes', 'ratio'];

// Scaled or non-base units, each with the base unit to use instead.
const nonBaseUnits: ReadonlyMap<string, string> = new Map([
  ['ms', 'seconds'],
  ['millis', 'seconds'],
  ['milliseconds', 'seconds'],
  ['us', 'seconds'],
  ['microseconds', 'seconds'],
  ['ns', 'seconds'],
  ['nanoseconds', 'seconds'],
  ['minutes', 'seconds'],
  ['hours', 'seconds'],
  ['days', 'seconds'],
  ['kb', 'bytes'],
  ['kib', 'bytes'],
  ['kilobytes', 'bytes'],
  ['mb', 'bytes'],
  ['mib', 'bytes'],
  ['megabytes', 'bytes'],
  ['gb', 'bytes'],
  ['gib', 'bytes'],
  ['gigabytes', 'bytes'],
  ['bits', 'bytes'],
  ['percent', 'ratio'],
  ['percentage', 'ratio'],
]);

// Labels every instance registry adds by itself, plus the ones Prometheus reserves for
// histograms and summaries.
export const reservedLabelNames: readonly string[] = ['role', 'instance', 'le', 'quantile'];

const namePattern = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const labelPattern = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** Why `name` breaks the rules for a metric of this kind, or undefined when it is fine. */
export function metricNameProblem(name: string, kind: MetricKind): string | undefined {
  if (!name.startsWith(metricNamePrefix)) return `it must start with '${metricNamePrefix}'`;
  if (!namePattern.test(name)) return 'it must be lower-case words of [a-z0-9] joined by single underscores';
  const words = name.slice(metricNamePrefix.length).split('_');
  const endsInTotal = words[words.length - 1] === 'total';
  if (kind === 'counter' && !endsInTotal) return "a counter's name must end in '_total'";
  if (kind !== 'counter' && endsInTotal) return `only counters end in '_total', not a ${kind}`;
  // The word before `_total` on a counter is where its unit goes.
  const unitPosition = kind === 'counter' ? words.length - 2 : words.length - 1;
  for (let position = 0; position < words.length; position += 1) {
    const word = words[position] ?? '';
    const baseUnit = nonBaseUnits.get(word);
    if (baseUnit !== undefined) return `use the base unit '${baseUnit}' instead of '${word}'`;
    if (metricBaseUnits.includes(word) && position !== unitPosition) {
      return `the unit '${word}' must be the last word${kind === 'counter' ? " before '_total'" : ''}`;
    }
  }
  if (words.length < (kind === 'counter' ? 2 : 1)) return 'it needs a word after the prefix';
  return undefined;
}

/** Why `label` cannot be a label of an AtollFS metric, or undefined when it is fine. */
export function labelNameProblem(label: string): string | undefined {
  if (!labelPattern.test(label)) return 'a label must be lower-case words of [a-z0-9] joined by single underscores';
  if (reservedLabelNames.includes(label)) return `'${label}' is reserved (${reservedLabelNames.join(', ')})`;
  return undefined;
}
