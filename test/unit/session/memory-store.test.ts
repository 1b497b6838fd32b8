import t from 'tap';
import type { Clock } from '../../../src/lib/clock.js';
import { handleOf, newSessionId } from '../../../src/session/ids.js';
import { createMemoryStore } from '../../../src/session/memory-store.js';
import type { StoreEvent } from '../../../src/session/store.js';
import type { SessionRecord } from '../../../src/session/types.js';
import { runStoreContract } from '../../support/store-contract.js';

await runStoreContract(t, 'memory', async (opts) => {
  const store = createMemoryStore({ ...opts, sweepIntervalMs: 50 });
  return { store, cleanup: () => store.close() };
});

/** a clock the test moves by hand */
function manualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

function record(clock: Clock, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = clock.now();
  return {
    handle: handleOf(newSessionId()),
    user: { sub: 'u1', groups: [], claims: {} },
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 3_600_000,
    refreshable: false,
    version: 1,
    tokens: { accessToken: 'at' },
    ...overrides,
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test('the sweep announces expiry without anyone reading the session', async (t) => {
  const clock = manualClock();
  const store = createMemoryStore({ clock, idleTimeoutMs: 60_000, tombstoneTtlMs: 1000, sweepIntervalMs: 10 });
  t.teardown(() => store.close());
  await store.start();
  const events: StoreEvent[] = [];
  store.subscribe((e) => events.push(e));
  const r = record(clock);
  await store.create(r);
  clock.advance(60_000);
  await until(() => events.some((e) => e.kind === 'expired' && e.handle === r.handle), 'expired event');
  t.equal(store.peek(r.handle), undefined);
  t.strictSame([...store.snapshot()], []);
});

t.test('a remove made inside the mutator wins over the update', async (t) => {
  const clock = manualClock();
  const store = createMemoryStore({ clock, idleTimeoutMs: 60_000, tombstoneTtlMs: 1000 });
  t.teardown(() => store.close());
  const r = record(clock);
  await store.create(r);
  const result = await store.update(r.handle, (current) => {
    void store.remove(r.handle, 'logout');
    return { ...current, refreshable: true };
  });
  t.equal(result, undefined);
  t.equal(await store.load(r.handle), undefined);
  t.match(await store.tombstone(r.handle), { reason: 'logout' });
});

t.test('a mutator that writes every time gives up after bounded attempts', async (t) => {
  const clock = manualClock();
  const store = createMemoryStore({ clock, idleTimeoutMs: 60_000, tombstoneTtlMs: 1000 });
  t.teardown(() => store.close());
  const r = record(clock);
  await store.create(r);
  let calls = 0;
  await t.rejects(
    store.update(r.handle, (current) => {
      calls++;
      clock.advance(1);
      void store.touch(r.handle, clock.now());
      return current;
    }),
    /conflict/,
  );
  t.ok(calls > 1 && calls < 10, 'retried, but not forever');
});

t.test('events are delivered after the write, and a throwing listener is reported', async (t) => {
  const clock = manualClock();
  const errors: unknown[] = [];
  const store = createMemoryStore({ clock, idleTimeoutMs: 60_000, tombstoneTtlMs: 1000, onListenerError: (e) => errors.push(e) });
  t.teardown(() => store.close());
  const events: StoreEvent[] = [];
  store.subscribe(() => {
    throw new Error('boom');
  });
  store.subscribe((e) => events.push(e));
  const pending = store.create(record(clock));
  t.equal(events.length, 0, 'not delivered inside the write');
  await pending;
  await until(() => events.length === 1, 'delivered');
  t.equal(errors.length, 1);
  t.match(errors[0], { message: 'boom' });
});

t.test('touch never moves lastSeenAt backwards; tombstones and leases follow the clock', async (t) => {
  const clock = manualClock();
  const store = createMemoryStore({ clock, idleTimeoutMs: 60_000, tombstoneTtlMs: 5000 });
  t.teardown(() => store.close());
  const r = record(clock);
  await store.create(r);
  await store.touch(r.handle, r.lastSeenAt + 1000);
  await store.touch(r.handle, r.lastSeenAt + 500);
  t.equal((await store.get(r.handle))!.lastSeenAt, r.lastSeenAt + 1000);

  await store.remove(r.handle, 'operator');
  clock.advance(4999);
  t.ok(await store.tombstone(r.handle), 'kept until its TTL');
  clock.advance(1);
  t.equal(await store.tombstone(r.handle), undefined, 'gone at its TTL');

  t.equal(await store.acquireLease('l', 'a', 1000), true);
  clock.advance(999);
  t.equal(await store.acquireLease('l', 'b', 1000), false);
  clock.advance(1);
  t.equal(await store.acquireLease('l', 'b', 1000), true);
});

t.test('a record found expired before the sweep is treated as gone by every operation', async (t) => {
  const clock = manualClock();
  const store = createMemoryStore({ clock, idleTimeoutMs: 1000, tombstoneTtlMs: 1000 });
  t.teardown(() => store.close());
  const [r, u, v, w] = [record(clock), record(clock), record(clock), record(clock)];
  for (const x of [r, u, v, w]) await store.create(x);
  clock.advance(1000);
  t.equal(await store.update(u.handle, (c) => c), undefined, 'update');
  t.equal(await store.remove(v.handle, 'logout'), undefined, 'remove');
  t.equal(await store.tombstone(v.handle), undefined, 'remove leaves no tombstone');
  await store.touch(w.handle, clock.now());
  t.equal(await store.load(w.handle), undefined, 'touch does not revive it');
  t.strictSame(await store.listBySub('u1'), []);
  t.strictSame(await store.removeBySub('u1', 'revoked'), [], 'nothing to remove, no tombstone');
  t.equal(await store.tombstone(r.handle), undefined);
  await store.create({ ...r, lastSeenAt: clock.now() });
  t.ok(await store.get(r.handle));
});

t.test('options are checked', async (t) => {
  const clock = manualClock();
  t.throws(() => createMemoryStore({ clock, idleTimeoutMs: 0, tombstoneTtlMs: 1000 }), /idleTimeoutMs/);
  t.throws(() => createMemoryStore({ clock, idleTimeoutMs: 1000, tombstoneTtlMs: Number.NaN }), /tombstoneTtlMs/);
  t.throws(() => createMemoryStore({ clock, idleTimeoutMs: 1000, tombstoneTtlMs: 1000, sweepIntervalMs: -1 }), /sweepIntervalMs/);
  const store = createMemoryStore({ clock, idleTimeoutMs: 1000, tombstoneTtlMs: 1000 });
  await t.rejects(store.create({ ...record(clock), handle: '' }), TypeError);
  await t.rejects(store.acquireLease('l', 'a', 0), RangeError);
  await store.close();
  await store.close();
});
