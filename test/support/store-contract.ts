import type { Test } from 'tap';
import { systemClock, type Clock } from '../../src/lib/clock.js';
import { randomToken } from '../../src/lib/random.js';
import { handleOf, newSessionId } from '../../src/session/ids.js';
import { IdpSessionEndedError, SKIP, type SessionStore, type StoreEvent } from '../../src/session/store.js';
import { toSession, type Session, type SessionRecord } from '../../src/session/types.js';

/**
 * The one behaviour every SessionStore must show (memory and Redis alike). It relies only on
 * the SessionStore interface: events may arrive asynchronously, up to a second late, so they
 * are polled for with a deadline; expiry uses short real TTLs because Redis expires by real time.
 * Every subtest opens its own store and uses fresh handles and subs, so a shared Redis is fine.
 */
export interface StoreFactoryOptions {
  clock: Clock;
  idleTimeoutMs: number;
  tombstoneTtlMs: number;
}

/** Returns a store not yet started; `cleanup` closes it and whatever else the factory opened. */
export type StoreFactory = (opts: StoreFactoryOptions) => Promise<{ store: SessionStore; cleanup(): Promise<void> }>;

const DEADLINE_MS = 3000;
const LONG = 60_000;

export async function runStoreContract(t: Test, name: string, makeStore: StoreFactory): Promise<void> {
  await t.test(`SessionStore contract: ${name}`, async (t) => {
    async function open(t: Test, overrides: Partial<StoreFactoryOptions> = {}): Promise<SessionStore> {
      const { store, cleanup } = await makeStore({ clock: systemClock, idleTimeoutMs: LONG, tombstoneTtlMs: LONG, ...overrides });
      t.teardown(cleanup);
      await store.start();
      return store;
    }

    t.test('create, get and load round-trip; tokens only through load', async (t) => {
      const store = await open(t);
      t.ok(store.status().up, 'status is up once started');
      const record = makeRecord({ idpSid: 'sid-' + randomToken(6) });
      await store.create(record);
      const got = await store.get(record.handle);
      t.strictSame(got, toSession(record), 'get returns the session');
      t.notOk(got && 'tokens' in got, 'get carries no tokens');
      t.strictSame(await store.load(record.handle), record, 'load returns the record with tokens');
      await waitFor(() => store.peek(record.handle) !== undefined, 'peek sees the new session');
      t.strictSame(store.peek(record.handle), toSession(record));
      await waitFor(() => [...store.snapshot()].some((s) => s.handle === record.handle), 'snapshot holds it');
      t.equal(store.size(), [...store.snapshot()].length, 'size counts what the mirror holds');
      await store.remove(record.handle, 'logout');
      await waitFor(() => store.size() === [...store.snapshot()].length && store.peek(record.handle) === undefined, 'size drops with the session');
      const unknown = handleOf(newSessionId());
      t.equal(await store.get(unknown), undefined, 'unknown handle: get');
      t.equal(await store.load(unknown), undefined, 'unknown handle: load');
      t.equal(store.peek(unknown), undefined, 'unknown handle: peek');
    });

    t.test('stored state cannot be changed through objects passed in or handed out', async (t) => {
      const store = await open(t);
      const record = makeRecord();
      const original = structuredClone(record);
      await store.create(record);
      record.user.groups.push('admin');
      record.tokens.accessToken = 'changed';
      (record.user.claims.nested as { list: number[] }).list.push(99);
      // a store may hand out copies or frozen views; either way, writing to them changes nothing
      const attempt = (write: () => void) => {
        try {
          write();
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
        }
      };
      const got = (await store.get(record.handle))!;
      attempt(() => got.user.groups.push('admin'));
      attempt(() => (got.lastSeenAt = 0));
      const peeked = store.peek(record.handle);
      if (peeked) attempt(() => (peeked.user.claims.extra = 'x'));
      const loaded = (await store.load(record.handle))!;
      attempt(() => (loaded.tokens.accessToken = 'changed'));
      t.strictSame(await store.get(record.handle), toSession(original));
      t.strictSame(await store.load(record.handle), original);
    });

    t.test('create fails on an existing or tombstoned handle', async (t) => {
      const store = await open(t);
      const record = makeRecord();
      await store.create(record);
      await t.rejects(store.create(record), 'same record again');
      await t.rejects(store.create(makeRecord({ handle: record.handle })), 'another record, same handle');
      t.strictSame(await store.load(record.handle), record, 'the first record is untouched');
      await store.remove(record.handle, 'logout');
      await t.rejects(store.create(record), 'a tombstoned handle is not reused');
      t.equal(await store.get(record.handle), undefined);
      t.equal(await store.load(record.handle), undefined);
    });

    t.test('update is a read-modify-write that bumps version', async (t) => {
      const store = await open(t);
      const record = makeRecord();
      await store.create(record);
      let seen: SessionRecord | undefined;
      const updated = await store.update(record.handle, (current) => {
        seen = current;
        return { ...current, accessTokenExpiresAt: current.createdAt + 999_000, tokens: { ...current.tokens, accessToken: 'at-2' } };
      });
      t.strictSame(seen, record, 'the mutator gets the current record, tokens included');
      t.ok(updated, 'resolves to the written record');
      t.ok(updated!.version > record.version, 'version bumped');
      t.equal(updated!.tokens.accessToken, 'at-2');
      t.equal(updated!.accessTokenExpiresAt, record.createdAt + 999_000);
      t.strictSame(await store.load(record.handle), updated, 'load sees the write');
      await waitFor(async () => (await store.get(record.handle))?.version === updated!.version, 'get sees the new version');

      t.equal(await store.update(record.handle, () => SKIP), undefined, 'SKIP resolves undefined');
      t.equal((await store.load(record.handle))!.version, updated!.version, 'SKIP writes nothing');
      t.equal(await store.update(handleOf(newSessionId()), (c) => c), undefined, 'unknown handle');
    });

    t.test('concurrent updates do not lose writes', async (t) => {
      const store = await open(t);
      const record = makeRecord();
      await store.create(record);
      const increment = (current: SessionRecord): SessionRecord => ({
        ...current,
        user: { ...current.user, claims: { ...current.user.claims, n: Number(current.user.claims.n ?? 0) + 1 } },
      });
      const results = await Promise.all([1, 2, 3].map(() => store.update(record.handle, increment)));
      t.ok(results.every(Boolean), 'every update was written');
      t.equal(new Set(results.map((r) => r?.version)).size, 3, 'each write has its own version');
      t.equal((await store.load(record.handle))!.user.claims.n, 3, 'no increment lost');
    });

    t.test('update never resurrects a removed session', async (t) => {
      const store = await open(t);
      const record = makeRecord({ idpSid: 'sid-' + randomToken(6) });
      await store.create(record);
      await store.remove(record.handle, 'logout');
      t.equal(await store.update(record.handle, (c) => ({ ...c, lastSeenAt: c.lastSeenAt + 1 })), undefined);
      t.equal(await store.get(record.handle), undefined, 'get stays undefined');
      t.equal(await store.load(record.handle), undefined, 'load stays undefined');
      t.match(await store.tombstone(record.handle), { handle: record.handle, reason: 'logout' }, 'the tombstone is still there');

      const raced = makeRecord();
      await store.create(raced);
      const [, tombstone] = await Promise.all([
        store.update(raced.handle, (c) => ({ ...c, lastSeenAt: c.lastSeenAt + 1 })),
        store.remove(raced.handle, 'backchannel'),
      ]);
      t.ok(tombstone, 'the racing remove happened');
      t.equal(await store.get(raced.handle), undefined, 'a remove racing an update wins');
      t.equal(await store.load(raced.handle), undefined);
      t.match(await store.tombstone(raced.handle), { reason: 'backchannel' });
    });

    t.test('remove writes a tombstone and announces it', async (t) => {
      const store = await open(t);
      const events = collect(t, store);
      const record = makeRecord({ idpSid: 'sid-' + randomToken(6) });
      await store.create(record);
      const before = Date.now();
      const tombstone = await store.remove(record.handle, 'logout');
      const after = Date.now();
      const expected = { handle: record.handle, sub: record.user.sub, idpSid: record.idpSid, reason: 'logout' };
      t.match(tombstone, expected, 'remove resolves to the tombstone');
      t.ok(tombstone!.at >= before - 1000 && tombstone!.at <= after + 1000, 'tombstone.at is the time of removal');
      t.strictSame(await store.tombstone(record.handle), tombstone, 'tombstone() reads it back');
      t.equal(await store.get(record.handle), undefined);
      t.equal(await store.load(record.handle), undefined);
      t.strictSame(await store.listBySub(record.user.sub), []);
      const event = await events.until((e) => e.kind === 'tombstone' && e.tombstone.handle === record.handle);
      t.match(event, { kind: 'tombstone', tombstone: expected }, 'subscribers hear handle, sub, idpSid and reason');
      await waitFor(() => store.peek(record.handle) === undefined, 'the mirror forgets it');

      const plain = makeRecord();
      await store.create(plain);
      const plainTombstone = await store.remove(plain.handle, 'user');
      t.match(plainTombstone, { handle: plain.handle, sub: plain.user.sub, reason: 'user' });
      t.equal(plainTombstone!.idpSid, undefined, 'no idpSid when the session had none');

      const unknown = handleOf(newSessionId());
      t.equal(await store.remove(unknown, 'logout'), undefined, 'removing an unknown handle is a no-op');
      t.equal(await store.tombstone(unknown), undefined, 'and leaves no tombstone');
    });

    t.test('tombstones are kept for their TTL', async (t) => {
      const store = await open(t, { tombstoneTtlMs: 300 });
      const record = makeRecord();
      await store.create(record);
      await store.remove(record.handle, 'revoked');
      t.ok(await store.tombstone(record.handle), 'kept at first');
      await waitFor(async () => (await store.tombstone(record.handle)) === undefined, 'gone after its TTL');
      t.equal(await store.get(record.handle), undefined, 'and the session stays gone');
    });

    t.test("removeBySub ends all of a user's sessions and no one else's", async (t) => {
      const store = await open(t);
      const alice = 'alice-' + randomToken(6);
      const bob = 'bob-' + randomToken(6);
      const a1 = makeRecord({ sub: alice, idpSid: 'sid-' + randomToken(6) });
      const a2 = makeRecord({ sub: alice });
      const b1 = makeRecord({ sub: bob });
      for (const r of [a1, a2, b1]) await store.create(r);
      const tombstones = await store.removeBySub(alice, 'revoked');
      t.strictSame(handles(tombstones), handles([a1, a2]), "exactly alice's sessions");
      for (const tombstone of tombstones) t.match(tombstone, { sub: alice, reason: 'revoked' });
      t.match(tombstones.find((x) => x.handle === a1.handle), { idpSid: a1.idpSid });
      t.equal(await store.get(a1.handle), undefined);
      t.equal(await store.get(a2.handle), undefined);
      t.ok(await store.tombstone(a2.handle));
      t.strictSame(await store.get(b1.handle), toSession(b1), "bob's session lives on");
      t.strictSame(await store.listBySub(alice), []);
      t.strictSame(await store.removeBySub(alice, 'revoked'), [], 'again: nothing left');
      t.strictSame(await store.removeBySub('nobody-' + randomToken(6), 'revoked'), []);
    });

    t.test('removeByIdpSid ends exactly the sessions with that sid', async (t) => {
      const store = await open(t);
      const sub = 'user-' + randomToken(6);
      const [sidX, sidY, sidZ] = ['x', 'y', 'z'].map((s) => `sid-${s}-${randomToken(6)}`) as [string, string, string];
      const s1 = makeRecord({ sub, idpSid: sidX });
      const s2 = makeRecord({ sub: 'other-' + randomToken(6), idpSid: sidX });
      const s3 = makeRecord({ sub, idpSid: sidY });
      const s4 = makeRecord({ sub });
      for (const r of [s1, s2, s3, s4]) await store.create(r);
      const tombstones = await store.removeByIdpSid(sidX, 'backchannel');
      t.strictSame(handles(tombstones), handles([s1, s2]));
      for (const tombstone of tombstones) t.match(tombstone, { idpSid: sidX, reason: 'backchannel' });
      t.equal(await store.get(s1.handle), undefined);
      t.equal(await store.get(s2.handle), undefined);
      t.ok(await store.get(s3.handle), 'another sid lives on');
      t.ok(await store.get(s4.handle), 'a session without sid lives on');
      t.strictSame(await store.removeByIdpSid('sid-unknown-' + randomToken(6), 'backchannel'), []);

      await store.update(s3.handle, (c) => ({ ...c, idpSid: sidZ }));
      t.strictSame(await store.removeByIdpSid(sidY, 'backchannel'), [], 'the index follows an update of the sid');
      t.strictSame(handles(await store.removeByIdpSid(sidZ, 'backchannel')), [s3.handle]);
      t.ok(await store.get(s4.handle));
    });

    t.test('listBySub lists the live sessions of one user, without tokens', async (t) => {
      const store = await open(t);
      const sub = 'user-' + randomToken(6);
      const r1 = makeRecord({ sub });
      const r2 = makeRecord({ sub });
      const other = makeRecord();
      for (const r of [r1, r2, other]) await store.create(r);
      const listed = await store.listBySub(sub);
      t.strictSame(handles(listed), handles([r1, r2]));
      t.strictSame(listed.find((s) => s.handle === r1.handle), toSession(r1));
      t.notOk(listed.some((s) => 'tokens' in s), 'no tokens');
      await store.remove(r1.handle, 'user');
      t.strictSame(handles(await store.listBySub(sub)), [r2.handle], 'a removed session is not listed');
      t.strictSame(await store.listBySub('nobody-' + randomToken(6)), []);
    });

    t.test('list() iterates every live session', async (t) => {
      const store = await open(t);
      const records = [makeRecord(), makeRecord(), makeRecord()];
      for (const r of records) await store.create(r);
      await store.remove(records[1]!.handle, 'operator');
      const seen = new Map<string, Session>();
      for await (const session of store.list()) seen.set(session.handle, session);
      t.strictSame(seen.get(records[0]!.handle), toSession(records[0]!));
      t.strictSame(seen.get(records[2]!.handle), toSession(records[2]!));
      t.notOk(seen.has(records[1]!.handle), 'a removed session is not listed');
      t.notOk([...seen.values()].some((s) => 'tokens' in s), 'no tokens');
    });

    t.test('touch sets lastSeenAt and never resurrects', async (t) => {
      const store = await open(t);
      const record = makeRecord();
      await store.create(record);
      const later = record.lastSeenAt + 5000;
      await store.touch(record.handle, later);
      t.equal((await store.load(record.handle))!.lastSeenAt, later, 'load sees the touch');
      await waitFor(async () => (await store.get(record.handle))?.lastSeenAt === later, 'get sees the touch');
      await store.remove(record.handle, 'logout');
      await store.touch(record.handle, later + 1000);
      t.equal(await store.get(record.handle), undefined, 'a touch after remove: get');
      t.equal(await store.load(record.handle), undefined, 'a touch after remove: load');
      t.match(await store.tombstone(record.handle), { reason: 'logout' }, 'the tombstone stays');
      const unknown = handleOf(newSessionId());
      await store.touch(unknown, Date.now());
      t.equal(await store.load(unknown), undefined, 'touching an unknown handle creates nothing');
    });

    t.test('touch slides the idle expiry', async (t) => {
      const idleTimeoutMs = 800;
      const store = await open(t, { idleTimeoutMs });
      const record = makeRecord();
      await store.create(record);
      const end = record.lastSeenAt + idleTimeoutMs * 1.5;
      while (Date.now() < end) {
        await store.touch(record.handle, Date.now());
        await pause(100);
      }
      t.ok(await store.load(record.handle), 'alive past the first idle deadline: load');
      t.ok(await store.get(record.handle), 'alive past the first idle deadline: get');
      await waitFor(async () => (await store.get(record.handle)) === undefined, 'expires once touches stop');
    });

    t.test('idle expiry ends a session', async (t) => {
      const idleTimeoutMs = 300;
      const store = await open(t, { idleTimeoutMs });
      const events = collect(t, store);
      const record = makeRecord();
      await store.create(record);
      t.ok(await store.get(record.handle), 'live at first');
      await waitFor(async () => (await store.get(record.handle)) === undefined, 'get stops returning it');
      t.ok(Date.now() - record.lastSeenAt >= idleTimeoutMs - 10, 'not before the idle timeout');
      t.equal(await store.load(record.handle), undefined, 'load too');
      t.strictSame(await store.listBySub(record.user.sub), []);
      await events.until((e) => e.kind === 'expired' && e.handle === record.handle);
      t.equal(await store.tombstone(record.handle), undefined, 'expiry leaves no tombstone');
      t.equal(await store.update(record.handle, (c) => c), undefined, 'update does not resurrect it');
    });

    t.test('absolute expiry ends a session', async (t) => {
      const store = await open(t);
      const events = collect(t, store);
      const record = makeRecord({ lifetimeMs: 300 });
      await store.create(record);
      t.ok(await store.get(record.handle), 'live at first');
      await waitFor(async () => (await store.get(record.handle)) === undefined, 'get stops returning it');
      t.ok(Date.now() >= record.expiresAt - 10, 'not before expiresAt');
      t.equal(await store.load(record.handle), undefined, 'load too');
      // the user is named, so the audit line of an expiry can say whose session it was
      await events.until((e) => e.kind === 'expired' && e.handle === record.handle && e.sub === record.user.sub);
    });

    t.test('leases are exclusive and pass on after their ttl', async (t) => {
      const store = await open(t);
      const name = 'refresh:' + randomToken(8);
      t.equal(await store.acquireLease(name, 'a', 10_000), true, 'a takes it');
      t.equal(await store.acquireLease(name, 'b', 10_000), false, 'b cannot while a holds it');
      t.equal(await store.acquireLease(name, 'a', 10_000), true, 'the holder may renew');
      await store.releaseLease(name, 'b');
      t.equal(await store.acquireLease(name, 'b', 10_000), false, 'only the holder releases');
      await store.releaseLease(name, 'a');
      const taken = Date.now();
      t.equal(await store.acquireLease(name, 'b', 300), true, 'free once released');
      t.equal(await store.acquireLease(name, 'a', 10_000), false);
      await waitFor(() => store.acquireLease(name, 'a', 10_000), 'passes on after the ttl');
      t.ok(Date.now() - taken >= 290, 'not before the ttl');
      t.equal(await store.acquireLease('other:' + randomToken(8), 'b', 10_000), true, 'leases are per name');
    });

    t.test('claimOnce: true the first time, false while the claim lasts, free again after its ttl', async (t) => {
      const store = await open(t);
      const name = `backchannel-logout\0https://idp.example\0${randomToken(8)}`;
      t.equal(await store.claimOnce(name, LONG), true, 'the first claim');
      t.equal(await store.claimOnce(name, LONG), false, 'a replay');
      t.equal(await store.claimOnce(name, 1), false, 'a shorter ttl does not free it');
      t.equal(await store.claimOnce(`${name}x`, LONG), true, 'claims are per name');
      const [first, second] = await Promise.all([store.claimOnce(`${name}y`, LONG), store.claimOnce(`${name}y`, LONG)]);
      t.ok(first !== second, 'of two at once, exactly one wins');
      const short = `short-${randomToken(8)}`;
      const taken = Date.now();
      t.equal(await store.claimOnce(short, 300), true);
      t.equal(await store.claimOnce(short, 300), false);
      await waitFor(() => store.claimOnce(short, 300), 'claimable again after its ttl');
      t.ok(Date.now() - taken >= 290, 'not before the ttl');
    });

    t.test('after removeByIdpSid with refuseNewForMs, a create with that sid is refused until it ends', async (t) => {
      const store = await open(t);
      const sub = 'user-' + randomToken(6);
      const sid = 'sid-' + randomToken(6);
      const live = makeRecord({ sub, idpSid: sid });
      await store.create(live);
      const ended = await store.removeByIdpSid(sid, 'backchannel', { refuseNewForMs: 500 });
      t.strictSame(handles(ended), [live.handle], 'the live session ended');
      const late = makeRecord({ sub, idpSid: sid });
      await t.rejects(store.create(late), IdpSessionEndedError, 'a login with the ended sid is refused');
      t.equal(await store.get(late.handle), undefined, 'and left nothing behind');
      t.equal(await store.load(late.handle), undefined);
      await store.create(makeRecord({ sub, idpSid: 'sid-' + randomToken(6) }));
      await store.create(makeRecord({ sub }));
      t.pass('the same user with another IdP session, or none, signs in');
      await waitFor(async () => {
        try {
          await store.create(makeRecord({ sub, idpSid: sid }));
          return true;
        } catch (error) {
          if (!(error instanceof IdpSessionEndedError)) throw error;
          return false;
        }
      }, 'the sid is usable again after the refusal ends');

      const plain = 'sid-' + randomToken(6);
      await store.removeByIdpSid(plain, 'backchannel');
      await store.create(makeRecord({ idpSid: plain }));
      t.pass('removeByIdpSid without refuseNewForMs refuses nothing later');
      const user = 'user-' + randomToken(6);
      await store.removeBySub(user, 'backchannel');
      await store.create(makeRecord({ sub: user, idpSid: 'sid-' + randomToken(6) }));
      t.pass('neither does removeBySub: a login after it is a new IdP session');
    });

    t.test('a create racing the end of its IdP sid never leaves a live session', async (t) => {
      const store = await open(t);
      let refused = 0;
      let ended = 0;
      for (let i = 0; i < 24; i++) {
        const sid = 'sid-' + randomToken(6);
        const record = makeRecord({ idpSid: sid });
        const created = store.create(record);
        // start the logout at a different point of the create each round
        const logout = (async () => {
          for (let k = 0; k < i % 8; k++) await new Promise((resolve) => setImmediate(resolve));
          if (i >= 16) await pause(i - 16);
          return store.removeByIdpSid(sid, 'backchannel', { refuseNewForMs: LONG });
        })();
        const [c, l] = await Promise.allSettled([created, logout]);
        t.equal(l.status, 'fulfilled', `round ${i}: the logout went through`);
        if (c.status === 'rejected') {
          t.type(c.reason, IdpSessionEndedError, `round ${i}: a refused create says why`);
          refused++;
        } else {
          // then the logout found it: it ended now, or ends the moment its record appears
          ended++;
        }
        t.equal(await store.get(record.handle), undefined, `round ${i}: no live session (get)`);
        t.equal(await store.load(record.handle), undefined, `round ${i}: no live session (load)`);
        t.strictSame(await store.listBySub(record.user.sub), [], `round ${i}: none listed`);
      }
      t.comment(`refused at create: ${refused}, ended after create: ${ended}`);
    });

    t.test('subscribers get a set event on create and update', async (t) => {
      const store = await open(t);
      const thrower = store.subscribe(() => {
        throw new Error('a broken listener');
      });
      t.teardown(thrower);
      const events = collect(t, store);
      const quiet: StoreEvent[] = [];
      store.subscribe((e) => quiet.push(e))();
      const record = makeRecord();
      await store.create(record);
      const created = await events.until((e) => e.kind === 'set' && e.session.handle === record.handle);
      t.strictSame(created, { kind: 'set', session: toSession(record) }, 'the session, without tokens');
      const updated = await store.update(record.handle, (c) => ({ ...c, refreshable: false }));
      const event = await events.until(
        (e) => e.kind === 'set' && e.session.handle === record.handle && e.session.version === updated!.version,
      );
      t.match(event, { session: { refreshable: false } });
      t.notOk(event.kind === 'set' && 'tokens' in event.session, 'no tokens in events');
      t.strictSame(quiet, [], 'an unsubscribed listener hears nothing');
    });
  });
}

function makeRecord(options: { sub?: string; idpSid?: string; handle?: string; lifetimeMs?: number } = {}): SessionRecord {
  const now = Date.now();
  const sub = options.sub ?? 'user-' + randomToken(6);
  const handle = options.handle ?? handleOf(newSessionId());
  const record: SessionRecord = {
    handle,
    user: {
      sub,
      email: `${sub}@example.com`,
      name: 'Test User',
      groups: ['eng'],
      claims: { sub, email_verified: true, nested: { list: [1, 2] } },
    },
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + (options.lifetimeMs ?? 3_600_000),
    accessTokenExpiresAt: now + 300_000,
    refreshable: true,
    version: 1,
    userAgent: 'store-contract',
    tokens: { accessToken: 'at-' + randomToken(8), refreshToken: 'rt-' + randomToken(8), idToken: 'id-' + randomToken(8), tokenType: 'Bearer' },
  };
  if (options.idpSid !== undefined) record.idpSid = options.idpSid;
  return record;
}

function handles(items: Array<{ handle: string }>): string[] {
  return items.map((i) => i.handle).sort();
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await pause(10);
  }
}

/** Records every event; `until` polls for one that matches, with a deadline. */
function collect(t: Test, store: SessionStore) {
  const events: StoreEvent[] = [];
  t.teardown(store.subscribe((event) => events.push(event)));
  return {
    events,
    async until(match: (event: StoreEvent) => boolean): Promise<StoreEvent> {
      let found: StoreEvent | undefined;
      await waitFor(() => (found = events.find(match)) !== undefined, 'a matching store event');
      return found!;
    },
  };
}
