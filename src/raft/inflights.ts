import { assert } from './assert.js';
import type { LogIndex } from './types.js';

/**
 * The Append messages sent to one follower and not acknowledged yet, as a ring buffer
 * of (last index, bytes). The window is full when it holds messagesMax messages or
 * bytesMax bytes; the leader then stops sending to that follower until acks free room.
 */
export class Inflights {
  private readonly lastIndexes: number[];
  private readonly messageBytes: number[];
  private start = 0;
  private messageCount = 0;
  private bytesTotal = 0;

  constructor(
    readonly messagesMax: number,
    readonly bytesMax: number,
  ) {
    assert(Number.isSafeInteger(messagesMax) && messagesMax >= 1, () => `inflights: messagesMax must be >= 1: ${messagesMax}`);
    this.lastIndexes = new Array<number>(messagesMax).fill(0);
    this.messageBytes = new Array<number>(messagesMax).fill(0);
  }

  get count(): number {
    return this.messageCount;
  }

  get bytes(): number {
    return this.bytesTotal;
  }

  full(): boolean {
    return this.messageCount === this.messagesMax || this.bytesTotal >= this.bytesMax;
  }

  add(lastIndex: LogIndex, bytes: number): void {
    assert(this.messageCount < this.messagesMax, () => `inflights: add to a window holding ${this.messageCount} of ${this.messagesMax} messages`);
    if (this.messageCount > 0) {
      const newest = this.lastIndexes[(this.start + this.messageCount - 1) % this.messagesMax];
      assert(lastIndex > newest, () => `inflights: index ${lastIndex} is not above the newest ${newest}`);
    }
    const slot = (this.start + this.messageCount) % this.messagesMax;
    this.lastIndexes[slot] = lastIndex;
    this.messageBytes[slot] = bytes;
    this.messageCount++;
    this.bytesTotal += bytes;
  }

  /** The follower acknowledged everything up to index: forget those messages. */
  freeLessOrEqual(index: LogIndex): void {
    while (this.messageCount > 0 && this.lastIndexes[this.start] <= index) {
      this.bytesTotal -= this.messageBytes[this.start];
      this.start = (this.start + 1) % this.messagesMax;
      this.messageCount--;
    }
    if (this.messageCount === 0) this.start = 0;
  }

  reset(): void {
    this.start = 0;
    this.messageCount = 0;
    this.bytesTotal = 0;
  }
}
