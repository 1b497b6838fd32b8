import t from 'tap';
import { decodeTombstone, decodeView, encodeBody, encodeTombstone, encodeView } from '../../../src/session/redis-codec.js';
import { createMirror } from '../../../src/session/redis-mirror.js';
import type { Session, SessionRecord } from '../../../src/session/types.js';

const session: Session = {
  handle: 'h1',
  user: { sub: 'ada', email: 'ada@example.com', groups: [], claims: { nested: { list: [1, 2] }, big: 12345678901234 } },
  idpSid: 'sid-1',
  createdAt: 1_700_000_000_000,
  lastSeenAt: 1_700_000_001_000,
  expiresAt: 1_700_003_600_000,
  accessTokenExpiresAt: 1_700_000_300_000,
  refreshable: true,
  version: 7,
  userAgent: 'ua',
};

t.test('views round-trip; the header carries what the scripts need', async (t) => {
  const value = encodeView(session);
  t.match(value, /^1\|7\|1700000001000\|1700003600000\|\{/);
  t.strictSame(decodeView(value, 'h1'), session);
  t.equal(decodeView(value, 'h2'), undefined, 'a view under another handle is refused');
});

t.test('tokens never reach a view, even from a SessionRecord', async (t) => {
  const record: SessionRecord = { ...session, tokens: { accessToken: 'SECRET-AT' } };
  t.notOk(encodeView(record).includes('SECRET'));
  t.notOk(encodeBody(record).includes('SECRET'));
});

t.test('malformed views decode to undefined', async (t) => {
  const good = encodeView(session);
  for (const bad of ['', 'x', '1|', '1|7|1|', '2|7|1|2|{}', '1|a|1|2|{}', '1|7|1|2|not json', '1|7|1|2|{"handle":"h1"}', good.slice(0, -1)]) {
    t.equal(decodeView(bad, 'h1'), undefined, JSON.stringify(bad.slice(0, 30)));
  }
});

t.test('tombstones: written by Lua with `at` as a string, read back as a number', async (t) => {
  t.strictSame(decodeTombstone('{"handle":"h1","sub":"ada","reason":"logout","at":"1700000000000","idpSid":"s"}', 'h1'), {
    handle: 'h1', sub: 'ada', reason: 'logout', at: 1_700_000_000_000, idpSid: 's',
  });
  const tombstone = { handle: 'h1', sub: 'ada', reason: 'revoked' as const, at: 5 };
  t.strictSame(decodeTombstone(encodeTombstone(tombstone), 'h1'), tombstone);
  t.equal(decodeTombstone(encodeTombstone(tombstone), 'h2'), undefined);
  t.equal(decodeTombstone('{"handle":"h1","sub":"ada","reason":"bogus","at":1}', 'h1'), undefined);
  t.equal(decodeTombstone('nope', 'h1'), undefined);
});

t.test('mirror: newer wins, tombstoned handles stay out, resync reconciles', async (t) => {
  const mirror = createMirror({ tombstoneTtlMs: 60_000 });
  const v = (version: number, lastSeenAt = session.lastSeenAt, handle = 'h1'): Session => ({ ...session, handle, version, lastSeenAt });
  t.equal(mirror.apply(v(1)), 'new');
  t.equal(mirror.apply(v(1)), 'stale', 'the same copy again');
  t.equal(mirror.apply(v(1, session.lastSeenAt + 5)), 'touched');
  t.equal(mirror.apply(v(2)), 'changed');
  t.equal(mirror.apply(v(1, session.lastSeenAt + 99)), 'stale', 'an older version never wins');
  t.equal(mirror.rememberTombstone({ handle: 'h1', sub: 'ada', reason: 'logout', at: 1 }), true);
  t.equal(mirror.rememberTombstone({ handle: 'h1', sub: 'ada', reason: 'logout', at: 1 }), false, 'told once');
  mirror.drop('h1');
  t.equal(mirror.apply(v(3)), 'tombstoned', 'a read that raced the deletion cannot bring it back');

  mirror.apply(v(1, session.lastSeenAt, 'a'));
  mirror.apply(v(1, session.lastSeenAt, 'b'));
  mirror.apply(v(1, session.lastSeenAt, 'd'));
  mirror.beginResync();
  mirror.apply(v(1, session.lastSeenAt, 'c')); // a notification during the resync
  mirror.apply(v(5, session.lastSeenAt, 'd')); // ... that the resync's older read must not undo
  mirror.resyncRead(v(4, session.lastSeenAt, 'a'));
  t.equal(mirror.get('a')?.version, 4, 'a read is in the mirror at once');
  mirror.resyncRead(v(9));
  mirror.resyncRead(v(2, session.lastSeenAt, 'd'));
  mirror.apply(v(5, session.lastSeenAt, 'a'));
  t.same(mirror.finishResync(), { dropped: 1 }, 'b is gone from Redis');
  t.equal(mirror.get('a')?.version, 5, 'a notification after the read wins by version as always');
  t.equal(mirror.get('b'), undefined);
  t.ok(mirror.get('c'), 'what a notification said during the resync stays');
  t.equal(mirror.get('d')?.version, 5, 'a read older than a notification during the resync is ignored');
  t.equal(mirror.get('h1'), undefined, 'a tombstoned handle stays out');

  mirror.beginResync();
  mirror.resyncRead(v(7, session.lastSeenAt, 'c'));
  mirror.abortResync();
  t.equal(mirror.size, 3, 'an aborted resync drops nothing');
  t.equal(mirror.get('c')?.version, 7, 'what it read was true when read');
  mirror.resyncRead(v(1, session.lastSeenAt, 'late'));
  t.equal(mirror.get('late'), undefined, 'a read that lands after the resync ended is dropped');
  mirror.beginResync();
  t.same(mirror.finishResync(), { dropped: 3 }, 'a resync that read nothing empties the mirror');
});
