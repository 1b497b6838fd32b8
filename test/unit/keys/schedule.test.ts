import t from 'tap';
import { planKeys } from '../../../src/keys/schedule.js';

/** The key schedule as plain numbers: publish_ahead 100, retire_after (ttl + margin) 50. */
const RETIRE = 50;
const key = (kid: string, createdAt: number, activatesAt: number) => ({ kid, createdAt, activatesAt });
const kids = (keys: readonly { kid: string }[]) => keys.map((k) => k.kid);

t.test('no keys: nothing signs, nothing is published', async (t) => {
  const plan = planKeys([], 1000, RETIRE);
  t.equal(plan.signing, undefined);
  t.same(plan.published, []);
  t.equal(plan.nextChangeAt, Infinity);
});

t.test('a rotation from A to B, moment by moment', async (t) => {
  const a = key('A', 0, 0);
  const b = key('B', 1000, 1100); // created at 1000, signs from 1100
  const cases: [number, string | undefined, string[], string[], number][] = [
    // now, signing, published (newest first), retired, next change
    [999, 'A', ['A'], [], Infinity],
    [1000, 'A', ['B', 'A'], [], 1100], // B is published the moment it exists, A still signs
    [1099, 'A', ['B', 'A'], [], 1100],
    [1100, 'B', ['B', 'A'], [], 1150], // B signs; A stays published for its last assertions
    [1149, 'B', ['B', 'A'], [], 1150],
    [1150, 'B', ['B'], ['A'], Infinity], // A's last assertion has expired (plus margin)
  ];
  for (const [now, signing, published, retired, next] of cases) {
    const visible = [a, ...(now >= b.createdAt ? [b] : [])];
    const plan = planKeys(visible, now, RETIRE);
    t.equal(plan.signing?.kid, signing, `t=${now}: signing`);
    t.same(kids(plan.published), published, `t=${now}: published`);
    t.same(kids(plan.retired), retired, `t=${now}: retired`);
    t.equal(plan.nextChangeAt, next, `t=${now}: next change`);
  }
});

t.test('several keys: each retires after its own successor activated; order does not depend on input order', async (t) => {
  const keys = [key('C', 2000, 2100), key('A', 0, 0), key('B', 1000, 1100), key('D', 3000, 3100)];
  const plan = planKeys(keys, 2120, RETIRE);
  t.equal(plan.signing?.kid, 'C');
  t.same(kids(plan.published), ['D', 'C', 'B'], 'D pending, C signing, B retiring until 2150');
  t.same(kids(plan.retired), ['A']);
  t.equal(plan.nextChangeAt, 2150);
});

t.test('only pending keys (rotate-keys before any gateway): nothing signs yet', async (t) => {
  const plan = planKeys([key('P', 0, 500)], 100, RETIRE);
  t.equal(plan.signing, undefined);
  t.same(kids(plan.published), ['P']);
  t.equal(plan.nextChangeAt, 500);
});

t.test('ties on activatesAt are broken the same way on every replica', async (t) => {
  const x = key('x', 10, 100);
  const y = key('y', 20, 100);
  t.equal(planKeys([x, y], 100, RETIRE).signing?.kid, 'y');
  t.equal(planKeys([y, x], 100, RETIRE).signing?.kid, 'y');
});
