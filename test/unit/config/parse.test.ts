import t from 'tap';
import { attempt, baseConfig, BASE_DIR, COOKIE_SECRET } from './helpers.js';

t.test('a minimal config gets its defaults, policies, and is deep-frozen', async (t) => {
  const { config, issues } = attempt(baseConfig());
  t.strictSame(issues, []);
  if (!config) return;
  t.equal(config.baseDir, BASE_DIR);
  t.match(config.server, { listen: '0.0.0.0:8080', admin_listen: '127.0.0.1:9090', trust_forwarded_headers: false, shutdown_timeout: 10_000 });
  t.match(config.idp, { scopes: ['openid', 'profile', 'email', 'offline_access'], allow_insecure_http: false, login_timeout: 600_000, groups_claim: 'groups' });
  t.match(config.cookie, { name: '_portcullis', domain: '', secure: 'auto', same_site: 'lax' });
  t.match(config.session, { store: 'memory', lifetime: 14 * 3_600_000, idle_timeout: 2 * 3_600_000, refresh_ahead: 60_000 });
  t.match(config.session.redis, { url: 'redis://127.0.0.1:6379/0', key_prefix: 'portcullis:', tombstone_ttl: 300_000 });
  t.match(config.signing, { algorithm: 'ES256', rotate_every: 86_400_000, publish_ahead: 120_000, assertion_ttl: 300_000 });
  t.match(config.routes[0], { public: false, preserve_host: false, strip_prefix: false, timeout: 30_000, websockets: false });
  t.equal(config.policies_dir, 'policies');
  t.strictSame(
    config.policies.map((p) => p.name),
    ['engineering', 'everyone'],
    '*.yml and *.yaml, sorted by file name; other files ignored',
  );
  t.strictSame(config.policies[1], { name: 'everyone', allow: [{ authenticated: true }], deny: [] });

  for (const value of [config, config.server, config.routes, config.routes[0], config.policies, config.policies[0], config.policies[0]!.allow[0], config.idp.scopes]) {
    t.ok(Object.isFrozen(value), 'frozen');
  }
  t.throws(() => {
    (config.server as { listen: string }).listen = 'x';
  }, TypeError);
});

t.test('every problem is reported at once, each with its key path', async (t) => {
  const raw = baseConfig();
  raw.server.listen = 'nonsense';
  raw.server.lisen = '1';
  delete raw.idp.client_id;
  raw.idp.scopes = ['openid', 7];
  raw.cookie.same_site = 'sideways';
  raw.cookie.secure = 'maybe';
  raw.session = { lifetime: '14 hours', store: 'mongo', redis: { url: 'redis://x', extra: true } };
  raw.routes.push({ from: 'http://127.0.0.1:8080/a', to: 'ftp://x', policy: 'everyone' });
  raw.routes.push({ from: 'http://127.0.0.1:8080/b', to: 'http://x', public: 'yes' });
  raw.routes.push({ from: 'http://127.0.0.1:8080/c', to: 'http://x', policy: 'nobody' });
  raw.signing = { algorithm: 'RS256' };
  raw.surprise = 1;
  const { issues } = attempt(raw);
  t.strictSame(issues.sort(), [
    'cookie.same_site: must be one of: lax, strict, none',
    'cookie.secure: must be one of: auto, true, false',
    'idp.client_id: is required',
    'idp.scopes[1]: must be a string',
    'routes[1].to: must be an http(s) URL',
    'routes[2].policy: is required (or set "public: true" for a route that needs no sign-in)',
    'routes[2].public: must be true or false',
    'routes[3].policy: no policy named "nobody" in policies (found: engineering, everyone)',
    'server.lisen: unknown key (did you mean "listen"?)',
    'server.listen: must be "host:port", e.g. "0.0.0.0:8080"',
    'session.lifetime: must be a duration like "90s", "15m" or "14h" (got "14 hours")',
    'session.redis.extra: unknown key (allowed: url, key_prefix, configure_keyspace_events, tombstone_ttl, outage_queue_limit, mirror_max_sessions)',
    'session.store: must be one of: memory, redis',
    'signing.algorithm: must be ES256',
    'surprise: unknown key (allowed: server, idp, cookie, session, routes, policies_dir, signing, log)',
  ]);
});

t.test('required sections and types', async (t) => {
  const cases: Array<[name: string, raw: unknown, expected: string[]]> = [
    ['not a mapping', ['a'], ['(root): must be a mapping']],
    ['a scalar', 'text', ['(root): must be a mapping']],
    [
      'empty mapping',
      {},
      ['server: is required', 'idp: is required', 'cookie: is required', 'routes: is required'],
    ],
    ['no routes', { ...baseConfig(), routes: [] }, ['routes: at least one route is required']],
    ['empty value', { ...baseConfig(), policies_dir: null }, ['policies_dir: must be a string (the value is empty)']],
    ['number out of range', { ...baseConfig(), server: { public_url: 'http://x', max_header_bytes: 10 } }, ['server.max_header_bytes: must be at least 1024']],
    ['not an integer', { ...baseConfig(), server: { public_url: 'http://x', max_header_bytes: 2048.5 } }, ['server.max_header_bytes: must be an integer']],
    ['route not a mapping', { ...baseConfig(), routes: ['http://x'] }, ['routes[0]: must be a mapping']],
    ['bad public_url', { ...baseConfig(), server: { public_url: 'gopher://x' } }, ['server.public_url: must be an http(s) URL']],
  ];
  for (const [name, raw, expected] of cases) {
    const { issues } = attempt(raw);
    t.strictSame(issues.map((i) => i.replace(/^: /, '(root): ')), expected, name);
  }
});

t.test('durations', async (t) => {
  const ok: Array<[string, number]> = [['90s', 90_000], ['15m', 900_000], ['14h', 50_400_000], ['1h30m', 5_400_000], ['250ms', 250], ['1d', 86_400_000]];
  for (const [text, ms] of ok) {
    const { config, issues } = attempt({ ...baseConfig(), session: { idle_timeout: text } });
    t.strictSame(issues, [], text);
    t.equal(config?.session.idle_timeout, ms, text);
  }
  for (const text of ['', '10', 'h', '-5m', '5 m', '5mins', '1.5']) {
    const { issues } = attempt({ ...baseConfig(), session: { idle_timeout: text } });
    t.strictSame(issues, [`session.idle_timeout: must be a duration like "90s", "15m" or "14h" (got "${text}")`], JSON.stringify(text));
  }
  t.strictSame(attempt({ ...baseConfig(), signing: { publish_ahead: 120 } }).issues, ['signing.publish_ahead: must be a string']);
});

t.test('cookie secret: at least 32 bytes, never echoed', async (t) => {
  const secret = 'too-short-secret';
  const { issues, error } = attempt({ ...baseConfig(), cookie: { secret } });
  t.strictSame(issues, ['cookie.secret: must be at least 32 bytes']);
  t.notMatch(error?.message ?? '', secret);
  t.strictSame(attempt({ ...baseConfig(), cookie: { secret: 'é'.repeat(16) } }).issues, [], '32 bytes of UTF-8 is enough');
  t.strictSame(attempt({ ...baseConfig(), cookie: {} }).issues, ['cookie.secret: is required']);
  t.strictSame(attempt({ ...baseConfig(), cookie: { secret: COOKIE_SECRET, name: 'bad name' } }).issues, [
    'cookie.name: must be a valid cookie name (RFC 6265 token)',
  ]);
});

t.test('unknown keys everywhere are refused with a hint', async (t) => {
  const cases: Array<[name: string, mutate: (raw: Record<string, any>) => void, expected: string]> = [
    ['top level typo', (raw) => (raw.polices_dir = 'x'), 'polices_dir: unknown key (did you mean "policies_dir"?)'],
    ['route key', (raw) => (raw.routes[0].stripprefix = true), 'routes[0].stripprefix: unknown key (did you mean "strip_prefix"?)'],
    ['nested section', (raw) => (raw.session = { redis: { URL: 'x' } }), 'session.redis.URL: unknown key (did you mean "url"?)'],
    ['_file where none is supported', (raw) => (raw.idp.client_id_file = 'x'), 'idp.client_id_file: unknown key (allowed: issuer, client_id, client_secret, scopes, allow_insecure_http, login_timeout, groups_claim, access_token_audiences)'],
    ['__proto__ is just a key', (raw) => Object.defineProperty(raw.routes[0], '__proto__', { value: { public: true }, enumerable: true }), 'routes[0].__proto__: unknown key (allowed: from, to, policy, public, preserve_host, strip_prefix, timeout, websockets, bearer_tokens)'],
    ['an odd short key is quoted', (raw) => (raw.cookie['se cret'] = 'x'), 'cookie["se cret"]: unknown key (did you mean "secret"?)'],
    // broken YAML can make a piece of the document a key, secret and all: it is counted, not shown
    ['a multi-line key', (raw) => (raw['{\n idp:,\n  client_secret: hunter2hunter2\n}'] = null), '[(a key of 42 characters)]: unknown key (allowed: server, idp, cookie, session, routes, policies_dir, signing, log)'],
    ['a key longer than any key', (raw) => (raw.idp['hunter2hunter2hunter2hunter2hunter2'] = 'x'), 'idp[(a key of 35 characters)]: unknown key (allowed: issuer, client_id, client_secret, scopes, allow_insecure_http, login_timeout, groups_claim, access_token_audiences)'],
  ];
  for (const [name, mutate, expected] of cases) {
    const raw = baseConfig();
    mutate(raw);
    t.strictSame(attempt(raw).issues, [expected], name);
  }
});

t.test('semantic checks', async (t) => {
  type Mutate = (raw: Record<string, any>) => void;
  const cases: Array<[name: string, mutate: Mutate, expected: string[]]> = [
    ['listen == admin_listen', (r) => Object.assign(r.server, { listen: '127.0.0.1:9000', admin_listen: '127.0.0.1:9000' }), ['server.admin_listen: must differ from server.listen ("127.0.0.1:9000"): metrics and health never share the proxy port']],
    ['0.0.0.0 covers every address', (r) => Object.assign(r.server, { listen: '0.0.0.0:9090' }), ['server.admin_listen: must differ from server.listen ("0.0.0.0:9090"): metrics and health never share the proxy port']],
    ['different ports', (r) => Object.assign(r.server, { listen: '127.0.0.1:1', admin_listen: '127.0.0.1:2' }), []],
    ['port 0 twice (tests)', (r) => Object.assign(r.server, { listen: '127.0.0.1:0', admin_listen: '127.0.0.1:0' }), []],
    ['same port, different hosts', (r) => Object.assign(r.server, { listen: '127.0.0.1:9090', admin_listen: '127.0.0.2:9090' }), []],
    ['http issuer', (r) => (r.idp.issuer = 'http://localhost:9000'), ['idp.issuer: must be https:// (set idp.allow_insecure_http: true only for a local or test IdP)']],
    ['http issuer allowed', (r) => Object.assign(r.idp, { issuer: 'http://localhost:9000', allow_insecure_http: true }), []],
    ['same_site none, secure false', (r) => Object.assign(r.cookie, { same_site: 'none', secure: false }), ['cookie.same_site: none requires a Secure cookie (cookie.secure: true, or auto with an https public_url)']],
    ['same_site none, auto on http', (r) => Object.assign(r.cookie, { same_site: 'none' }), ['cookie.same_site: none requires a Secure cookie (cookie.secure: true, or auto with an https public_url)']],
    ['same_site none, auto on https', (r) => { r.cookie.same_site = 'none'; r.server.public_url = 'https://gw.example.com'; }, []],
    ['same_site none, secure true', (r) => Object.assign(r.cookie, { same_site: 'none', secure: true }), []],
    ['cookie domain covers public_url', (r) => { r.cookie.domain = '.example.com'; r.server.public_url = 'https://gw.example.com'; }, []],
    ['cookie domain elsewhere', (r) => { r.cookie.domain = '.example.com'; r.server.public_url = 'https://gw.other.com'; }, ['cookie.domain: must be server.public_url\'s host "gw.other.com" or a parent domain of it (browsers refuse the cookie otherwise)']],
    ['public route with no policy', (r) => (r.routes = [{ from: 'http://a.test', to: 'http://x', public: true }]), []],
    ['public route with a policy', (r) => (r.routes[0].public = true), ['routes[0].policy: a public route takes no policy (remove "policy" or "public: true")']],
    ['duplicate from', (r) => r.routes.push({ from: 'HTTP://127.0.0.1:8080/', to: 'http://y', policy: 'everyone' }), ['routes[1].from: duplicates routes[0].from']],
    ['duplicate from, default port and path spelling', (r) => r.routes.push({ from: 'http://a.test/x', to: 'http://y', policy: 'everyone' }, { from: 'http://A.test:80/x/../x/', to: 'http://y', policy: 'everyone' }), ['routes[2].from: duplicates routes[1].from']],
    ['same host, different paths', (r) => r.routes.push({ from: 'http://127.0.0.1:8080/a', to: 'http://y', policy: 'everyone' }), []],
    ['engineering exists too', (r) => (r.routes[0].policy = 'engineering'), []],
    ['secure cookie on a loopback http public_url', (r) => (r.cookie.secure = true), []],
    ['secure cookie on a remote http public_url', (r) => { r.cookie.secure = true; r.server.public_url = 'http://gw.example.com'; r.routes[0].from = 'https://gw.example.com'; }, ['cookie.secure: true needs an https server.public_url (browsers drop Secure cookies set over http)']],
    ['secure cookie, protected http route', (r) => { r.server.public_url = 'https://gw.example.com'; r.routes.push({ from: 'http://app.example.com', to: 'http://y', policy: 'everyone' }); }, ['routes[1].from: is http:// but the session cookie is Secure: browsers would never send it there (use https, or make the route public)']],
    ['secure cookie, public http route', (r) => { r.server.public_url = 'https://gw.example.com'; r.routes.push({ from: 'http://app.example.com', to: 'http://y', public: true }); }, []],
    ['handoff host on http from an https public_url', (r) => { r.server.public_url = 'https://gw.example.com'; r.cookie.secure = false; r.routes.push({ from: 'http://app.other.com', to: 'http://y', policy: 'everyone' }); }, ['routes[1].from: is http:// on a host the session cookie does not cover, so its sign-in handoff from the https server.public_url would carry the session in clear text (use https for this route, or cover its host with cookie.domain)']],
    ['wildcard handoff hosts on http from an https public_url', (r) => { r.server.public_url = 'https://gw.example.com'; r.cookie.secure = false; r.cookie.domain = '.example.com'; r.routes.push({ from: 'http://*.other.com', to: 'http://y', policy: 'everyone' }); }, ['routes[1].from: is http:// on a host the session cookie does not cover, so its sign-in handoff from the https server.public_url would carry the session in clear text (use https for this route, or cover its host with cookie.domain)']],
    ['http route covered by cookie.domain (no handoff)', (r) => { r.server.public_url = 'https://gw.example.com'; r.cookie.secure = false; r.cookie.domain = '.example.com'; r.routes.push({ from: 'http://*.example.com', to: 'http://y', policy: 'everyone' }); }, []],
    ['handoff host on https', (r) => { r.server.public_url = 'https://gw.example.com'; r.routes.push({ from: 'https://app.other.com', to: 'http://y', policy: 'everyone' }); }, []],
    ['handoff hosts on loopback http', (r) => { r.server.public_url = 'https://gw.example.com'; r.cookie.secure = false; r.routes.push({ from: 'http://127.0.0.2:8080', to: 'http://y', policy: 'everyone' }); }, []],
  ];
  for (const [name, mutate, expected] of cases) {
    const raw = baseConfig();
    mutate(raw);
    t.strictSame(attempt(raw).issues, expected, name);
  }
});

t.test('route from: scheme, host[:port], optional path', async (t) => {
  const bad: Array<[from: string, message: string]> = [
    ['127.0.0.1:8080', 'must be a URL like "https://app.example.com/path" (scheme, host[:port], optional path)'],
    ['ftp://a.test', 'must start with http:// or https://'],
    ['http://a.test/app?x=1', 'must not have a query or fragment'],
    ['http://a.test/app#top', 'must not have a query or fragment'],
    ['http://user:pw@a.test', 'must not contain credentials'],
    ['http://a.test/a b', 'must not contain whitespace, control characters or backslashes'],
    ['http://a.test\\app', 'must not contain whitespace, control characters or backslashes'],
    ['http://a*.example.com', 'a wildcard must be the whole first label, like "*.example.com"'],
    ['http://*.*.example.com', 'a wildcard must be the whole first label, like "*.example.com"'],
    ['http://*', 'a wildcard must be the whole first label, like "*.example.com"'],
    ['http://a.test:0', 'must have a port between 1 and 65535'],
    ['http://a.test:70000', 'must be a URL like "https://app.example.com/path" (scheme, host[:port], optional path)'],
    ['http://a.test/x%2fy', 'has a path with encoded slashes, backslashes or NUL'],
    ['http://a..test', 'has an invalid host "a..test"'],
  ];
  for (const [from, message] of bad) {
    const raw = baseConfig();
    raw.routes[0].from = from;
    t.strictSame(attempt(raw).issues, [`routes[0].from: ${message}`], from);
  }
  for (const from of ['https://*.example.com', 'http://[::1]:8080/x', 'http://xn--caf-dma.test', 'https://café.test/app/', 'http://under_score.internal']) {
    const raw = baseConfig();
    raw.routes[0].from = from;
    t.strictSame(attempt(raw).issues, [], from);
  }
});

t.test('ConfigError message lists every issue, one per line', async (t) => {
  const raw = baseConfig();
  raw.routes[0].to = 'nope';
  raw.server.public_url = 'nope';
  const { error } = attempt(raw);
  t.equal(error?.message, 'server.public_url: must be an http(s) URL\nroutes[0].to: must be an http(s) URL');
});
