// The sequential specification of a key-value store, for the linearizability checker:
// get, put, compare-and-set and append on string values. Keys are independent, so the
// checker partitions a history by key and the model's state is one key's value.
import { assert } from '../errors/assert.js';
import type { HistoryOperation, OperationResponse } from './history.js';
import { checkLinearizability, inconsistent } from './linearizability.js';
import type { Inconsistent, LinearizabilityOptions, LinearizabilityResult, Model } from './linearizability.js';

export type KeyValueInput =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  /** Sets `value` if the current value is `expected` (undefined: the key is absent). */
  | { readonly kind: 'cas'; readonly key: string; readonly expected: string | undefined; readonly value: string }
  /** Appends to the current value (an absent key counts as ""). */
  | { readonly kind: 'append'; readonly key: string; readonly suffix: string };

/** get: the value read (undefined: absent); cas: whether it swapped; put and append: undefined. */
export type KeyValueOutput = string | boolean | undefined;

export type KeyValueOperation = HistoryOperation<KeyValueInput, KeyValueOutput>;

/** One key's value; undefined while the key is absent. */
export type KeyValueState = string | undefined;

function quote(value: string | undefined): string {
  return value === undefined ? 'absent' : JSON.stringify(value);
}

export const keyValueModel: Model<KeyValueState, KeyValueInput, KeyValueOutput> = Object.freeze({
  initialState: (): KeyValueState => undefined,

  step(state: KeyValueState, input: KeyValueInput, response: OperationResponse<KeyValueOutput> | undefined): KeyValueState | Inconsistent {
    switch (input.kind) {
      case 'get':
        return response === undefined || response.output === state ? state : inconsistent;
      case 'put':
        return input.value;
      case 'append':
        return (state ?? '') + input.suffix;
      case 'cas': {
        // Atomic: where it takes effect, it swaps exactly when the value matches.
        const swapped = state === input.expected;
        if (response !== undefined && response.output !== swapped) return inconsistent;
        return swapped ? input.value : state;
      }
    }
  },

  // A leading marker keeps the absent state apart from every string.
  stateKey: (state: KeyValueState): string => (state === undefined ? '-' : `=${state}`),

  partitionKey: (input: KeyValueInput): string => input.key,

  isReadOnly: (input: KeyValueInput): boolean => input.kind === 'get',

  formatOperation(input: KeyValueInput, response: OperationResponse<KeyValueOutput> | undefined): string {
    const key = JSON.stringify(input.key);
    let call: string;
    switch (input.kind) {
      case 'get':
        call = `get(${key})`;
        break;
      case 'put':
        call = `put(${key}, ${quote(input.value)})`;
        break;
      case 'cas':
        call = `cas(${key}, ${quote(input.expected)}, ${quote(input.value)})`;
        break;
      case 'append':
        call = `append(${key}, ${quote(input.suffix)})`;
        break;
    }
    if (response === undefined) return `${call} -> no response`;
    if (input.kind === 'get') return `${call} -> ${quote(response.output as string | undefined)}`;
    if (input.kind === 'cas') return `${call} -> ${String(response.output)}`;
    return `${call} -> ok`;
  },

  formatState: quote,
});

/** Refuses outputs of the wrong type for their operation, naming the operation. */
function checkOutputs(history: readonly KeyValueOperation[]): void {
  for (const operation of history) {
    if (operation.response === undefined) continue;
    const output = operation.response.output;
    const kind = operation.input.kind;
    const fits = kind === 'get' ? output === undefined || typeof output === 'string' : kind === 'cas' ? typeof output === 'boolean' : output === undefined;
    assert(fits, () => `check key-value history: operation ${operation.id} (${kind}) has an output of the wrong type: ${String(output)}`);
  }
}

/** Checks a key-value history, key by key. */
export function checkKeyValueHistory(
  history: readonly KeyValueOperation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult<KeyValueInput, KeyValueOutput> {
  checkOutputs(history);
  return checkLinearizability(keyValueModel, history, options);
}
