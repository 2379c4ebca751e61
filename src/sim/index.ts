// Public face of the simulator's building blocks. None of them knows about Raft: the
// cluster runner composes them with the real Raft core, host and log.
export { Scheduler } from './scheduler.js';
export type { EventId, EventNotice, RunResult, RunStop, SchedulerOptions, StopCondition } from './scheduler.js';
export { SimulatedClock } from './simulated-clock.js';
export type { SimulatedClockOptions } from './simulated-clock.js';
export { RandomStreams, deriveSeed } from './random-streams.js';
export { checkFaultProfile, faultProfileCalm, randomFaultProfile } from './fault-profile.js';
export type { FaultProfile } from './fault-profile.js';
export { SimulatedNetwork } from './network.js';
export type { DropReason, MessageHandler, NetworkCounters, NetworkEvent, SimulatedNetworkOptions } from './network.js';
export { HistoryRecorder } from './history.js';
export type { HistoryOperation, HistoryRecorderOptions, OperationResponse } from './history.js';
export { checkLinearizability, inconsistent } from './linearizability.js';
export type { Inconsistent, LinearizabilityOptions, LinearizabilityResult, Model, PartitionVerdict, Verdict, Violation } from './linearizability.js';
export { checkKeyValueHistory, keyValueModel } from './key-value-model.js';
export type { KeyValueInput, KeyValueOperation, KeyValueOutput, KeyValueState } from './key-value-model.js';
export { Trace, formatTrace } from './trace.js';
export type { FormatTraceOptions, TraceDetail, TraceEntry, TraceEvent } from './trace.js';
export { simulatorLimitsDefault } from './limits.js';
export type { SimulatorLimits } from './limits.js';
