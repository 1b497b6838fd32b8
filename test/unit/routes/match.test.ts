import t from 'tap';
import { routeSchema, type RouteConfig } from '../../../src/config/schema.js';
import { compileRoutes } from '../../../src/routes/compile.js';
import { parseHostHeader } from '../../../src/routes/host.js';
import { ConfigError } from '../../../src/errors.js';

function route(from: string, extra: Partial<Record<string, unknown>> = {}): RouteConfig {
  return routeSchema.parse({ from, to: 'http://127.0.0.1:3000', policy: 'p', ...extra });
}

const table = compileRoutes([
  route('https://app.example.com'), // 0
  route('https://app.example.com/app'), // 1
  route('https://app.example.com/app/admin'), // 2
  route('https://*.example.com'), // 3
  route('https://*.b.example.com/x'), // 4
  route('http://127.0.0.1:8080/svc'), // 5
  route('http://app.example.com:8080'), // 6
  route('https://[::1]:8443'), // 7
  route('http://plain.test'), // 8
]);

t.test('match: host, port, scheme, wildcard, longest whole-segment prefix', async (t) => {
  const cases: Array<[scheme: 'http' | 'https', host: string, path: string, expected: number | undefined, why: string]> = [
    ['https', 'app.example.com', '/', 0, 'root route'],
    ['https', 'APP.Example.COM', '/', 0, 'host is case-insensitive'],
    ['https', 'app.example.com:443', '/', 0, 'explicit default port'],
    ['https', 'app.example.com.', '/', 0, 'trailing dot is the same name'],
    ['https', 'app.example.com', '/app', 1, 'prefix itself'],
    ['https', 'app.example.com', '/app/', 1, 'prefix with slash'],
    ['https', 'app.example.com', '/app/x/y', 1, 'below prefix'],
    ['https', 'app.example.com', '/apps', 0, 'not a whole segment: falls back to /'],
    ['https', 'app.example.com', '/app/admin/users', 2, 'longest prefix wins'],
    ['https', 'app.example.com', '/app/administrator', 1, 'whole segments for the longer prefix too'],
    ['https', 'other.example.com', '/app', 3, 'wildcard, one label'],
    ['https', 'a.b.c.example.com', '/', 3, 'wildcard, several labels'],
    ['https', 'example.com', '/', undefined, 'wildcard does not cover the bare domain'],
    ['https', 'x.b.example.com', '/x/1', 4, 'more specific wildcard first'],
    ['https', 'x.b.example.com', '/y', 3, 'falls back to the broader wildcard'],
    ['https', 'b.example.com', '/x', 3, '*.b.example.com does not cover b.example.com'],
    ['https', 'app.example.com:8443', '/', undefined, 'other port'],
    ['http', 'app.example.com', '/', undefined, 'other scheme (http default port 80)'],
    ['http', 'app.example.com:8080', '/', 6, 'http on 8080'],
    ['https', 'app.example.com:8080', '/', undefined, 'scheme is part of the key'],
    ['http', '127.0.0.1:8080', '/svc/a', 5, 'IPv4 with port'],
    ['http', '127.0.0.1:8080', '/', undefined, 'no prefix match'],
    ['http', '127.0.0.1', '/svc', undefined, 'port 80 is not 8080'],
    ['https', '[::1]:8443', '/', 7, 'IPv6 literal'],
    ['https', '[::1]', '/', undefined, 'IPv6 on 443'],
    ['http', 'plain.test:80', '/', 8, 'explicit :80'],
    ['http', 'evil.com', '/', undefined, 'unknown host'],
    ['https', 'evil/.example.com', '/', undefined, 'odd bytes never reach a wildcard'],
    ['https', '.example.com', '/', undefined, 'empty label'],
    ['https', 'a..example.com', '/', undefined, 'empty label in the middle'],
    ['https', 'app.example.com:', '/', undefined, 'empty port'],
    ['https', 'app.example.com:99999', '/', undefined, 'port out of range'],
    ['https', 'app.example.com:44x', '/', undefined, 'port not numeric'],
    ['https', '', '/', undefined, 'empty host'],
  ];
  for (const [scheme, host, path, expected, why] of cases) {
    t.equal(table.match(scheme, host, path)?.index, expected, `${why}: ${scheme}://${host}${path}`);
  }
});

t.test('exact host beats a wildcard, whatever the order in config', async (t) => {
  const reversed = compileRoutes([route('https://*.example.com/app/deep'), route('https://app.example.com')]);
  t.equal(reversed.match('https', 'app.example.com', '/app/deep/x')?.index, 1, 'exact host wins even with a shorter prefix');
  t.equal(reversed.match('https', 'other.example.com', '/app/deep/x')?.index, 0);
  t.equal(reversed.match('https', 'other.example.com', '/'), undefined);
});

t.test('compiled route fields', async (t) => {
  const compiled = compileRoutes([
    route('HTTPS://App.Example.com/App/', {
      to: 'http://10.0.0.1:9000/base',
      strip_prefix: true,
      preserve_host: true,
      websockets: true,
      timeout: '5s',
    }),
    route('http://*.Example.com:8080', { public: true, policy: undefined }),
  ]);
  const [first, second] = compiled.routes;
  t.match(first, {
    index: 0,
    id: 'HTTPS://App.Example.com/App/',
    scheme: 'https',
    host: 'app.example.com',
    wildcard: false,
    port: 443,
    pathPrefix: '/App',
    audience: 'http://10.0.0.1:9000',
    policy: 'p',
    public: false,
    preserveHost: true,
    stripPrefix: true,
    timeoutMs: 5000,
    websockets: true,
  });
  t.equal(first?.to.href, 'http://10.0.0.1:9000/base');
  t.match(second, { scheme: 'http', host: '.example.com', wildcard: true, port: 8080, pathPrefix: '', public: true, timeoutMs: 30_000 });
  t.notOk(second && 'policy' in second, 'no policy key on a public route');
  t.ok(Object.isFrozen(compiled.routes) && Object.isFrozen(first), 'frozen');
  t.equal(compiled.match('https', 'app.example.com', '/app'), undefined, 'paths are case-sensitive');
});

t.test('an invalid from is a ConfigError naming the route', async (t) => {
  let caught: unknown;
  try {
    compileRoutes([route('https://ok.example.com'), route('ftp://x')]);
  } catch (error) {
    caught = error;
  }
  t.ok(caught instanceof ConfigError);
  t.equal((caught as ConfigError).issues[0]?.path, 'routes[1].from');
});

t.test('parseHostHeader', async (t) => {
  t.strictSame(parseHostHeader('Example.COM', 443), { host: 'example.com', port: 443 });
  t.strictSame(parseHostHeader('example.com:8080', 80), { host: 'example.com', port: 8080 });
  t.strictSame(parseHostHeader('[::1]:1', 80), { host: '[::1]', port: 1 });
  t.strictSame(parseHostHeader('[::1]', 80), { host: '[::1]', port: 80 });
  for (const bad of ['[::1', '[::1]x', '[zz]', 'a b', 'a@b', 'host:0', 'host:-1', 'a:b:c', '']) {
    t.equal(parseHostHeader(bad, 80), undefined, JSON.stringify(bad));
  }
});
