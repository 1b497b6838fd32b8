import t from 'tap';
import { startStack } from '../support/stack.js';

/** The access line operators read: one per request, with what an incident review needs and no secrets. */
t.test('one access line per request: route, method, status, duration, upstream time, user, request id', async (t) => {
  const lines: string[] = [];
  const stack = await startStack({ logLevel: 'info', logDestination: { write: (line: string) => lines.push(line) } });
  t.teardown(() => stack.close());
  const browser = stack.browser();
  await browser.login(`${stack.url}/`, 'alice');
  lines.length = 0;

  const res = await browser.get(`${stack.url}/reports/q3?token=secret-query-value`, { headers: { accept: 'application/json' } });
  t.equal(res.status, 200);
  // the upstream got the gateway's request id as X-Request-Id (the echo shows it)
  const requestId = (JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-request-id'];
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e['msg'] === 'request');
  const entry = entries.find((e) => e['reqId'] === requestId);
  t.ok(entry, 'the line carries the request id the upstream saw');
  t.match(entry, { route: stack.url, method: 'GET', path: '/reports/q3', status: 200, user: 'alice' });
  t.type(entry?.['ms'], 'number');
  t.type(entry?.['upstreamMs'], 'number');
  t.ok((entry?.['upstreamMs'] as number) <= (entry?.['ms'] as number) + 1, 'upstream time is part of the whole');
  const all = lines.join('\n');
  t.notMatch(all, /secret-query-value/, 'no query string in the log');
  t.notMatch(all, new RegExp(browser.cookie('_portcullis') ?? 'no-cookie'), 'no cookie value in the log');
});
