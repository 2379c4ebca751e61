// Mutations whose outcome a failure leaves unknown: the call was sent, then its connection
// went (a partition leader killed, a restart) or its deadline passed, so it may have been
// carried out. The router does not repeat those (a repeated create would answer EEXIST for
// its own success). The SDK repeats them itself, for a bounded time, and asks the
// operation whether a refusal of the repeat is what its own earlier success would cause
// (EEXIST after a create: is the entry the one this client made?, ENOENT after an unlink:
// the name is gone). Pure apart from the injected sleep.
import { AtollError, StatusCode, isAtollError } from '../errors/index.js';

/** The mutation may or may not have taken effect. */
export function outcomeUnknown(error: unknown): boolean {
  if (isAtollError(error, StatusCode.TIMEOUT)) return true;
  return isAtollError(error) && error.outcomeUnknown;
}

export interface SettleOptions {
  /** How long the mutation is repeated after an unknown outcome. */
  readonly retryMs: number;
  readonly nowMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const pauseFirstMs = 50;
const pauseMaxMs = 1_000;

/**
 * Runs `attempt`. After an unknown outcome it runs it again (pauses doubling from 50 ms to
 * 1 s) until it answers or `retryMs` passed; a refusal of a repeat goes to `settle`, which
 * returns the result when the refusal shows the mutation took effect, or undefined (the
 * refusal stands). Without an unknown outcome nothing is repeated.
 */
export async function mutateSettling<T>(attempt: () => Promise<T>, settle: (refusal: AtollError) => Promise<T | undefined>, options: SettleOptions): Promise<T> {
  const now = options.nowMs ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  try {
    return await attempt();
  } catch (error) {
    if (!outcomeUnknown(error)) throw error;
    let last: unknown = error;
    const deadline = now() + options.retryMs;
    for (let pauseMs = pauseFirstMs; now() < deadline; pauseMs = Math.min(pauseMaxMs, pauseMs * 2)) {
      await sleep(pauseMs);
      try {
        return await attempt();
      } catch (repeatError) {
        if (outcomeUnknown(repeatError) || (repeatError instanceof AtollError && repeatError.retryable)) {
          last = repeatError;
          continue;
        }
        if (!(repeatError instanceof AtollError)) throw repeatError;
        // A settle that cannot tell (its own lookup failed) leaves the refusal standing.
        const settled = await settle(repeatError).catch(() => undefined);
        if (settled !== undefined) return settled;
        throw repeatError;
      }
    }
    throw last;
  }
}
