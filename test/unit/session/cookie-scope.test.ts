import t from 'tap';
import { createCookieScope, hostnameOf } from '../../../src/session/cookie-scope.js';
import { createSessionCookies } from '../../../src/session/session-cookies.js';
import { newSessionId } from '../../../src/session/ids.js';

const SECRET = 'a-test-cookie-secret-that-is-long-enough-0123456789';

t.test('without cookie.domain only public_url\'s host is covered (any port)', async (t) => {
  const scope = createCookieScope({ domain: '', publicHost: '127.0.0.1' });
  t.ok(scope.covers('127.0.0.1'));
  t.ok(scope.covers('127.0.0.1:8443'), 'cookies ignore ports');
  t.notOk(scope.covers('127.0.0.2:8080'));
  t.notOk(scope.covers('sub.127.0.0.1'));
  t.equal(scope.domainFor('127.0.0.2'), '', 'host-only everywhere');
});

t.test('with cookie.domain its subdomains are covered, other domains are not', async (t) => {
  const scope = createCookieScope({ domain: '.Example.com', publicHost: 'auth.example.com' });
  for (const host of ['example.com', 'app.example.com', 'a.b.example.com:443', 'APP.EXAMPLE.COM']) t.ok(scope.covers(host), host);
  for (const host of ['example.org', 'badexample.com', 'example.com.evil.test']) t.notOk(scope.covers(host), host);
  t.equal(scope.domainFor('app.example.com:8443'), '.Example.com');
  t.equal(scope.domainFor('app.other.org'), '', 'a host outside the domain gets a host-only cookie');
  t.equal(scope.domainFor(undefined), '.Example.com');
});

t.test('a public_url outside cookie.domain covers nothing (config refuses it anyway)', async (t) => {
  const scope = createCookieScope({ domain: 'example.com', publicHost: 'gw.other.com' });
  t.notOk(scope.covers('app.example.com'));
});

t.test('hostnameOf strips ports, keeps IPv6 brackets', async (t) => {
  t.equal(hostnameOf('A.example.com:80'), 'a.example.com');
  t.equal(hostnameOf('[::1]:8080'), '[::1]');
  t.equal(hostnameOf('127.0.0.2'), '127.0.0.2');
});

t.test('session cookies: Domain only where the browser would accept it', async (t) => {
  const cookies = createSessionCookies({ name: '_p', secret: SECRET, domain: '.example.com', secure: true, sameSite: 'lax', publicHost: 'auth.example.com' });
  const id = newSessionId();
  t.match(cookies.issue(id, Date.now(), 60, 'app.example.com'), /Domain=\.example\.com/i);
  t.notMatch(cookies.issue(id, Date.now(), 60, 'app.other.org'), /Domain=/i);
  t.notMatch(cookies.clear('app.other.org'), /Domain=/i);
  t.match(cookies.clear(), /Domain=\.example\.com/i, 'no host: as before');
  t.ok(cookies.clearAround('/a/b', 'app.other.org').every((c) => !/Domain=/i.test(c)));
});
