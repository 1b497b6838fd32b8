import t from 'tap';
import { restartNeeded } from '../../../src/config/reload-diff.js';
import { attempt, baseConfig } from './helpers.js';

/** session.redis.mirror_max_sessions: absent (every session mirrored) or a positive integer. */
function withBound(value: unknown) {
  const raw = baseConfig();
  raw.session = { store: 'redis', redis: value === undefined ? {} : { mirror_max_sessions: value } };
  return attempt(raw);
}

t.test('absent by default: the mirror holds every session', async (t) => {
  const { config, issues } = withBound(undefined);
  t.strictSame(issues, []);
  t.equal(config?.session.redis.mirror_max_sessions, undefined);
});

t.test('a positive integer bounds the mirror', async (t) => {
  const { config, issues } = withBound(100_000);
  t.strictSame(issues, []);
  t.equal(config?.session.redis.mirror_max_sessions, 100_000);
});

t.test('junk is a config error naming the key', async (t) => {
  for (const junk of [0, -5, 1.5, 'lots', true, null]) {
    const { config, issues } = withBound(junk);
    t.equal(config, undefined, `${JSON.stringify(junk)} is refused`);
    t.equal(issues.length, 1, JSON.stringify(issues));
    t.match(issues[0], /^session\.redis\.mirror_max_sessions: /, `${JSON.stringify(junk)}: ${issues[0]}`);
  }
});

t.test('changing it needs a restart (the mirror and the scheduler are built at start)', async (t) => {
  const before = withBound(undefined).config!;
  const after = withBound(1000).config!;
  t.strictSame(restartNeeded(before, after), ['session.redis.mirror_max_sessions']);
});
