// The client's sessions: one per meta partition that holds an inode this client has
// open, renewed at a third of its lease. Opens and closes are recorded there so that an
// unlinked file stays readable until its last close, here or at any other client; when
// this client dies, the lease runs out and the metanode releases what it held.
//
// Records are ordered per inode (a close never overtakes its open). By default the SDK
// sends each open record before the open returns; with `openRecordDeferMs` (the FUSE
// mount's choice) an open record waits a moment and a quick close cancels it, leaving a
// window of that length in which another client's unlink could free a file just opened
// here (src/client/README.md).
import { AtollError, StatusCode, isAtollError } from '../errors/index.js';
import type { MetaClient } from '../metaclient/index.js';
import { MetaNode, OpenFileRequest, OpenSessionRequest, SessionRequest } from '../proto/generated/metanode.js';

const mutation = { mutation: true };
const read = { mutation: false };

interface PartitionSession {
  id: Promise<number>;
  /** Opens this client recorded in the partition, per inode. */
  readonly opens: Map<number, number>;
}

export class SessionKeeper {
  readonly #sessions = new Map<number, PartitionSession>();
  readonly #chains = new Map<number, Promise<unknown>>();
  /** Opens not sent yet (deferred), per inode. */
  readonly #pending = new Map<number, number>();
  #pendingTimer: NodeJS.Timeout | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(
    private readonly meta: MetaClient,
    private readonly leaseSec: number,
    private readonly clientInfo: string,
    /** How long an open record may wait (0: sent at once). */
    private readonly deferMs = 0,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.renewAll(), (this.leaseSec * 1000) / 3);
    this.#timer.unref();
  }

  /**
   * Records an open of `ino` (kept in order with the inode's other records). With a
   * deferral, the record waits up to `deferMs`: a close within that time cancels both
   * (a file created, written and closed at once costs no records), and anything this
   * client does that could drop a link sends the waiting records first (flushPending).
   */
  recordOpen(ino: number): Promise<void> {
    if (this.deferMs > 0) {
      this.#pending.set(ino, (this.#pending.get(ino) ?? 0) + 1);
      this.#pendingTimer ??= setTimeout(() => {
        this.#pendingTimer = null;
        void this.flushPending().catch(() => undefined);
      }, this.deferMs);
      return Promise.resolve();
    }
    return this.#sendOpen(ino);
  }

  /** Sends the open records still waiting, and waits for them. */
  async flushPending(): Promise<void> {
    if (this.#pendingTimer !== null) clearTimeout(this.#pendingTimer);
    this.#pendingTimer = null;
    const pending = [...this.#pending];
    this.#pending.clear();
    await Promise.all(pending.flatMap(([ino, count]) => Array.from({ length: count }, () => this.#sendOpen(ino))));
  }

  #sendOpen(ino: number): Promise<void> {
    return this.#chain(ino, async () => {
      const partitionId = (await this.meta.partitionOf(ino)).partitionId;
      const session = this.#session(partitionId);
      // Retried even when its outcome is unknown (a leader died with it in flight): an open
      // counted twice only keeps an unlinked file until the session ends, where an open
      // not counted could let the file go while it is open.
      await this.#withSession(partitionId, session, (sessionId) => this.meta.call(MetaNode.recordOpen, OpenFileRequest.create({ partitionId, sessionId, ino }), { mutation: true, idempotent: true }));
      session.opens.set(ino, (session.opens.get(ino) ?? 0) + 1);
    });
  }

  recordClose(ino: number): Promise<void> {
    const waiting = this.#pending.get(ino) ?? 0;
    if (waiting > 0) {
      // Its open was never sent: neither is needed.
      if (waiting === 1) this.#pending.delete(ino);
      else this.#pending.set(ino, waiting - 1);
      return Promise.resolve();
    }
    return this.#chain(ino, async () => {
      const partitionId = (await this.meta.partitionOf(ino)).partitionId;
      const session = this.#sessions.get(partitionId);
      const opens = session?.opens.get(ino) ?? 0;
      if (session === undefined || opens === 0) return;
      if (opens === 1) session.opens.delete(ino);
      else session.opens.set(ino, opens - 1);
      try {
        await this.#withSession(partitionId, session, (sessionId) => this.meta.call(MetaNode.recordClose, OpenFileRequest.create({ partitionId, sessionId, ino }), mutation));
      } catch (error) {
        // A released session holds nothing any more: the close already happened.
        if (isAtollError(error, StatusCode.NOT_FOUND)) return;
        // Outcome unknown (the leader died with the call in flight): not sent again, as a
        // second close would take another open's count. The file's bytes are published
        // already; an open record that stayed goes with the session (closed with the
        // volume, or expired with its lease), so the close does not fail for it.
        if (isAtollError(error, StatusCode.UNAVAILABLE) || isAtollError(error, StatusCode.TIMEOUT)) return;
        throw error;
      }
    });
  }

  /** Renews every session; one that expired is opened again and its opens recorded again. */
  async renewAll(): Promise<void> {
    if (this.#closed) return;
    await Promise.all(
      [...this.#sessions].map(async ([partitionId, session]) => {
        try {
          const sessionId = await session.id;
          await this.meta.call(MetaNode.renewSession, SessionRequest.create({ partitionId, sessionId, leaseSec: this.leaseSec }), mutation);
        } catch (error) {
          if (isAtollError(error, StatusCode.NOT_FOUND)) await this.#reopen(partitionId, session).catch(() => undefined);
          // Other failures (a leader change, an unreachable partition): the next round tries again.
        }
      }),
    );
  }

  /** Closes every session (the metanodes release the opens they hold). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#pendingTimer !== null) clearTimeout(this.#pendingTimer);
    this.#pending.clear();
    await Promise.allSettled([...this.#chains.values()]);
    await Promise.allSettled(
      [...this.#sessions].map(async ([partitionId, session]) => {
        const sessionId = await session.id;
        await this.meta.call(MetaNode.closeSession, SessionRequest.create({ partitionId, sessionId }), mutation);
      }),
    );
    this.#sessions.clear();
  }

  /** Session ids per partition (for tests and status). */
  async sessionIds(): Promise<Map<number, number>> {
    const ids = new Map<number, number>();
    for (const [partitionId, session] of this.#sessions) ids.set(partitionId, await session.id.catch(() => 0));
    return ids;
  }

  #session(partitionId: number): PartitionSession {
    if (this.#closed) throw new AtollError(StatusCode.CANCELLED, 'the volume is closed');
    let session = this.#sessions.get(partitionId);
    if (session === undefined) {
      session = { id: this.#open(partitionId), opens: new Map() };
      this.#sessions.set(partitionId, session);
      // A failed open is forgotten so that the next use tries again.
      const created = session;
      created.id.catch(() => {
        if (this.#sessions.get(partitionId) === created) this.#sessions.delete(partitionId);
      });
    }
    return session;
  }

  async #open(partitionId: number): Promise<number> {
    const answer = await this.meta.call(MetaNode.openSession, OpenSessionRequest.create({ partitionId, leaseSec: this.leaseSec, clientInfo: this.clientInfo }), mutation);
    return answer.sessionId;
  }

  /** Runs `call` with the session's id; a session found released is opened again once. */
  async #withSession<T>(partitionId: number, session: PartitionSession, call: (sessionId: number) => Promise<T>): Promise<T> {
    try {
      return await call(await session.id);
    } catch (error) {
      if (!isAtollError(error, StatusCode.NOT_FOUND) || !(await this.#sessionGone(partitionId, session))) throw error;
      await this.#reopen(partitionId, session);
      return call(await session.id);
    }
  }

  async #sessionGone(partitionId: number, session: PartitionSession): Promise<boolean> {
    const sessionId = await session.id;
    try {
      await this.meta.call(MetaNode.renewSession, SessionRequest.create({ partitionId, sessionId, leaseSec: this.leaseSec }), read);
      return false;
    } catch (error) {
      return isAtollError(error, StatusCode.NOT_FOUND);
    }
  }

  async #reopen(partitionId: number, session: PartitionSession): Promise<void> {
    session.id = this.#open(partitionId);
    const sessionId = await session.id;
    for (const [ino, count] of session.opens) {
      for (let index = 0; index < count; index++) {
        await this.meta.call(MetaNode.recordOpen, OpenFileRequest.create({ partitionId, sessionId, ino }), mutation).catch(() => undefined);
      }
    }
  }

  #chain(ino: number, step: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(ino) ?? Promise.resolve();
    const next = previous.then(step, step);
    this.#chains.set(ino, next);
    void next.finally(() => {
      if (this.#chains.get(ino) === next) this.#chains.delete(ino);
    }).catch(() => undefined);
    return next;
  }
}
