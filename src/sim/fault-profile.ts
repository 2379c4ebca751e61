// How hostile the simulated network is. A plain object, so the runner can draw one per
// seed (`randomFaultProfile`), print it with the seed, and switch to a calm one when it
// wants to check that the cluster recovers.
import { assert } from '../errors/assert.js';
import type { Random } from '../random/index.js';

export interface FaultProfile {
  /** Every message takes a whole number of ms in [delayMinMs, delayMaxMs]; a spread reorders. */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Chance that a message is lost. */
  readonly lossProbability: number;
  /** Chance that a delivered message arrives a second time (after its own random delay). */
  readonly duplicationProbability: number;
  /** Chance that a message is held back by an extra [1, reorderDelayMaxMs] ms, so later ones overtake it. */
  readonly reorderProbability: number;
  readonly reorderDelayMaxMs: number;
}

/** A network that delays a little and never loses, duplicates or holds back. */
export const faultProfileCalm: FaultProfile = Object.freeze({
  delayMinMs: 1,
  delayMaxMs: 5,
  lossProbability: 0,
  duplicationProbability: 0,
  reorderProbability: 0,
  reorderDelayMaxMs: 0,
});

function isProbability(value: number): boolean {
  return Number.isFinite(value) && value >= 0 && value <= 1;
}

/** Throws naming the first bad field. */
export function checkFaultProfile(profile: FaultProfile): FaultProfile {
  const name = 'fault profile';
  assert(Number.isSafeInteger(profile.delayMinMs) && profile.delayMinMs >= 0, () => `${name}: delayMinMs must be a safe integer >= 0: ${profile.delayMinMs}`);
  assert(Number.isSafeInteger(profile.delayMaxMs) && profile.delayMaxMs >= profile.delayMinMs, () => `${name}: delayMaxMs must be a safe integer >= delayMinMs: ${profile.delayMaxMs} < ${profile.delayMinMs}`);
  assert(isProbability(profile.lossProbability), () => `${name}: lossProbability must be in [0, 1]: ${profile.lossProbability}`);
  // A certain duplicate would duplicate its duplicate forever.
  assert(Number.isFinite(profile.duplicationProbability) && profile.duplicationProbability >= 0 && profile.duplicationProbability < 1, () => `${name}: duplicationProbability must be in [0, 1): ${profile.duplicationProbability}`);
  assert(isProbability(profile.reorderProbability), () => `${name}: reorderProbability must be in [0, 1]: ${profile.reorderProbability}`);
  assert(Number.isSafeInteger(profile.reorderDelayMaxMs) && profile.reorderDelayMaxMs >= 0, () => `${name}: reorderDelayMaxMs must be a safe integer >= 0: ${profile.reorderDelayMaxMs}`);
  assert(profile.reorderProbability === 0 || profile.reorderDelayMaxMs >= 1, () => `${name}: reorderDelayMaxMs must be >= 1 when reorderProbability > 0`);
  return profile;
}

/**
 * A profile drawn from `random`: from a clean LAN to a lossy, jittery WAN, so that a
 * batch of seeds covers both the common case and the nasty one.
 */
export function randomFaultProfile(random: Random): FaultProfile {
  const hostile = random.nextInt(4) === 0;
  const delayMinMs = random.nextInt(3);
  const delayMaxMs = delayMinMs + 1 + random.nextInt(hostile ? 100 : 10);
  return checkFaultProfile({
    delayMinMs,
    delayMaxMs,
    lossProbability: hostile ? 0.05 + 0.25 * random.nextFloat() : 0.02 * random.nextFloat(),
    duplicationProbability: (hostile ? 0.1 : 0.02) * random.nextFloat(),
    reorderProbability: (hostile ? 0.2 : 0.05) * random.nextFloat(),
    reorderDelayMaxMs: 1 + random.nextInt(hostile ? 500 : 50),
  });
}
