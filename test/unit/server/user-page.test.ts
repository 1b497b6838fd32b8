import t from 'tap';
import { policySchema } from '../../../src/config/policy-schema.js';
import { routeSchema } from '../../../src/config/schema.js';
import { sessionRecordFrom } from '../../../src/oidc/session-record.js';
import { compilePolicies } from '../../../src/policy/compile.js';
import { compileRoutes } from '../../../src/routes/index.js';
import { deviceName } from '../../../src/server/device-name.js';
import { relativeTime } from '../../../src/server/relative-time.js';
import { appsFor } from '../../../src/server/user-apps.js';
import { renderUserPage, sessionView } from '../../../src/server/user-page.js';
import type { Session } from '../../../src/session/types.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

function session(over: Partial<Session> = {}): Session {
  return {
    handle: 'h-1',
    user: { sub: 'u-1', email: 'ada@example.com', name: 'Ada', groups: ['eng'], claims: { email_verified: true } },
    createdAt: NOW - 3 * 60_000,
    lastSeenAt: NOW - 5_000,
    expiresAt: NOW + 3_600_000,
    refreshable: false,
    version: 1,
    ...over,
  };
}

t.test('relative times', async (t) => {
  const cases: Array<[number, string]> = [
    [0, 'just now'],
    [-59_000, 'just now'],
    [-60_000, '1 minute ago'],
    [-3 * 60_000 - 59_000, '3 minutes ago'],
    [-2 * 3600_000, '2 hours ago'],
    [-26 * 3600_000, '1 day ago'],
    [-15 * 24 * 3600_000, '2 weeks ago'],
    [-400 * 24 * 3600_000, '1 year ago'],
    [2 * 3600_000, 'in 2 hours'],
  ];
  for (const [offset, text] of cases) t.equal(relativeTime(NOW + offset, NOW), text, text);
});

t.test('device names from user agents', async (t) => {
  const cases: Array<[string | undefined, string | undefined]> = [
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36', 'Chrome 130 on macOS'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari 17 on iOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox 128 on Windows'],
    ['curl/8.5.0', undefined],
    ['<script>alert(1)</script>', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [ua, name] of cases) t.equal(deviceName(ua), name, String(ua));
});

t.test('the apps a user may open: judged at each route root, public ones marked', async (t) => {
  const routes = compileRoutes(
    [
      { from: 'https://app.example.com', to: 'http://app:8080', policy: 'eng' },
      { from: 'https://app.example.com/admin', to: 'http://admin:8080', policy: 'admins' },
      { from: 'https://docs.example.com:8443/handbook', to: 'http://docs', public: true },
      // the policy judges the upstream path: /v2/ (strip_prefix, route.to's path)
      { from: 'https://api.example.com/x', to: 'http://api/v2', policy: 'v2-only', strip_prefix: true },
      { from: 'https://*.tools.example.com', to: 'http://tools', policy: 'eng' },
      { from: 'https://secret.example.com', to: 'http://secret', policy: 'nobody' },
    ].map((r) => routeSchema.parse(r)),
  );
  const policies = compilePolicies(
    [
      { name: 'eng', allow: [{ groups: 'eng' }] },
      { name: 'admins', allow: [{ groups: 'admins' }] },
      { name: 'v2-only', allow: [{ path_prefix: '/v2' }] },
      { name: 'nobody', allow: [{ user: 'someone-else' }] },
    ].map((p) => policySchema.parse(p)),
  );
  t.same(appsFor({ routes, policies }, session()), [
    { name: 'https://app.example.com', url: 'https://app.example.com/', public: false },
    { name: 'https://docs.example.com:8443/handbook', url: 'https://docs.example.com:8443/handbook/', public: true },
    { name: 'https://api.example.com/x', url: 'https://api.example.com/x/', public: false },
    { name: 'https://*.tools.example.com', public: false },
  ]);
});

t.test('the page escapes every value and carries no script', async (t) => {
  const hostile = '<img src=x onerror=alert(1)>"\'&';
  const me = session({ userAgent: hostile, ip: '10.0.0.1' });
  const other = session({ handle: 'h-2', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36', user: { ...me.user } });
  const html = renderUserPage({
    session: { ...me, user: { ...me.user, name: '<b>Ada</b>', groups: ['<i>eng</i>'] } },
    views: [sessionView(me, 'h-1', undefined), sessionView(other, 'h-1', 'Chrome 130 on macOS')],
    apps: [{ name: 'https://x.example/"><script>', url: 'https://x.example/"><script>/', public: true }],
    now: NOW,
    requestId: 'r-1',
  });
  t.notMatch(html, /<img|<script|<b>Ada|<i>eng/i, 'no markup from data');
  t.match(html, /&#60;img src=x onerror=alert\(1\)&#62;&#34;&#39;&#38;/, 'the user agent as text');
  t.match(html, /<time datetime="2026-01-15T11:57:00.000Z" title="Thu, 15 Jan 2026 11:57:00 GMT">3 minutes ago<\/time>/);
  t.match(html, /action="\/\.portcullis\/sessions\/h-2\/end"/, 'End for the other device');
  t.notMatch(html, /sessions\/h-1\/end/, 'none for this one');
  t.match(html, /10\.0\.0\.1/);
  t.match(html, /Chrome 130 on macOS/);
});

t.test('the sign-in address is kept, bounded and printable', async (t) => {
  const base = { handle: 'h', groupsClaim: 'groups', now: NOW, lifetimeMs: 1000, userAgent: 'ua' };
  const result = { sub: 's', claims: {}, tokens: { accessToken: 'a' } };
  t.equal(sessionRecordFrom({ ...base, result, ip: '2001:db8::1' }).ip, '2001:db8::1');
  t.equal(sessionRecordFrom({ ...base, result, ip: '1.2.3.4<script>' }).ip, '1.2.3.4script');
  t.equal(sessionRecordFrom({ ...base, result, ip: 'x'.repeat(500) }).ip?.length, 64);
  t.notOk('ip' in sessionRecordFrom({ ...base, result, ip: '' }));
});
