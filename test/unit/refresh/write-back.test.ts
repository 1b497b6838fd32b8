import t from 'tap';
import { createMetrics } from '../../../src/observability/metrics.js';
import { createRefreshAttempt } from '../../../src/refresh/attempt.js';
import type { RefreshOutcome } from '../../../src/refresh/types.js';
import { applyRefresh } from '../../../src/refresh/write-back.js';
import { SKIP, type StoreEvent } from '../../../src/session/store.js';
import type { SessionRecord, SessionUser } from '../../../src/session/types.js';
import { captureLogs, createFakeTime, HOUR, newStore, refreshCount } from './harness.js';

/** What a refresh writes over the session: new tokens, and the user its new ID token names. */

const before: SessionUser = { sub: 'ada', email: 'ada@example.com', groups: ['staff', 'admins'], claims: { sub: 'ada', groups: ['staff', 'admins'], email_verified: true } };
const after: SessionUser = { sub: 'ada', email: 'ada@corp.example', groups: ['staff'], claims: { sub: 'ada', groups: ['staff'], email_verified: false } };

function record(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    handle: 'h1',
    user: before,
    idpSid: 'idp-sid-1',
    createdAt: 1,
    lastSeenAt: 2,
    expiresAt: 3 * HOUR,
    accessTokenExpiresAt: 1000,
    refreshable: true,
    version: 4,
    tokens: { accessToken: 'at-0', refreshToken: 'rt-0', idToken: 'id-0', tokenType: 'Bearer' },
    ...over,
  };
}

type Ok = Extract<RefreshOutcome, { kind: 'ok' }>;
const withIdToken: Ok = { kind: 'ok', tokens: { accessToken: 'at-1', refreshToken: 'rt-1', idToken: 'id-1' }, accessTokenExpiresAt: 2000, user: after };
const withoutIdToken: Ok = { kind: 'ok', tokens: { accessToken: 'at-1', refreshToken: 'rt-1' }, accessTokenExpiresAt: 2000 };

t.test('applyRefresh', async (t) => {
  const current = record();
  const written = applyRefresh(current, current.tokens, withIdToken);
  if (written === SKIP) throw new Error('skipped');
  t.strictSame(written.user, after, 'a new ID token replaces email, groups and claims');
  t.strictSame(written.tokens, { accessToken: 'at-1', refreshToken: 'rt-1', idToken: 'id-1', tokenType: 'Bearer' });
  t.equal(written.accessTokenExpiresAt, 2000);
  t.equal(written.idpSid, 'idp-sid-1', 'the IdP session id stays (logout indexes use it)');
  t.match(written, { handle: 'h1', createdAt: 1, expiresAt: 3 * HOUR, refreshable: true });

  const kept = applyRefresh(current, current.tokens, withoutIdToken);
  if (kept === SKIP) throw new Error('skipped');
  t.equal(kept.user, before, 'no ID token: the claims are kept as they were');
  t.strictSame(kept.tokens, { accessToken: 'at-1', refreshToken: 'rt-1', idToken: 'id-0', tokenType: 'Bearer' }, 'and so is the ID token');

  const other = applyRefresh(current, current.tokens, { ...withIdToken, user: { ...after, sub: 'mallory' } });
  if (other === SKIP) throw new Error('skipped');
  t.equal(other.user, before, 'never another sub (the attempt ends such a session before writing)');

  t.equal(applyRefresh(record({ tokens: { accessToken: 'at-x', refreshToken: 'rt-x' } }), current.tokens, withIdToken), SKIP, 'tokens changed meanwhile: skip');
  const touched = applyRefresh(record({ version: 9, lastSeenAt: 50 }), current.tokens, withIdToken);
  t.not(touched, SKIP, 'a touch in between (new version, same tokens) does not skip');
});

/** One attempt against the memory store with a refresher that answers `outcome`. */
async function attemptWith(outcome: RefreshOutcome) {
  const time = createFakeTime();
  const store = newStore(time);
  const events: StoreEvent[] = [];
  store.subscribe((event) => events.push(event));
  const now = time.now();
  await store.create(record({ createdAt: now, lastSeenAt: now, expiresAt: now + HOUR, accessTokenExpiresAt: now + 1000 }));
  const metrics = createMetrics({ defaultMetrics: false });
  const attempt = createRefreshAttempt({
    store,
    refresher: { refresh: async () => outcome },
    log: captureLogs().logger,
    metrics,
    replicaId: 'r1',
    leaseTtlMs: 30_000,
  });
  const result = await attempt('h1', now + 1000, () => false);
  return { result, store, events, metrics };
}

t.test('the write-back reaches the store and its listeners', async (t) => {
  const { result, store, events } = await attemptWith(withIdToken);
  t.equal(result.kind, 'refreshed');
  t.strictSame(store.peek('h1')?.user, after, 'the mirror the request path reads has the new groups');
  t.strictSame((await store.load('h1'))?.user, after);
  const set = events.filter((e) => e.kind === 'set').at(-1);
  t.strictSame(set?.kind === 'set' ? set.session.user : undefined, after, "the 'set' event carries the new user");
});

t.test('a refresh without an ID token keeps the claims', async (t) => {
  const { result, store } = await attemptWith(withoutIdToken);
  t.equal(result.kind, 'refreshed');
  t.strictSame(store.peek('h1')?.user, before);
  t.equal((await store.load('h1'))?.tokens.accessToken, 'at-1');
});

t.test('a refreshed ID token for another sub ends the session', async (t) => {
  const { result, store, events, metrics } = await attemptWith({ ...withIdToken, user: { ...after, sub: 'mallory' } });
  t.equal(result.kind, 'revoked');
  t.equal(store.peek('h1'), undefined);
  t.equal(await store.load('h1'), undefined);
  const tombstone = events.find((e) => e.kind === 'tombstone');
  t.match(tombstone, { kind: 'tombstone', tombstone: { handle: 'h1', sub: 'ada', reason: 'revoked' } });
  t.equal(await refreshCount(metrics, 'refused'), 1);
  t.equal(await refreshCount(metrics, 'ok'), 0);
});
