import t from 'tap';
import { createSessionCookieCodec } from '../../../src/session/cookie-codec.js';
import { newSessionId } from '../../../src/session/ids.js';

const SECRET = 'a-cookie-secret-of-at-least-32-bytes!!';
const NOW = 1_700_000_123_456;
const clock = { now: () => NOW };
const codec = createSessionCookieCodec(SECRET, { clock });

t.test('round trip', async (t) => {
  const id = newSessionId();
  const value = codec.encode(id, NOW);
  t.match(value, /^v1\.[A-Za-z0-9_-]{43}\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
  t.strictSame(codec.decode(value), { id, issuedAt: Math.floor(NOW / 1000) * 1000 }, 'issuedAt in whole seconds, as ms');
  t.strictSame(createSessionCookieCodec(SECRET, { clock }).decode(value), codec.decode(value), 'another instance, same secret');
  t.ok(value.length < 100, 'small enough for a cookie');
  t.strictSame(codec.decode(codec.encode(id, 0)), { id, issuedAt: 0 });
});

t.test('tampering with any part is refused', async (t) => {
  const id = newSessionId();
  const value = codec.encode(id, NOW);
  const [version, idPart, ts, mac] = value.split('.') as [string, string, string, string];
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const cases: Array<[string, string]> = [
    ['version', ['v2', idPart, ts, mac].join('.')],
    ['id, first char', [version, flip(idPart, 0), ts, mac].join('.')],
    ['id, another session', [version, newSessionId(), ts, mac].join('.')],
    ['issuedAt, earlier', [version, idPart, (Number.parseInt(ts, 36) - 1).toString(36), mac].join('.')],
    ['issuedAt, upper case', [version, idPart, ts.toUpperCase(), mac].join('.')],
    ['mac, first char', [version, idPart, ts, flip(mac, 0)].join('.')],
    ['mac, non-canonical last char', [version, idPart, ts, mac.slice(0, 42) + String.fromCharCode(mac.charCodeAt(42) + 1)].join('.')],
    ['mac, from another value', [version, idPart, ts, codec.encode(newSessionId(), NOW).split('.')[3]!].join('.')],
  ];
  for (const [name, tampered] of cases) {
    t.not(tampered, value, `${name}: really changed`);
    t.equal(codec.decode(tampered), undefined, name);
  }
});

t.test('a different secret does not verify', async (t) => {
  const other = createSessionCookieCodec(SECRET.replace('a', 'b'), { clock });
  t.equal(other.decode(codec.encode(newSessionId(), NOW)), undefined);
});

t.test('garbage is refused without throwing', async (t) => {
  const value = codec.encode(newSessionId(), NOW);
  const garbage: unknown[] = [
    '',
    'v1',
    'v1...',
    'v1.' + '.'.repeat(95),
    value + '.',
    value.replace(/\./g, ','),
    value.slice(0, -1),
    value + 'A',
    value.replace('.', '..'),
    'x'.repeat(value.length),
    value.replace(/^v1/, 'V1'),
    '\u0000'.repeat(98),
    'é'.repeat(98),
    value.slice(0, 47) + '.' + value.slice(47),
    value.slice(0, 47) + '-' + value.slice(48),
    value.slice(0, 47) + 'zzzzzzzzz' + value.slice(value.length - 44),
    undefined,
    null,
    42,
    {},
  ];
  for (const input of garbage) {
    t.equal(codec.decode(input as string), undefined, JSON.stringify(input)?.slice(0, 40) ?? String(input));
  }
});

t.test('huge input is refused by its length', async (t) => {
  const huge = 'v1.' + 'A'.repeat(10_000_000);
  t.equal(codec.decode(huge), undefined);
});

t.test('issuedAt in the future is refused beyond the allowed skew', async (t) => {
  const id = newSessionId();
  t.ok(codec.decode(codec.encode(id, NOW + 59_000)), 'within 60s of skew');
  t.equal(codec.decode(codec.encode(id, NOW + 61_000)), undefined, 'too far ahead');
  const strict = createSessionCookieCodec(SECRET, { clock, maxClockSkewMs: 0 });
  t.equal(strict.decode(strict.encode(id, NOW + 1000)), undefined);
  t.ok(strict.decode(strict.encode(id, NOW)));
});

t.test('encode and the factory check their inputs', async (t) => {
  t.throws(() => createSessionCookieCodec('too short'), /cookie\.secret: must be at least 32 bytes/);
  t.throws(() => codec.encode('not-an-id', NOW), TypeError);
  t.throws(() => codec.encode(newSessionId(), Number.NaN), RangeError);
  t.throws(() => codec.encode(newSessionId(), -1), RangeError);
  const error = t.throws(() => createSessionCookieCodec('s3cr3t-but-short')) as Error;
  t.notMatch(error.message, /s3cr3t/, 'the secret is not in the message');
});
