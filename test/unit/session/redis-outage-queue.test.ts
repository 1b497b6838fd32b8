import t from 'tap';
import { createOutageQueue, type OutageQueue, type QueuedWrite } from '../../../src/session/redis-outage-queue.js';

/** The outage queue: bounded, de-duplicated per handle / user / IdP session, junk evicted first. */
const tombstone = (n: number, at = n): QueuedWrite => ({
  kind: 'tombstone',
  tombstone: { handle: `h${n}`, sub: `u${n}`, reason: 'logout', at },
});
const bySid = (sid: string, at: number, endedHere = false, refuseUntil?: number): QueuedWrite => ({
  kind: 'removeByIdpSid',
  idpSid: sid,
  reason: 'backchannel',
  at,
  endedHere,
  ...(refuseUntil === undefined ? {} : { refuseUntil }),
});
const bySub = (sub: string, at: number, endedHere = false): QueuedWrite => ({ kind: 'removeBySub', sub, reason: 'operator', at, endedHere });

function drain(queue: OutageQueue): QueuedWrite[] {
  const out: QueuedWrite[] = [];
  for (let entry = queue.peek(); entry !== undefined; entry = queue.peek()) {
    out.push(entry);
    queue.done(entry);
  }
  return out;
}

t.test('keeps the order of arrival and drops the oldest beyond its limit', async (t) => {
  const queue = createOutageQueue(3);
  t.equal(queue.push(tombstone(1)), undefined);
  queue.push(tombstone(2));
  queue.push(tombstone(3));
  t.same(queue.push(tombstone(4)), tombstone(1), 'the oldest is dropped and returned');
  t.equal(queue.size, 3);
  t.same(drain(queue), [tombstone(2), tombstone(3), tombstone(4)]);
  t.equal(queue.peek(), undefined);
  t.equal(queue.size, 0);
  const big = createOutageQueue(10);
  for (let i = 0; i < 5000; i++) big.push(tombstone(i));
  t.equal(big.size, 10);
  t.same(big.peek(), tombstone(4990));
  t.throws(() => createOutageQueue(0));
  t.throws(() => createOutageQueue(1.5));
});

t.test('one entry per handle: a repeated deletion of a session does not grow the queue', async (t) => {
  const queue = createOutageQueue(2);
  queue.push(tombstone(1, 100));
  const dropped = Array.from({ length: 1000 }, (_, i) => queue.push(tombstone(1, 200 + i))).filter(Boolean);
  t.same(dropped, [], 'nothing dropped');
  queue.push(tombstone(2));
  t.equal(queue.size, 2);
  t.same(drain(queue), [tombstone(1, 100), tombstone(2)], 'the first tombstone stands, in its place');
});

t.test('by-user and by-sid deletions merge: the latest time, the longest refusal, ended-here sticks', async (t) => {
  const queue = createOutageQueue(10);
  queue.push(bySid('s1', 10, true, 5000));
  queue.push(tombstone(1));
  queue.push(bySid('s1', 20, false, 3000));
  queue.push(bySub('alice', 30));
  queue.push(bySub('alice', 40));
  t.equal(queue.size, 3);
  t.same(drain(queue), [tombstone(1), bySid('s1', 20, true, 5000), bySub('alice', 40)], 'a merged entry moves back');
});

t.test('when full, deletions that ended nothing here go first; a real logout is never pushed out by them', async (t) => {
  const queue = createOutageQueue(3);
  queue.push(tombstone(1));
  queue.push(bySid('junk-0', 1));
  queue.push(bySid('real', 2, true));
  const dropped: QueuedWrite[] = [];
  for (let i = 1; i <= 5000; i++) {
    const out = queue.push(bySid(`junk-${i}`, 2 + i));
    if (out) dropped.push(out);
  }
  t.equal(queue.size, 3);
  t.equal(dropped.length, 5000);
  t.ok(dropped.every((d) => d.kind === 'removeByIdpSid' && !d.endedHere), 'only deletions that ended nothing here were dropped');
  t.same(drain(queue), [tombstone(1), bySid('real', 2, true), bySid('junk-5000', 5002)], 'written oldest first');

  const full = createOutageQueue(2);
  full.push(tombstone(1));
  full.push(bySub('bob', 2, true));
  t.same(full.push(tombstone(3)), tombstone(1), 'with nothing lesser queued, the oldest real one goes');
});

t.test('done() after a merge keeps the newer entry queued', async (t) => {
  const queue = createOutageQueue(5);
  queue.push(bySid('s', 1, true));
  const first = queue.peek()!;
  queue.push(bySid('s', 2));
  queue.done(first);
  t.same(drain(queue), [bySid('s', 2, true)], 'written again later (deletions are idempotent)');
});
