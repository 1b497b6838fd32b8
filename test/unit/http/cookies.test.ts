import fc from 'fast-check';
import t from 'tap';
import { createCookieNamespace, parseCookies, readCookie, stripCookies } from '../../../src/http/cookies.js';
import { checkProperty, fuzzSeed, runs } from '../../fuzz/harness.js';

/**
 * readCookie and stripCookies are written as loops for the request path; these properties hold
 * them to the plain definitions (the map's value, and split/filter/join), on headers built from
 * the characters that matter to the parse: separators, quotes, spaces and near-miss names.
 */
const seed = fuzzSeed();
t.comment(`FUZZ_SEED=${seed}`);

// whitespace beyond ASCII too: both sides must trim exactly what String.prototype.trim trims
const piece = fc.constantFrom(';', '=', ',', ' ', '\t', '\n', '\u00a0', '\ufeff', '"', 'a', 'b', '_portcullis', '_portcullis_tx', '_portcullisx', 'v1.x', '');
const header = fc.array(piece, { maxLength: 40 }).map((parts) => parts.join(''));
const name = fc.constantFrom('_portcullis', 'a', 'b', '_portcullis_tx', '');

function stripByDefinition(value: string, drop: (name: string) => boolean): string | undefined {
  const kept = value
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part && !part.split(',').some((p) => drop((p.indexOf('=') === -1 ? p : p.slice(0, p.indexOf('='))).trim())));
  return kept.length ? kept.join('; ') : undefined;
}

t.test('readCookie gives what parseCookies gives for that name', async (t) => {
  await checkProperty(t, 'readCookie = parseCookies().get', fc.property(header, name, (h, n) => readCookie(h, n) === parseCookies(h).get(n)), { seed, numRuns: runs(5000) });
  t.equal(readCookie('a=1; _portcullis="v"; _portcullis=w', '_portcullis'), 'v', 'the first pair wins, quotes dropped');
  t.equal(readCookie('=_portcullis=x; _portcullis=y', '_portcullis'), 'y', 'a nameless pair is no cookie');
  t.equal(readCookie(' _portcullis = spaced ', '_portcullis'), 'spaced');
  t.equal(readCookie('_portcullisx=1', '_portcullis'), undefined);
  t.equal(readCookie(undefined, '_portcullis'), undefined);
  t.equal(readCookie(' =x', ''), undefined, 'no cookie has an empty name');
  t.equal(readCookie(`_portcullis=${'x'.repeat(17 * 1024)}`, '_portcullis'), undefined, 'an oversized header is not read');
});

t.test('readCookie on a header of thousands of empty or nameless pairs', async (t) => {
  t.equal(readCookie(`${';'.repeat(16 * 1024 - 20)}_portcullis=value`, '_portcullis'), 'value');
  t.equal(readCookie(`${'a;'.repeat(8 * 1024 - 20)}=x`, '_portcullis'), undefined);
  t.equal(readCookie(`${'=a;'.repeat(5000)}_portcullis=v`, '_portcullis'), 'v');
});

t.test('stripCookies keeps exactly what its definition keeps', async (t) => {
  const drop = createCookieNamespace('_portcullis');
  await checkProperty(t, 'stripCookies = split/filter/join', fc.property(header, (h) => stripCookies(h, drop) === stripByDefinition(h, drop)), { seed: seed + 1, numRuns: runs(5000) });
  t.equal(stripCookies('a=1; _portcullis=x;  b=2 ', drop), 'a=1; b=2');
  t.equal(stripCookies('a=1, _portcullis=x; b=2', drop), 'b=2', 'a comma-joined pair naming the gateway cookie goes whole');
  t.equal(stripCookies('_portcullis=x; _portcullis_tx=y', drop), undefined);
});
