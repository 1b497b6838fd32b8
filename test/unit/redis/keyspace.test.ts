import t from 'tap';
import { mergeKeyspaceFlags, missingKeyspaceFlags } from '../../../src/redis/keyspace.js';
import { createRedisKeys, escapeGlob, isValidHandle } from '../../../src/session/redis-keys.js';

t.test('keyspace flags: what is missing, merged without dropping an operator flag', async (t) => {
  const cases: [string, string[], string][] = [
    ['', ['K', 'g', '$', 'x'], 'Kg$x'],
    ['AKE', [], 'AKE'],
    ['KA', [], 'KA'],
    ['Ex', ['K', 'g', '$'], 'ExKg$'],
    ['Kg$', ['x'], 'Kg$x'],
    ['Elh', ['K', 'g', '$', 'x'], 'ElhKg$x'],
    ['g$xK', [], 'g$xK'],
  ];
  for (const [flags, missing, merged] of cases) {
    t.same(missingKeyspaceFlags(flags), missing, `missing in "${flags}"`);
    t.equal(mergeKeyspaceFlags(flags), merged, `merged "${flags}"`);
    for (const c of flags) t.ok(mergeKeyspaceFlags(flags).includes(c), `keeps ${c}`);
  }
});

t.test('key layout: record and tombstone share the hash tag {handle}', async (t) => {
  const keys = createRedisKeys('pc:');
  t.equal(keys.session('abc'), 'pc:s:{abc}');
  t.equal(keys.tombstone('abc'), 'pc:t:{abc}');
  t.match(keys.bySub('user@x'), /^pc:u:[A-Za-z0-9_-]{43}$/);
  t.match(keys.byIdpSid('sid'), /^pc:i:[A-Za-z0-9_-]{43}$/);
  t.not(keys.bySub('a'), keys.byIdpSid('a'));
  t.equal(keys.sessionPattern, 'pc:s:{*');
  t.same(keys.classify('pc:s:{abc}'), { kind: 'session', handle: 'abc' });
  t.same(keys.classify('pc:t:{abc}'), { kind: 'tombstone', handle: 'abc' });
  t.same(keys.classify('pc:l:abc'), { kind: 'other' });
  t.same(keys.classify('other:s:{abc}'), { kind: 'other' });
  t.same(keys.classify('pc:s:{a b}'), { kind: 'other' });
  t.equal(escapeGlob('a*b?[c]\\'), 'a\\*b\\?\\[c\\]\\\\');
  t.equal(createRedisKeys('p*[x]:').sessionPattern, 'p\\*\\[x\\]:s:{*');
  t.ok(isValidHandle('Ab-_09'));
  t.notOk(isValidHandle(''));
  t.notOk(isValidHandle('a{b}'));
  t.notOk(isValidHandle('x'.repeat(129)));
});
