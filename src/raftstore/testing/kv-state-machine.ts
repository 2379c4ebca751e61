// A small key-value state machine for tests, the simulator and the real-process test:
// commands are JSON {op: 'put', key, value}; results are the previous value.
import { createHash } from 'node:crypto';
import type { GroupStateMachine } from '../types.js';

export class KeyValueStateMachine implements GroupStateMachine {
  readonly values = new Map<string, string>();
  appliedIndex = 0;
  appliedCount = 0;

  apply(index: number, command: Uint8Array): unknown {
    const { op, key, value } = JSON.parse(Buffer.from(command).toString('utf8')) as { op: string; key: string; value: string };
    if (op !== 'put') throw new Error(`unknown op ${op}`);
    const previous = this.values.get(key) ?? null;
    this.values.set(key, value);
    this.appliedIndex = index;
    this.appliedCount += 1;
    return previous;
  }

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify([...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }

  restore(state: Uint8Array, index: number): void {
    this.values.clear();
    if (state.length > 0) for (const [key, value] of JSON.parse(Buffer.from(state).toString('utf8')) as Array<[string, string]>) this.values.set(key, value);
    this.appliedIndex = index;
  }

  // A digest that is equal on replicas with equal state.
  stateHash(): string {
    return createHash('sha256').update(this.snapshot()).digest('hex');
  }
}

export function putCommand(key: string, value: string): Uint8Array {
  return Buffer.from(JSON.stringify({ op: 'put', key, value }));
}
