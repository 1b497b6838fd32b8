import t from 'tap';
import { APP2, APP3, getVia, multiDomainOptions } from '../support/multi-domain.js';
import { replicasOnRedis } from '../support/replicas.js';

/**
 * Two replicas on one Redis behind one address (public_url and the routes name replica 0's
 * port; requests reach replica 1 with the same Host, as through a load balancer): a handoff
 * ticket is good once across all of them, and a sign-out on one domain ends every domain.
 */
const env = replicasOnRedis(t, multiDomainOptions());
const ports = () => env.stack.replicas.map((r) => Number(new URL(r.url).port));
const app = (host: string, path = '/') => `http://${host}:${ports()[0]}${path}`;

/** A fresh ticket for `host`, issued by replica 0 to a browser signed in at public_url. */
async function ticketFor(host: string, user: string) {
  const browser = env.stack.browser();
  const home = await browser.login(`${env.stack.url}/`, user);
  t.equal(home.status, 200);
  // begun on the app host: its nonce cookie binds the ticket to this browser
  const begun = await browser.get(app(host, `/.portcullis/handoff?rd=${encodeURIComponent(app(host, '/landing'))}`));
  const res = await browser.get(begun.location!);
  if (res.status !== 302 || !res.location?.includes('/.portcullis/handoff/complete?ticket=')) throw new Error(`no ticket: ${res.status}`);
  const set = begun.setCookies.find((c) => c.startsWith('_portcullis_handoff='))!;
  return { browser, url: res.location, nonce: set.slice(0, set.indexOf(';')) };
}

t.test('a ticket redeemed on one replica is refused on the other (and on the first again)', async (t) => {
  const { url, nonce } = await ticketFor(APP2, 'alice');
  const first = await getVia(ports()[1]!, url, { cookie: nonce });
  t.equal(first.status, 302, 'redeemed on replica 1');
  t.match(first.location, /^\/\.portcullis\/handoff\/check\?rd=/);
  t.notMatch(first.location, /ticket/);
  const cookie = first.setCookies.find((c) => c.startsWith('_portcullis='));
  t.ok(cookie, 'replica 1 set the app host\'s cookie');
  t.notMatch(cookie, /Domain=/i, 'host-only');
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Lax/);
  t.match(cookie, /Path=\//);

  const replayOther = await getVia(ports()[0]!, url, { cookie: nonce });
  t.equal(replayOther.status, 400, 'replay on replica 0 refused');
  t.same(replayOther.setCookies, []);
  t.equal((await getVia(ports()[1]!, url, { cookie: nonce })).status, 400, 'replay on replica 1 refused');

  // the cookie replica 1 set works on replica 0 too: same session, shared store
  const value = cookie!.slice(0, cookie!.indexOf(';'));
  const onZero = await fetch(app(APP2, '/api'), { headers: { cookie: value, accept: 'application/json' } });
  t.equal(onZero.status, 200);
  t.equal(((await onZero.json()) as { headers: Record<string, string> }).headers['x-portcullis-user'], 'alice');
});

t.test('sign-out on one domain through one replica ends every domain on every replica', async (t) => {
  const { browser, url } = await ticketFor(APP2, 'bob');
  t.equal((await browser.navigate(url)).status, 200, 'app2 signed in');
  t.equal((await browser.navigate(app(APP3, '/'))).status, 200, 'app3 signed in');
  const cookieOn = (host: string) => browser.jar.all('_portcullis').find((c) => c.domain === host)!.value;
  const app3Cookie = cookieOn(APP3);
  const publicCookie = cookieOn('127.0.0.1');

  const out = await browser.request(app(APP2, '/.portcullis/logout'), { method: 'POST', form: {}, initiator: app(APP2, '/') });
  t.equal(out.status, 303);
  for (const port of ports()) {
    for (const [host, cookie] of [[APP3, app3Cookie], ['127.0.0.1', publicCookie]] as const) {
      await t.resolveMatch(
        (async () => (await getVia(port, app(host, '/'), { cookie: `_portcullis=${cookie}`, accept: 'application/json' })).status)(),
        401,
        `${host} via replica on ${port} is signed out`,
      );
    }
  }
});
