import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ConfigError } from '../../../src/errors.js';
import {
  createTokenCipher,
  tokenKeyFromCookieSecret,
  tokenKeyFromMaterial,
  tokenKeyMaterial,
} from '../../../src/session/token-crypto.js';

const tokens = { accessToken: 'at-secret-123', refreshToken: 'rt-secret-456', idToken: 'id.tok.en', tokenType: 'Bearer' };

t.test('seal then open returns the tokens, and the sealed text holds none of them', async (t) => {
  const cipher = createTokenCipher(randomBytes(32).toString('base64url'));
  const sealed = cipher.seal(tokens, 'handle-1');
  t.match(sealed, /^v1\.[A-Za-z0-9_-]+$/);
  for (const value of Object.values(tokens)) t.notOk(sealed.includes(value), `no plaintext ${value}`);
  t.same(cipher.open(sealed, 'handle-1'), tokens);
});

t.test('a random IV per seal: the same tokens seal differently', async (t) => {
  const cipher = createTokenCipher('x'.repeat(40));
  t.not(cipher.seal(tokens, 'h'), cipher.seal(tokens, 'h'));
});

t.test('the handle is authenticated: a record moved to another handle does not open', async (t) => {
  const cipher = createTokenCipher('a passphrase that is long enough!!');
  const sealed = cipher.seal(tokens, 'handle-1');
  t.equal(cipher.open(sealed, 'handle-2'), undefined);
});

t.test('another key, tampering, truncation and garbage all open to undefined', async (t) => {
  const a = createTokenCipher(randomBytes(32).toString('base64'));
  const b = createTokenCipher(randomBytes(32).toString('base64'));
  const sealed = a.seal(tokens, 'h');
  t.equal(b.open(sealed, 'h'), undefined, 'other key');
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  raw[20] = raw[20]! ^ 1;
  t.equal(a.open(`v1.${raw.toString('base64url')}`, 'h'), undefined, 'flipped bit');
  t.equal(a.open(sealed.slice(0, 20), 'h'), undefined, 'truncated');
  t.equal(a.open('v2.abc', 'h'), undefined, 'unknown version');
  t.equal(a.open('', 'h'), undefined, 'empty');
  t.equal(a.open('v1.!!!', 'h'), undefined, 'not base64url');
});

t.test('key material forms', async (t) => {
  const bytes = randomBytes(32);
  t.same(tokenKeyFromMaterial(bytes.toString('base64')), bytes, 'base64 with padding is used as is');
  t.same(tokenKeyFromMaterial(bytes.toString('base64url')), bytes, 'base64url is used as is');
  const stretched = tokenKeyFromMaterial('p'.repeat(32));
  t.equal(stretched.length, 32, 'a 32-char passphrase goes through HKDF');
  t.notSame(stretched, Buffer.from('p'.repeat(32)));
  t.same(tokenKeyFromMaterial('p'.repeat(32)), stretched, 'deterministic');
  t.throws(() => tokenKeyFromMaterial('short'), ConfigError);
  try {
    tokenKeyFromMaterial('short');
  } catch (error) {
    t.match((error as ConfigError).issues, [{ path: 'session.encryption_key' }], 'names the config key');
    t.notOk((error as Error).message.includes('short'), 'does not echo the secret');
  }
});

t.test('without encryption_key the key derives from cookie.secret under its own purpose', async (t) => {
  const secret = 'c'.repeat(48);
  const derived = tokenKeyFromCookieSecret(secret);
  t.equal(Buffer.from(derived, 'base64url').length, 32);
  t.not(derived, secret);
  t.notSame(tokenKeyFromMaterial(derived), tokenKeyFromMaterial(secret), 'not the key the secret itself would give');
  t.equal(tokenKeyMaterial(undefined, secret), derived);
  t.equal(tokenKeyMaterial('k'.repeat(32), secret), 'k'.repeat(32));
  const cipher = createTokenCipher(tokenKeyMaterial(undefined, secret));
  t.same(cipher.open(createTokenCipher(derived).seal(tokens, 'h'), 'h'), tokens);
});

t.test('tokens without optional fields survive; a non-token payload does not', async (t) => {
  const cipher = createTokenCipher('z'.repeat(32));
  t.same(cipher.open(cipher.seal({ accessToken: 'a' }, 'h'), 'h'), { accessToken: 'a' });
  const sealedGarbage = cipher.seal({ nope: true } as unknown as { accessToken: string }, 'h');
  t.equal(cipher.open(sealedGarbage, 'h'), undefined);
});
