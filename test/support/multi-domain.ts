import { request } from 'node:http';
import { isIP } from 'node:net';
import { parseForms, type BrowserClient, type BrowserResponse } from './browser-client.js';
import type { StackOptions, StackReplicaContext } from './stack.js';

/**
 * Two app "domains" on loopback: Linux routes all of 127/8 to lo, and browsers (and the test
 * cookie jar) keep cookies per host, so 127.0.0.2 and 127.0.0.3 are as apart as two domains.
 * Every replica serves the same routes and public_url (replica 0's port), as behind a load
 * balancer; the gateway listens on all addresses.
 */
export const APP2 = '127.0.0.2';
export const APP3 = '127.0.0.3';

export function multiDomainOptions(): Pick<StackOptions, 'config' | 'routes'> {
  return {
    config: ({ port, ports }: StackReplicaContext) => ({
      server: { listen: `0.0.0.0:${port}`, public_url: `http://127.0.0.1:${ports[0]}` },
    }),
    routes: ({ upstream, ports }: StackReplicaContext) => [
      { from: `http://127.0.0.1:${ports[0]}/`, to: upstream.url, policy: 'everyone' },
      { from: `http://${APP2}:${ports[0]}/`, to: upstream.url, policy: 'everyone' },
      { from: `http://${APP3}:${ports[0]}/`, to: upstream.url, policy: 'everyone' },
      // concrete hosts under a wildcard hand off one by one (reached with a Host header: no DNS needed)
      { from: `http://*.apps.test:${ports[0]}/`, to: upstream.url, policy: 'everyone' },
    ],
  };
}

/** Every URL the browser requested, in order (to count IdP interactions and find tickets); POSTs also in `posts`. */
export function recordRequests(browser: BrowserClient): string[] & { posts: string[] } {
  const seen = Object.assign([] as string[], { posts: [] as string[] });
  const send = browser.request.bind(browser);
  browser.request = (url, options) => {
    seen.push(url);
    if ((options?.method ?? (options?.form ? 'POST' : 'GET')).toUpperCase() === 'POST') seen.posts.push(url);
    return send(url, options);
  };
  return seen;
}

/**
 * GET `url` on another replica's port with the Host header of `url` kept, as a load balancer
 * would pass it on: the same address, answered by another replica.
 */
export function getVia(port: number, url: string, headers: Record<string, string> = {}): Promise<{ status: number; location?: string; setCookies: string[] }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      // names (a wildcard route's hosts) have no DNS here: their Host header is what counts
      { host: isIP(target.hostname) ? target.hostname : '127.0.0.1', port, path: `${target.pathname}${target.search}`, headers: { host: target.host, accept: 'text/html', ...headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, setCookies: res.headers['set-cookie'] ?? [] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Walks like a browser until a page stays put: redirects, `<meta http-equiv="refresh">` pages
 * (a navigation started by that page, which matters to SameSite=Strict) and the demo IdP's
 * sign-in form as `username`. Throws after `maxSteps` (a loop).
 */
export async function walk(browser: BrowserClient, start: string, username: string, maxSteps = 30): Promise<BrowserResponse> {
  let res = await browser.get(start);
  for (let step = 0; step < maxSteps; step++) {
    if (res.status >= 300 && res.status < 400 && res.location) {
      res = await browser.get(res.location, { chain: res.chain });
      continue;
    }
    const refresh = /<meta http-equiv="refresh" content="0;url=([^"]+)"/i.exec(res.body);
    if (refresh) {
      res = await browser.get(new URL(decodeEntities(refresh[1]!), res.url).href, { initiator: res.url });
      continue;
    }
    const form = parseForms(res.body, res.url).find((f) => f.fields.prompt === 'login' || f.fields.prompt === 'consent');
    if (!form) return res;
    const fields = form.fields.prompt === 'login' ? { ...form.fields, login: username, password: 'any' } : form.fields;
    res = await browser.request(form.action, { method: 'POST', form: fields, initiator: res.url });
  }
  throw new Error(`no page after ${maxSteps} steps from ${start}`);
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };
  return text.replace(/&(#\d+|[a-z]+);/gi, (whole, code: string) =>
    code.startsWith('#') ? String.fromCharCode(Number(code.slice(1))) : (named[code.toLowerCase()] ?? whole),
  );
}
