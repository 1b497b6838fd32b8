import t from 'tap';
import { createDueHeap } from '../../../src/refresh/heap.js';

/** A small seeded PRNG (mulberry32) so a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('empty heap', async (t) => {
  const heap = createDueHeap<number>();
  t.equal(heap.size(), 0);
  t.equal(heap.peek(), undefined);
  t.equal(heap.pop(), undefined);
  t.equal(heap.delete('x'), false);
  t.equal(heap.get('x'), undefined);
});

t.test('schedule, reschedule earlier and later, cancel', async (t) => {
  const heap = createDueHeap<string>();
  heap.set('a', 30, 'A');
  heap.set('b', 10, 'B');
  heap.set('c', 20, 'C');
  t.same(heap.peek(), { key: 'b', due: 10, value: 'B' });
  heap.set('a', 5, 'A2');
  t.same(heap.peek(), { key: 'a', due: 5, value: 'A2' });
  heap.set('a', 50, 'A3');
  t.equal(heap.peek()?.key, 'b');
  t.equal(heap.delete('b'), true);
  t.equal(heap.has('b'), false);
  t.same([heap.pop()?.key, heap.pop()?.key, heap.pop()], ['c', 'a', undefined]);
  t.equal(heap.size(), 0);
});

t.test('random operations agree with a sorted array', async (t) => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const random = seeded(seed);
    const heap = createDueHeap<number>();
    const model = new Map<string, { due: number; value: number }>();
    const minDue = (): number | undefined => {
      const sorted = [...model.values()].map((e) => e.due).sort((a, b) => a - b);
      return sorted[0];
    };
    let mismatches = 0;
    for (let op = 0; op < 4000; op++) {
      const key = `k${Math.floor(random() * 200)}`;
      const r = random();
      if (r < 0.5) {
        // schedule or reschedule; small due range makes ties common
        const due = Math.floor(random() * 500);
        heap.set(key, due, op);
        model.set(key, { due, value: op });
      } else if (r < 0.7) {
        if (heap.delete(key) !== model.delete(key)) mismatches++;
      } else if (r < 0.9) {
        const popped = heap.pop();
        const expected = minDue();
        if (popped?.due !== expected) mismatches++;
        if (popped) {
          const m = model.get(popped.key);
          if (!m || m.due !== popped.due || m.value !== popped.value) mismatches++;
          model.delete(popped.key);
        }
      } else {
        const entry = heap.get(key);
        const m = model.get(key);
        if (entry?.due !== m?.due || entry?.value !== m?.value) mismatches++;
      }
      if (heap.size() !== model.size || heap.peek()?.due !== minDue()) mismatches++;
    }
    t.equal(mismatches, 0, `seed ${seed}: no disagreement`);
    t.same([...heap.keys()].sort(), [...model.keys()].sort(), `seed ${seed}: same keys`);
    // draining yields every remaining entry in due order
    const drained: number[] = [];
    for (let e = heap.pop(); e; e = heap.pop()) drained.push(e.due);
    t.same(drained, [...model.values()].map((e) => e.due).sort((a, b) => a - b), `seed ${seed}: drains sorted`);
  }
});

t.test('clear empties it', async (t) => {
  const heap = createDueHeap<null>();
  for (let i = 0; i < 10; i++) heap.set(`k${i}`, i, null);
  heap.clear();
  t.equal(heap.size(), 0);
  t.equal(heap.has('k1'), false);
  heap.set('k1', 1, null);
  t.equal(heap.peek()?.key, 'k1');
});
