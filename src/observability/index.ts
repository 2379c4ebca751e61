// Public face of the observability layer: structured logs, Prometheus metrics and the
// instance HTTP server (/healthz, /readyz, /status, /metrics, role routes).
export {
  childLogger,
  closeLogger,
  createLogger,
  logError,
  logLevels,
  reopenLogFile,
  silentLogger,
  type LogContext,
  type LogDestination,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogStream,
} from './logger.js';
export { serializeError, type SerializedError } from './error-serializer.js';
export {
  createMetrics,
  durationSecondsBuckets,
  Metrics,
  sizeBytesBuckets,
  type GaugeConfig,
  type HistogramConfig,
  type MetricConfig,
  type MetricsOptions,
} from './metrics.js';
export { labelNameProblem, metricNameProblem, type MetricKind } from './metric-names.js';
export {
  InstanceHttpServer,
  type HttpReply,
  type InstanceHttpServerOptions,
  type InstancePorts,
  type JsonReply,
  type Readiness,
  type ReadinessCheck,
  type RouteHandler,
  type RouteOptions,
  type RouteRequest,
  type StatusExtra,
  type TextReply,
} from './http-server.js';
export { HttpError, type ErrorReplyBody, type HttpErrorOptions } from './http-error.js';
export { HttpListenError } from './http-listen-error.js';
export { httpServerLimitsDefault, type HttpServerLimits } from './limits.js';
export type { RouteMethod } from './router.js';
