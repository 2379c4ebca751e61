import assert from 'node:assert/strict';
import { StatusCode } from '../../errors/index.js';
import { apply, at, createFile, engineTest, failsWith, makeRoot, now } from './engines.test.js';
import { freeableInodes, freeInodes } from './freeing.js';
import { buildNamespaceLimits } from './limits.js';
import { getInode, unlink } from './namespace.js';
import {
  closeSession, expireSessions, getSession, isInodeOpen, listSessions, openInodesOf, openSession, recordClose, recordOpen, renewSession,
  sessionsHolding,
} from './sessions.js';

const client = { leaseSec: 30, clientInfo: 'host-a pid 42 /mnt/atoll' };

engineTest('sessions get increasing ids, carry their lease and client, and are listed in id order', (engine) => {
  const first = apply(engine, openSession(engine, { ...client, ...now }));
  const second = apply(engine, openSession(engine, { ...client, leaseSec: 60, clientInfo: 'host-b', ...at(5) }));
  assert.deepEqual([first.sessionId, second.sessionId], [1, 2]);
  assert.equal(first.expiresSec, now.nowSec + 30);
  assert.deepEqual(getSession(engine, 2), second);
  assert.equal(getSession(engine, 2).clientInfo, 'host-b');
  const renewed = apply(engine, renewSession(engine, { sessionId: 1, ...at(20) }));
  assert.equal(renewed.expiresSec, now.nowSec + 50);
  assert.deepEqual([renewed.openedSec, renewed.renewedSec], [now.nowSec, now.nowSec + 20]);
  assert.deepEqual(listSessions(engine, { limit: 10 }).sessions.map((session) => session.sessionId), [1, 2]);
  assert.deepEqual(listSessions(engine, { limit: 1 }), { sessions: [getSession(engine, 1)], more: true });
  assert.deepEqual(listSessions(engine, { afterSessionId: 1, limit: 1 }).sessions.map((session) => session.sessionId), [2]);
  assert.throws(() => renewSession(engine, { sessionId: 9, ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => openSession(engine, { ...client, leaseSec: 0, ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
  assert.throws(() => openSession(engine, { ...client, leaseSec: 24 * 3600 + 1, ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
  assert.throws(() => openSession(engine, { leaseSec: 30, clientInfo: 'x'.repeat(1025), ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
});

engineTest('unlink of an open file keeps it until the last close, then it can be freed', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  const { sessionId } = apply(engine, openSession(engine, { ...client, ...now }));
  assert.deepEqual(apply(engine, recordOpen(engine, { sessionId, ino: file })), { opens: 1 });
  assert.deepEqual(apply(engine, recordOpen(engine, { sessionId, ino: file })), { opens: 2 });
  apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(1) }));
  assert.equal(getInode(engine, file).nlink, 0, 'the unlinked file is still readable');
  assert.ok(isInodeOpen(engine, file));
  assert.deepEqual(freeableInodes(engine, { limit: 10 }), { inos: [] });
  assert.deepEqual(apply(engine, freeInodes(engine, { inos: [file] })).skipped, [file], 'an open inode is not freed');
  assert.deepEqual(apply(engine, recordClose(engine, { sessionId, ino: file })), { opens: 1, freeable: false });
  assert.deepEqual(apply(engine, recordClose(engine, { sessionId, ino: file })), { opens: 0, freeable: true });
  assert.equal(isInodeOpen(engine, file), false);
  assert.equal(getSession(engine, sessionId).openInodes, 0);
  assert.deepEqual(freeableInodes(engine, { limit: 10 }), { inos: [file] });
  assert.deepEqual(apply(engine, freeInodes(engine, { inos: [file] })).freed, [file]);
  assert.throws(() => getInode(engine, file), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => recordOpen(engine, { sessionId, ino: file }), failsWith(StatusCode.STALE_HANDLE, 'ESTALE'));
  assert.throws(() => recordClose(engine, { sessionId, ino: file }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('an expired session releases what it held: the unlinked file becomes freeable', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  const kept = createFile(engine, root, 'g');
  const lapsing = apply(engine, openSession(engine, { ...client, ...now })).sessionId;
  const renewed = apply(engine, openSession(engine, { ...client, ...now })).sessionId;
  apply(engine, recordOpen(engine, { sessionId: lapsing, ino: file }));
  apply(engine, recordOpen(engine, { sessionId: lapsing, ino: kept }));
  apply(engine, recordOpen(engine, { sessionId: renewed, ino: kept }));
  apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(1) }));
  apply(engine, unlink(engine, { parentIno: root, name: 'g', ...at(1) }));
  apply(engine, renewSession(engine, { sessionId: renewed, ...at(25) }));
  const early = apply(engine, expireSessions(engine, { sessionsPerBatch: 10, ...at(29) }));
  assert.deepEqual(early, { released: [], freeable: [], more: false });
  const expired = apply(engine, expireSessions(engine, { sessionsPerBatch: 10, ...at(30) }));
  assert.deepEqual(expired.released, [{ sessionId: lapsing, inos: [file, kept] }]);
  assert.deepEqual(expired.freeable, [file], 'the other session still holds g');
  assert.throws(() => getSession(engine, lapsing), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.deepEqual(sessionsHolding(engine, kept, 10), [renewed]);
  assert.deepEqual(freeableInodes(engine, { limit: 10 }).inos, [file]);
  const late = apply(engine, expireSessions(engine, { sessionsPerBatch: 10, ...at(55) }));
  assert.deepEqual(late.freeable, [kept]);
  assert.deepEqual(freeableInodes(engine, { limit: 10 }).inos, [file, kept]);
});

engineTest('closing a session releases its opens; expiry works in bounded batches', (engine) => {
  const root = makeRoot(engine);
  const files = ['a', 'b', 'c'].map((name) => createFile(engine, root, name));
  const sessions = [0, 1, 2].map(() => apply(engine, openSession(engine, { ...client, ...now })).sessionId);
  for (const sessionId of sessions) for (const ino of files) apply(engine, recordOpen(engine, { sessionId, ino }));
  assert.deepEqual(openInodesOf(engine, { sessionId: sessions[0], limit: 2 }), { opens: [{ ino: files[0], opens: 1 }, { ino: files[1], opens: 1 }], more: true });
  assert.deepEqual(openInodesOf(engine, { sessionId: sessions[0], afterIno: files[1], limit: 2 }), { opens: [{ ino: files[2], opens: 1 }], more: false });
  const closed = apply(engine, closeSession(engine, { sessionId: sessions[0] }));
  assert.deepEqual(closed, { released: [{ sessionId: sessions[0], inos: files }], freeable: [] });
  assert.deepEqual(sessionsHolding(engine, files[0], 10), sessions.slice(1));
  const first = apply(engine, expireSessions(engine, { sessionsPerBatch: 1, ...at(3600) }));
  assert.deepEqual([first.released.map((session) => session.sessionId), first.more], [[sessions[1]], true]);
  const second = apply(engine, expireSessions(engine, { sessionsPerBatch: 1, ...at(3600) }));
  assert.deepEqual([second.released.map((session) => session.sessionId), second.more], [[sessions[2]], false]);
  assert.equal(isInodeOpen(engine, files[0]), false);
  assert.deepEqual(listSessions(engine, { limit: 10 }).sessions, []);
});

engineTest('a session holds at most sessionOpenInodesMax inodes', (engine) => {
  const limits = buildNamespaceLimits({ sessionOpenInodesMax: 2 });
  const root = makeRoot(engine);
  const files = ['a', 'b', 'c'].map((name) => createFile(engine, root, name));
  const { sessionId } = apply(engine, openSession(engine, { ...client, ...now }, limits));
  apply(engine, recordOpen(engine, { sessionId, ino: files[0] }, limits));
  apply(engine, recordOpen(engine, { sessionId, ino: files[1] }, limits));
  apply(engine, recordOpen(engine, { sessionId, ino: files[1] }, limits));
  assert.throws(() => recordOpen(engine, { sessionId, ino: files[2] }, limits), failsWith(StatusCode.NO_SPACE, 'ENOSPC'));
  assert.throws(() => recordOpen(engine, { sessionId: 99, ino: files[2] }, limits), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});
