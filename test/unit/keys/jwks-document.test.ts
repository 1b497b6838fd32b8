import t from 'tap';
import { buildJwks, etagMatches } from '../../../src/keys/jwks-document.js';
import { generateStoredKey } from '../../../src/keys/key-material.js';

t.test('the JWKS carries public members only, and its ETag follows the key set', async (t) => {
  const a = await generateStoredKey(0, 0);
  const b = await generateStoredKey(1, 1);
  const one = buildJwks([a]);
  const body = JSON.parse(one.body) as { keys: Record<string, unknown>[] };
  t.equal(body.keys.length, 1);
  t.same(Object.keys(body.keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  t.match(body.keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: a.kid });
  t.notOk(one.body.includes('"d"'), 'never the private scalar');
  t.ok(a.privateJwk?.d, 'the stored key does have one');

  t.equal(buildJwks([a]).etag, one.etag, 'same keys, same ETag (every replica agrees)');
  const two = buildJwks([b, a]);
  t.not(two.etag, one.etag, 'another key, another ETag');
  t.match(one.etag, /^"[A-Za-z0-9_-]+"$/, 'a strong ETag');
  t.same(two.kids, [b.kid, a.kid]);
});

t.test('If-None-Match', async (t) => {
  const etag = '"abc"';
  t.ok(etagMatches('"abc"', etag));
  t.ok(etagMatches('W/"abc"', etag), 'weak comparison');
  t.ok(etagMatches('"x", "abc"', etag), 'a list');
  t.ok(etagMatches('*', etag));
  t.notOk(etagMatches('"abd"', etag));
  t.notOk(etagMatches(undefined, etag));
  t.notOk(etagMatches('', etag));
});
