// File times at the FUSE boundary: the kernel counts nanoseconds (64-bit), the file
// systems keep milliseconds (a double: exact to the millisecond, not to the nanosecond
// since 1970) or seconds and nanoseconds (AtollFS's inodes). The conversions, once.

/** Milliseconds (a fraction carries the sub-millisecond part) to nanoseconds; whole milliseconds exactly. */
export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000));
}

/** Nanoseconds to milliseconds; whole milliseconds exactly. */
export function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

/** Seconds and nanoseconds to nanoseconds. */
export function timeSpecToNs(spec: { readonly sec: number; readonly nsec: number }): bigint {
  return BigInt(spec.sec) * 1_000_000_000n + BigInt(spec.nsec);
}

/** Nanoseconds to [seconds, nanoseconds]; before 1970 is taken as 1970. */
export function nsToTimeSpec(ns: bigint): readonly [number, number] {
  const nonNegative = ns < 0n ? 0n : ns;
  return [Number(nonNegative / 1_000_000_000n), Number(nonNegative % 1_000_000_000n)];
}
