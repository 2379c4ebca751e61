// Public face of the time seam: the interfaces protocol code takes, and the real adapter.
export type { Clock, TimerHandle, Timers } from './clock.js';
export { SystemTimers, systemClock, type SystemTimersOptions } from './system-clock.js';
