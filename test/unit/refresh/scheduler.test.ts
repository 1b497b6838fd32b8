import t, { type Test } from 'tap';
import type { SessionStore, StoreEvent, StoreListener } from '../../../src/session/store.js';
import {
  MINUTE,
  HOUR,
  addSession,
  createFakeIdp,
  createFakeTime,
  newStore,
  refreshCount,
  startReplica,
} from './harness.js';

// Token lifetime 5 min, refresh_ahead 60s, random fixed at 0.5 → jitter 3s: a refresh every 237s.
const LIFETIME = 5 * MINUTE;
const PERIOD = LIFETIME - MINUTE - 3_000;

/** A store whose notifications can be dropped, as keyspace notifications can, or injected. */
function withLossyEvents(inner: SessionStore) {
  const listeners = new Set<StoreListener>();
  const control = {
    deliver: true,
    store: {
      ...inner,
      subscribe(listener: StoreListener) {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    } as SessionStore,
    emit: (event: StoreEvent) => listeners.forEach((l) => l(event)),
  };
  inner.subscribe((event) => {
    if (control.deliver) control.emit(event);
  });
  return control;
}

function setup(t: Test) {
  const time = createFakeTime();
  const store = newStore(time);
  const idp = createFakeIdp(time, LIFETIME);
  t.teardown(() => store.close());
  return { time, store, idp };
}

t.test('refreshes at expiry − refresh_ahead − jitter, and again for each new token', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  const start = time.now();
  const { scheduler, metrics } = startReplica({ store, idp, time });
  t.teardown(() => scheduler.close());
  await time.settle();
  t.equal(scheduler.size(), 1);
  t.equal(scheduler.nextDueAt(), start + PERIOD);

  await time.advance(PERIOD - 1);
  t.equal(idp.calls.length, 0, 'not before it is due');
  await time.advance(1);
  t.same(idp.calls, [{ refreshToken: 'rt-initial-s1', at: start + PERIOD }], 'refreshed with the held refresh token when due');

  const record = await store.load('s1');
  t.equal(record?.tokens.accessToken, 'at-1', 'new access token stored');
  t.equal(record?.tokens.refreshToken, 'rt-1', 'rotated refresh token stored');
  t.equal(record?.tokens.idToken, 'id-s1', 'id token kept when the IdP sent none');
  t.equal(record?.accessTokenExpiresAt, start + PERIOD + LIFETIME);
  t.equal(scheduler.nextDueAt(), start + 2 * PERIOD, 'next refresh planned from the new token');

  await time.advance(PERIOD);
  t.equal(idp.calls.length, 2);
  t.equal(idp.calls[1]?.refreshToken, 'rt-1');
  t.equal(idp.reuses(), 0);
  t.equal(await refreshCount(metrics, 'ok'), 2);
});

t.test('touches do not move the schedule; a non-refreshable session is not scheduled', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  await addSession(store, idp, time, 'plain', LIFETIME, { refreshable: false, tokens: { accessToken: 'x' } });
  const { scheduler } = startReplica({ store, idp, time });
  t.teardown(() => scheduler.close());
  await time.settle();
  const due = scheduler.nextDueAt();
  t.equal(scheduler.size(), 1);
  await time.advance(MINUTE);
  await store.touch('s1', time.now());
  await time.settle();
  t.equal(scheduler.nextDueAt(), due, 'unchanged by a touch');

  // a session created after start is scheduled through its `set` event
  await addSession(store, idp, time, 's2', 2 * MINUTE);
  await time.settle();
  t.equal(scheduler.size(), 2);
  await time.advance(2 * MINUTE);
  t.same(idp.calls.map((c) => c.refreshToken), ['rt-initial-s2']);
  await time.advance(HOUR);
  t.notOk(idp.calls.some((c) => c.refreshToken.includes('plain')), 'never refreshes a session without refresh token');
});

t.test('two replicas on one store refresh a session exactly once per period', async (t) => {
  for (const [name, randomB] of [['same due time', 0.5], ['different due times', 0.9]] as const) {
    await t.test(name, async (t) => {
      const { time, store, idp } = setup(t);
      await addSession(store, idp, time, 's1', LIFETIME);
      const a = startReplica({ store, idp, time, replicaId: 'a' });
      const b = startReplica({ store, idp, time, replicaId: 'b', random: () => randomB });
      t.teardown(() => Promise.all([a.scheduler.close(), b.scheduler.close()]));

      await time.advance(30 * MINUTE);
      const gaps = idp.calls.slice(1).map((c, i) => c.at - (idp.calls[i]?.at ?? 0));
      t.ok(idp.calls.length >= 7, `one refresh per period (${idp.calls.length} in 30 min)`);
      t.ok(gaps.every((gap) => gap >= LIFETIME - 1.1 * MINUTE), `never two in one period (gaps ${gaps.join(', ')})`);
      t.equal(idp.reuses(), 0, 'no refresh token was used twice');
      const ok = (await refreshCount(a.metrics, 'ok')) + (await refreshCount(b.metrics, 'ok'));
      t.equal(ok, idp.calls.length, 'every refresh succeeded');
      t.equal(a.scheduler.size(), 1);
      t.equal(b.scheduler.size(), 1);
      t.ok(await store.load('s1'), 'session still alive');
    });
  }
});

t.test('a touch while the IdP is answering does not lose the rotated refresh token', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  const { scheduler } = startReplica({ store, idp, time });
  t.teardown(() => scheduler.close());
  const release = idp.hold();
  await time.advance(PERIOD);
  await store.touch('s1', time.now());
  release();
  await time.settle();
  const record = await store.load('s1');
  t.equal(record?.tokens.refreshToken, 'rt-1', 'the rotated refresh token was written');
  t.equal(record?.lastSeenAt, time.now(), 'and the touch kept');
  await time.advance(PERIOD);
  t.equal(idp.calls.length, 2);
  t.equal(idp.reuses(), 0);
  t.ok(await store.load('s1'), 'the session lives on');
});

t.test('two replicas racing: one waits for the lease while the other talks to the IdP', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  const a = startReplica({ store, idp, time, replicaId: 'a' });
  const b = startReplica({ store, idp, time, replicaId: 'b' });
  t.teardown(() => Promise.all([a.scheduler.close(), b.scheduler.close()]));
  const release = idp.hold();
  await time.advance(PERIOD);
  await time.advance(5_000);
  t.equal(idp.calls.length, 1, 'only the lease holder called the IdP');
  release();
  await time.advance(LIFETIME - MINUTE);
  t.equal(idp.calls.length, 2, 'one refresh in the next period');
  t.equal(idp.reuses(), 0);
});

t.test('a replica that missed the refresh notification checks the store before refreshing', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  const deaf = withLossyEvents(store);
  deaf.deliver = false;
  const a = startReplica({ store, idp, time, replicaId: 'a' });
  // due 2.4s after a's refresh (smaller jitter), and never hears of it
  const b = startReplica({ store: deaf.store, idp, time, replicaId: 'b', random: () => 0.1 });
  t.teardown(() => Promise.all([a.scheduler.close(), b.scheduler.close()]));
  await time.advance(PERIOD + 10_000);
  t.equal(idp.calls.length, 1, 'b saw the new token and did not refresh again');
  t.equal(idp.reuses(), 0);
  t.ok(await store.load('s1'), 'the session lives');
  t.equal(b.scheduler.size(), 1, 'b planned again from the new token');
  await time.advance(PERIOD);
  t.equal(idp.calls.length, 2);
  t.equal(idp.reuses(), 0);
});

t.test('a refused refresh ends the session as revoked on every replica, never retried', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  idp.setMode('refused');
  const a = startReplica({ store, idp, time, replicaId: 'a' });
  const b = startReplica({ store, idp, time, replicaId: 'b', random: () => 0.7 });
  t.teardown(() => Promise.all([a.scheduler.close(), b.scheduler.close()]));

  await time.advance(LIFETIME);
  t.equal(idp.calls.length, 1, 'one attempt');
  t.equal((await store.tombstone('s1'))?.reason, 'revoked');
  t.equal(await store.load('s1'), undefined);
  t.equal(a.scheduler.size(), 0);
  t.equal(b.scheduler.size(), 0, 'the other replica cancelled too');
  await time.advance(2 * HOUR);
  t.equal(idp.calls.length, 1, 'never retried');

  const refused = (await refreshCount(a.metrics, 'refused')) + (await refreshCount(b.metrics, 'refused'));
  t.equal(refused, 1);
  const logged = [...a.logs.records(), ...b.logs.records()].filter((r) => r.handle === 's1' && r.level === 30);
  t.equal(logged.length, 1, 'logged once at info with the handle');
  const everything = [...a.logs.lines, ...b.logs.lines].join('');
  t.notMatch(everything, /rt-initial|at-initial|id-s1/, 'no token in the logs');
});

t.test('a logout cancels at once', async (t) => {
  await t.test('while scheduled', async (t) => {
    const { time, store, idp } = setup(t);
    await addSession(store, idp, time, 's1', LIFETIME);
    const a = startReplica({ store, idp, time, replicaId: 'a' });
    const b = startReplica({ store, idp, time, replicaId: 'b' });
    t.teardown(() => Promise.all([a.scheduler.close(), b.scheduler.close()]));
    await time.advance(MINUTE);
    await store.remove('s1', 'logout');
    await time.settle();
    t.equal(a.scheduler.size(), 0);
    t.equal(b.scheduler.size(), 0);
    t.equal(a.scheduler.nextDueAt(), undefined);
    await time.advance(HOUR);
    t.equal(idp.calls.length, 0, 'no refresh for a logged-out session');
  });

  await t.test('while a refresh is in flight', async (t) => {
    const { time, store, idp } = setup(t);
    await addSession(store, idp, time, 's1', LIFETIME);
    const { scheduler } = startReplica({ store, idp, time });
    t.teardown(() => scheduler.close());
    const release = idp.hold();
    await time.advance(PERIOD);
    t.equal(idp.calls.length, 1, 'refresh started');
    await store.remove('s1', 'logout');
    await time.settle();
    release();
    await time.settle();
    t.equal(await store.load('s1'), undefined, 'the refreshed tokens were not written back');
    t.equal((await store.tombstone('s1'))?.reason, 'logout', 'the logout stands');
    t.equal(scheduler.size(), 0, 'not rescheduled');
    await time.advance(HOUR);
    t.equal(idp.calls.length, 1, 'no refresh afterwards');
  });

  await t.test('during backoff after transient failures', async (t) => {
    const { time, store, idp } = setup(t);
    await addSession(store, idp, time, 's1', LIFETIME);
    idp.setMode('transient');
    const { scheduler } = startReplica({ store, idp, time });
    t.teardown(() => scheduler.close());
    await time.advance(PERIOD + 10_000);
    t.ok(idp.calls.length >= 2, 'retrying');
    t.equal(scheduler.size(), 1, 'a retry is pending');
    const before = idp.calls.length;
    await store.remove('s1', 'logout');
    await time.settle();
    t.equal(scheduler.size(), 0);
    idp.setMode('ok');
    await time.advance(HOUR);
    t.equal(idp.calls.length, before, 'no retry after the logout');
  });
});

t.test('transient failures back off exponentially up to the bound; the session lives on', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  idp.setMode('transient');
  const maxBackoffMs = 60_000;
  const { scheduler, metrics } = startReplica({ store, idp, time, maxBackoffMs });
  t.teardown(() => scheduler.close());

  // the user keeps using the session meanwhile: touches must not reset the backoff
  for (let elapsed = 0; elapsed < PERIOD + 15 * MINUTE; elapsed += 10_000) {
    await time.advance(10_000);
    await store.touch('s1', time.now());
  }
  const gaps = idp.calls.slice(1).map((c, i) => c.at - (idp.calls[i]?.at ?? 0));
  t.equal(gaps[0], 2000, 'first retry after about a second or two');
  t.ok(gaps.every((gap, i) => i === 0 || gap >= (gaps[i - 1] ?? 0)), `gaps never shrink: ${gaps.join(', ')}`);
  t.ok((gaps[3] ?? 0) > 2 * (gaps[0] ?? 0), 'and grow exponentially');
  t.ok(gaps.every((gap) => gap <= maxBackoffMs), 'bounded by the max backoff');
  t.equal(gaps.at(-1), maxBackoffMs, 'reaches the bound');
  t.ok(idp.calls.length < 30, `not hammering the IdP (${idp.calls.length} attempts in 15 min)`);
  t.equal(await refreshCount(metrics, 'transient'), idp.calls.length);

  const record = await store.load('s1');
  t.ok(record && (record.accessTokenExpiresAt ?? 0) < time.now(), 'the access token has expired…');
  t.ok(await store.get('s1'), '…and the session is still served');

  idp.setMode('ok');
  await time.advance(maxBackoffMs);
  t.equal((await store.load('s1'))?.tokens.accessToken, 'at-1', 'recovered once the IdP answered');
  const after = idp.calls.length;
  const recoveredAt = idp.calls.at(-1)?.at ?? 0;
  await time.advance(recoveredAt + PERIOD - 1 - time.now());
  t.equal(idp.calls.length, after, 'back to the normal schedule');
  await time.advance(1);
  t.equal(idp.calls.length, after + 1);
  t.equal(idp.calls.at(-1)?.at, recoveredAt + PERIOD);
});

t.test('a lease holder that dies lets another replica refresh after the lease ttl', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  const { scheduler } = startReplica({ store, idp, time, replicaId: 'b', leaseTtlMs: 30_000 });
  t.teardown(() => scheduler.close());
  await time.advance(PERIOD - 1000);
  // replica "a" takes the lease and dies before refreshing or releasing it
  t.ok(await store.acquireLease('refresh:s1', 'a', 30_000));
  const died = time.now();
  await time.advance(1000);
  t.equal(idp.calls.length, 0, 'waits while the lease is held');
  await time.advance(29_000);
  t.equal(idp.calls.length, 0);
  await time.advance(2_000);
  t.equal(idp.calls.length, 1, 'refreshed once the lease lapsed');
  t.ok((idp.calls[0]?.at ?? 0) >= died + 30_000);
  t.equal((await store.load('s1'))?.tokens.accessToken, 'at-1');
});

t.test('many sessions share one timer; refreshes are bounded in flight', async (t) => {
  const { time, store, idp } = setup(t);
  const n = 500;
  for (let i = 0; i < n; i++) await addSession(store, idp, time, `s${i}`, 2 * MINUTE + ((i * 7919) % n) * 1000);
  const { scheduler } = startReplica({ store, idp, time, concurrency: 8 });
  t.teardown(() => scheduler.close());
  await time.settle();
  t.equal(scheduler.size(), n);
  // 40 more due at once (expiry − 60s − 3s jitter = now), with the IdP slow
  for (let i = 0; i < 40; i++) await addSession(store, idp, time, `burst${i}`, MINUTE + 3_000);
  const release = idp.hold();
  await time.advance(1);
  t.equal(idp.maxInFlight(), 8, 'at most 8 refreshes in flight');
  release();
  await time.advance(LIFETIME + n * 1000);
  const refreshed = new Set(idp.calls.map((c) => c.refreshToken));
  t.equal(refreshed.size, idp.calls.length, 'no token refreshed twice');
  t.ok([...Array(n).keys()].every((i) => refreshed.has(`rt-initial-s${i}`)), 'every session refreshed');
  t.equal(time.stats.maxPending, 1, 'never more than one timer pending');
  t.ok(time.pending() <= 1);
  t.equal(idp.reuses(), 0);
});

t.test('a resync cancels sessions whose events were lost and schedules new ones', async (t) => {
  const { time, store: inner, idp } = setup(t);
  const lossy = withLossyEvents(inner);
  const { store, emit } = lossy;

  await addSession(store, idp, time, 'gone', LIFETIME);
  const { scheduler } = startReplica({ store, idp, time });
  t.teardown(() => scheduler.close());
  await time.settle();
  lossy.deliver = false;
  await store.remove('gone', 'logout');
  await addSession(store, idp, time, 'new', LIFETIME);
  await time.settle();
  t.equal(scheduler.size(), 1, 'nothing heard yet');
  emit({ kind: 'resync', sessions: 1 });
  t.equal(scheduler.size(), 1);
  await time.advance(LIFETIME);
  t.same(idp.calls.map((c) => c.refreshToken), ['rt-initial-new'], 'only the live session was refreshed');
});

t.test('store errors are counted and the loop carries on', async (t) => {
  const { time, store: inner, idp } = setup(t);
  let failures = 3;
  const store: SessionStore = {
    ...inner,
    async acquireLease(name, owner, ttlMs) {
      if (name === 'refresh:flaky' && failures-- > 0) throw new Error('store unreachable');
      return inner.acquireLease(name, owner, ttlMs);
    },
  };
  await addSession(store, idp, time, 'flaky', LIFETIME);
  await addSession(store, idp, time, 'fine', LIFETIME + 1000);
  const { scheduler, metrics, logs } = startReplica({ store, idp, time });
  t.teardown(() => scheduler.close());
  await time.advance(PERIOD + MINUTE);
  t.equal(await refreshCount(metrics, 'error'), 3, 'each failure counted');
  t.ok(logs.records().some((r) => r.level === 50 && r.component === 'refresh' && r.handle === 'flaky'), 'logged by the child logger');
  t.same(idp.calls.map((c) => c.refreshToken).sort(), ['rt-initial-fine', 'rt-initial-flaky'], 'both refreshed in the end');
});

t.test('a refresh weeks away is kept on a clamped timer and still happens on time', async (t) => {
  const { time, store, idp } = setup(t);
  const inWeeks = 28 * 24 * HOUR; // beyond setTimeout's ~24.8 days, within the idle timeout
  await addSession(store, idp, time, 's1', inWeeks, { expiresAt: time.now() + 90 * 24 * HOUR });
  const start = time.now();
  const { scheduler } = startReplica({ store, idp, time });
  t.teardown(() => scheduler.close());
  await time.advance(inWeeks - MINUTE - 3_001);
  t.equal(idp.calls.length, 0, 'the clamped timer did not fire it early');
  await time.advance(1);
  t.same(idp.calls.map((c) => c.at), [start + inWeeks - MINUTE - 3_000]);
  t.equal(time.stats.maxPending, 1);
  t.equal(time.stats.overflows, 0, 'no delay beyond what setTimeout can hold');
  t.ok(time.stats.created < 5, `a few timers over four weeks (${time.stats.created})`);
});

t.test('close stops the timer and waits for refreshes in flight', async (t) => {
  const { time, store, idp } = setup(t);
  await addSession(store, idp, time, 's1', LIFETIME);
  await addSession(store, idp, time, 's2', 2 * LIFETIME);
  const { scheduler } = startReplica({ store, idp, time });
  const release = idp.hold();
  await time.advance(PERIOD);
  t.equal(idp.calls.length, 1);
  let closed = false;
  const closing = scheduler.close().then(() => (closed = true));
  await time.settle();
  t.equal(closed, false, 'waits for the refresh in flight');
  release();
  await closing;
  t.equal((await store.load('s1'))?.tokens.refreshToken, 'rt-1', 'the rotated token it got was still written');
  t.equal(time.pending(), 0, 'no timer left');
  await time.advance(2 * LIFETIME);
  t.equal(idp.calls.length, 1, 'nothing more after close');
});
