import t from 'tap';
import { canonicalPathPrefix, normalizePath, pathHasPrefix } from '../../../src/lib/path.js';

t.test('normalizePath: canonical forms', async (t) => {
  const cases: Array<[input: string, expected: string]> = [
    ['/', '/'],
    ['/admin', '/admin'],
    ['/a/../admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['//admin', '/admin'],
    ['/./admin', '/admin'],
    ['/a/./b', '/a/b'],
    ['/a/b/../../admin', '/admin'],
    ['/../admin', '/admin'],
    ['/../../..', '/'],
    ['/..', '/'],
    ['/.', '/'],
    ['//', '/'],
    ['///a///b', '/a/b'],
    ['/a/', '/a/'],
    ['/a//', '/a/'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/b/../', '/a/'],
    ['/%2e%2e/admin', '/admin'],
    ['/%2E%2E/%2e/admin', '/admin'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/%41%5a%30%2D%5F%7E', '/AZ0-_~'],
    ['/a%20b', '/a%20b'],
    ['/a%2ab', '/a%2Ab'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/%25', '/%25'],
    ['/%252e%252e/x', '/%252e%252e/x'], // double-encoded stays literal
    ['/.well-known/jwks.json', '/.well-known/jwks.json'],
    ['/a/.hidden/..', '/a/'],
    ['/a/b;c', '/a/b;c'],
    ['/app/;jsessionid=ABC', '/app/;jsessionid=ABC'],
  ];
  for (const [input, expected] of cases) t.equal(normalizePath(input), expected, input);
});

t.test('normalizePath: refused inputs (400)', async (t) => {
  const cases: Array<[input: string, why: string]> = [
    ['', 'empty'],
    ['admin', 'not absolute'],
    ['*', 'asterisk-form'],
    ['http://x/a', 'absolute-form'],
    ['/a%', 'truncated escape'],
    ['/a%2', 'truncated escape'],
    ['/a%zz', 'non-hex escape'],
    ['/a%g0', 'non-hex escape'],
    ['/a%00b', 'encoded NUL'],
    ['/a\u0000b', 'raw NUL'],
    ['/a%2fb', 'encoded slash'],
    ['/admin%2F..%2Fx', 'encoded slash dot trick'],
    ['/a%5cb', 'encoded backslash'],
    ['/a\\b', 'raw backslash'],
    ['/\\evil', 'raw backslash at start'],
    ['/public/..;/admin', 'dot-dot with path parameter'],
    ['/public/.;/admin', 'dot with path parameter'],
    ['/public/%2e%2e;x/admin', 'encoded dot-dot with path parameter'],
    ['/admin.', 'trailing dot (IIS reads /admin)'],
    ['/admin./x', 'trailing dot in a middle segment'],
    ['/a/...', 'only dots'],
    ['/admin%20', 'trailing encoded space'],
    ['/admin%20/x', 'trailing encoded space in a middle segment'],
    ['/a#b', 'fragment'],
  ];
  for (const [input, why] of cases) t.equal(normalizePath(input), undefined, `${why}: ${JSON.stringify(input)}`);
});

t.test('normalizePath: fast path returns the very same string', async (t) => {
  for (const input of ['/', '/app/x', '/a;b', '/a-b_c~d', '/a/b/', '/x.y/z.js']) {
    t.equal(normalizePath(input), input, input);
  }
});

t.test('normalizePath: idempotent', async (t) => {
  for (const input of ['/a/../b', '/%61//b/./c/', '/a%2ab/%7e', '/x/%2e']) {
    const once = normalizePath(input)!;
    t.equal(normalizePath(once), once, input);
  }
});

t.test('pathHasPrefix: whole segments only', async (t) => {
  const cases: Array<[path: string, prefix: string, expected: boolean]> = [
    ['/app', '/app', true],
    ['/app/', '/app', true],
    ['/app/x', '/app', true],
    ['/app;jsessionid=1', '/app', true],
    ['/apps', '/app', false],
    ['/ap', '/app', false],
    ['/', '/app', false],
    ['/anything', '', true],
    ['/anything', '/', true],
    ['/a/b/c', '/a/b', true],
    ['/a/bc', '/a/b', false],
  ];
  for (const [path, prefix, expected] of cases) t.equal(pathHasPrefix(path, prefix), expected, `${path} under ${JSON.stringify(prefix)}`);
});

t.test('canonicalPathPrefix', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['/', ''],
    ['/app', '/app'],
    ['/app/', '/app'],
    ['/a/../admin/', '/admin'],
    ['/%61pp', '/app'],
    ['/a%2fb', undefined],
    ['app', undefined],
  ];
  for (const [input, expected] of cases) t.equal(canonicalPathPrefix(input), expected, input);
});
