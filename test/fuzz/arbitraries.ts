import fc from 'fast-check';

/**
 * Generators for hostile HTTP input. Each mixes a vocabulary of known tricks (the spellings that
 * past path-confusion and header-smuggling bugs used) with fast-check's own random strings, so
 * shrinking lands on a readable counterexample.
 */

/** Path segments and fragments of them that parsers disagree about. */
const TRICK_SEGMENTS = [
  'docs', 'secret', 'admin', 'Admin', 'ADMIN', 'aDmIn', 'DOCS', 'Docs', 'SECRET', 'Secret', 'k', 'x', 'public',
  '.', '..', '...', '%2e', '%2E', '%2e%2e', '.%2e', '%2e.', '%2E%2E',
  '%2f', '%2F', '%5c', '%5C', '\\', '%252f', '%25', '%',  '%zz', '%0', '%00', '%0a', '%0d', '%09', '%20',
  ';', ';x', ';x=1', ';jsessionid=abc', 'docs;x', 'admin;', 'secret;a=b', '..;', '.;', '..;x', '%3b', '%3B', 'admin%3bx',
  '#', '#x', '#/../admin', '%23', '?', '?a=b', '?rd=/admin', '%3f', '%3F',
  '%61dmin', '%41DMIN', '%61%64%6d%69%6e', '%64ocs', 's%65cret', '%73ECRET', 'adm%69n', '%7e', '~', 'admin~',
  'admin.', 'admin ', 'ａdmin', '%c0%ae', '%c0%af', '%ef%bc%8f', 'é', '%e9', '%C3%A9',
  '*', '@', ':', 'http:', 'a:b', '.portcullis', '.well-known', 'portcullis', 'login', 'callback',
  'x'.repeat(200),
];

const SEPARATORS = ['/', '/', '/', '/', '//', '///', '', '\\', '/./', '/../', ';/', '%2f'];

const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TRICK_SEGMENTS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);

/** ASCII case noise, as a case-insensitive upstream would not notice it. */
function flipCase(text: string, mask: number): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    out += (mask >> i % 31) & 1 ? ch.toUpperCase() : ch;
  }
  return out;
}

/** A request target: '/' + segments joined by (mostly) slashes, optional query and fragment. */
export const requestTarget: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom(...SEPARATORS), segment), { minLength: 0, maxLength: 8 }),
    fc.option(fc.constantFrom('?a=1', '?x=/admin', '?%2e%2e', '?', '#frag', '#', '?a=1#b', '?a#/admin'), { nil: '' }),
    fc.option(fc.nat(), { nil: undefined }),
    fc.constantFrom('/', '/', '/', '//', '', '\\', '/docs/', '/admin', '/docs;a/secret/'),
  )
  .map(([parts, tail, mask, lead]) => {
    const target = lead + parts.map(([sep, seg], i) => (i === 0 && lead.endsWith('/') ? '' : sep) + seg).join('') + tail;
    return mask === undefined ? target : flipCase(target, mask);
  })
  // CR/LF would end the request line: that is header fuzzing (headers.test.ts), not a target
  .map((target) => target.replace(/[\r\n]/g, ''));

/** Header names the gateway sets, strips or trusts, in the spellings that slip past naive filters. */
const TRICK_HEADER_NAMES = [
  'X-Portcullis-User', 'X-Portcullis-Email', 'X-Portcullis-Groups', 'X-Portcullis-Jwt-Assertion', 'X-Portcullis-Anything',
  'X_Portcullis_User', 'x_portcullis_groups', 'X_PORTCULLIS_EMAIL', 'x-portcullis_jwt_assertion', 'X-Portcullis_User',
  'X-Forwarded-For', 'x_forwarded_for', 'X-Forwarded-Host', 'X_Forwarded_Host', 'X-Forwarded-Proto', 'x_forwarded_proto',
  'X-Forwarded-Uri', 'X-Forwarded-Method', 'X-Original-URL', 'X-Original-Method', 'X-Rewrite-URL', 'X-Real-IP', 'X_Real_IP',
  'Forwarded', 'X-Request-Id', 'x_request_id', 'Host', 'Cookie', 'Connection', 'Keep-Alive', 'Upgrade', 'TE', 'Trailer',
  'Proxy-Authorization', 'Authorization', 'Accept', 'Expect', 'Via', 'X-HTTP-Method-Override', 'Sec-Fetch-Site', 'Origin',
];

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

export const headerName: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...TRICK_HEADER_NAMES) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 20 }) },
  // not a token at all: spaces, colons, controls, non-ASCII (the parser must refuse, not crash)
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }) },
);

export const headerValue: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'mallory', 'admins', 'forged.jwt.value', '6.6.6.6', 'evil.example', 'https', '/admin', 'http://evil.example/admin',
      'close', 'keep-alive, x-portcullis-user', 'upgrade', 'websocket', 'chunked', '100-continue', 'text/html', '',
      '_portcullis=forged', 'for=6.6.6.6;host=evil.example;proto=https', ' leading', 'trailing ', 'a, b, c',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);
