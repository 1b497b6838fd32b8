import { startRedis, type RedisServer } from './redis-server.js';
import { eventually, startStack, type StackOptions } from './stack.js';
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

/**
 * A fresh redis-server and two (or more) ready gateway replicas on it, closed in teardown.
 * Returns getters because tap's `before` fills them in.
 */
export function replicasOnRedis(
  t: { before(fn: () => Promise<void>): void; teardown(fn: () => Promise<void>): void },
  options: Omit<StackOptions, 'store'> = {},
): { readonly stack: Stack; readonly redis: RedisServer } {
  let stack: Stack | undefined;
  let redis: RedisServer | undefined;
  t.before(async () => {
    redis = await startRedis();
    stack = await startStack({ replicas: 2, ...options, store: { kind: 'redis', url: redis.url } });
    await eventually(() => stack!.replicas.every((r) => r.gateway.isReady()), 10_000);
  });
  t.teardown(async () => {
    await stack?.close();
    await redis?.close();
  });
  return {
    get stack() {
      return stack!;
    },
    get redis() {
      return redis!;
    },
  };
}
