import type { Stack } from './stack.js';

/** A request to one replica with a given gateway cookie, as an API client (401 instead of 302). */
export async function statusOn(url: string, cookie: string, path = '/'): Promise<number> {
  const res = await fetch(`${url}${path}`, { headers: { cookie: `_portcullis=${cookie}`, accept: 'application/json' } });
  await res.arrayBuffer();
  return res.status;
}

/** Sum of one metric sample (with a label match) over every replica's /metrics. */
export async function metricSum(stack: Stack, name: string, labels = ''): Promise<number> {
  let total = 0;
  for (const replica of stack.replicas) {
    const text = await (await fetch(`${replica.adminUrl}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (labels ? rest.startsWith(`{${labels}`) || rest.includes(`,${labels}`) : rest.startsWith(' ')) {
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
  }
  return total;
}

/** Signs in on `url` with a fresh browser and returns the gateway cookie value. */
export async function signIn(stack: Stack, url: string, user: string): Promise<string> {
  const browser = stack.browser();
  const page = await browser.login(`${url}/`, user);
  if (page.status !== 200) throw new Error(`sign-in as ${user} ended with ${page.status} at ${page.url}`);
  const cookie = browser.cookie('_portcullis');
  if (!cookie) throw new Error('no session cookie after sign-in');
  return cookie;
}

/** POST /.portcullis/logout as a same-origin form would. */
export async function logout(url: string, cookie: string): Promise<number> {
  const res = await fetch(`${url}/.portcullis/logout`, {
    method: 'POST',
    headers: { cookie: `_portcullis=${cookie}`, origin: url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
    redirect: 'manual',
  });
  await res.arrayBuffer();
  return res.status;
}
