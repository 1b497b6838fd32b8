import t from 'tap';
import { GatewayError } from '../../../src/errors.js';
import type { RequestContext } from '../../../src/http/context.js';
import { createLogger } from '../../../src/observability/logger.js';
import { originalRequestContext } from '../../../src/server/original-request.js';

const call: RequestContext = {
  id: 'req-1',
  startedAt: 0,
  log: createLogger({ level: 'silent' }),
  scheme: 'http',
  host: 'gateway.internal:8080',
  rawPath: '/.portcullis/auth',
  path: '/.portcullis/auth',
  search: '',
  clientIp: '192.0.2.7',
  trustForwarded: true,
};

function read(headers: Record<string, string | string[]>) {
  return originalRequestContext(headers, call);
}

t.test('X-Original-URL + X-Original-Method (nginx)', async (t) => {
  const ctx = read({ 'x-original-url': 'HTTPS://App.Example.com/a/./b/../c//d?x=1&y=%2F', 'x-original-method': 'POST' });
  t.match(ctx, { scheme: 'https', host: 'app.example.com', rawPath: '/a/./b/../c//d', path: '/a/c/d', search: '?x=1&y=%2F', method: 'POST', id: 'req-1', clientIp: '192.0.2.7' });
  t.match(read({ 'x-original-url': 'http://app.example.com', 'x-original-method': 'GET' }), { path: '/', search: '' }, 'no path is "/"');
  t.match(read({ 'x-original-url': 'http://app.example.com?q', 'x-original-method': 'GET' }), { path: '/', search: '?q' });
  t.match(read({ 'x-original-url': 'http://[::1]:8443/x', 'x-original-method': 'GET' }), { host: '[::1]:8443' });
});

t.test('X-Forwarded-Proto/Host/Uri/Method (Traefik, Caddy)', async (t) => {
  const ctx = read({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/%61dmin?z', 'x-forwarded-method': 'GET' });
  t.match(ctx, { scheme: 'https', host: 'app.example.com', path: '/admin', search: '?z', method: 'GET' });
});

t.test('refused: 400 for anything missing, repeated, ambiguous or malformed', async (t) => {
  const fwd = { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/x', 'x-forwarded-method': 'GET' };
  const orig = { 'x-original-url': 'http://app.example.com/x', 'x-original-method': 'GET' };
  const cases: Array<[string, Record<string, string | string[]>]> = [
    ['nothing', {}],
    ['both forms', { ...fwd, ...orig }],
    ['repeated X-Original-URL', { ...orig, 'x-original-url': ['http://a.example/x', 'http://b.example/y'] }],
    ['list in X-Forwarded-Host', { ...fwd, 'x-forwarded-host': 'a.example, b.example' }],
    ['list in X-Forwarded-Proto', { ...fwd, 'x-forwarded-proto': 'https,http' }],
    ['missing method', { 'x-original-url': 'http://app.example.com/x' }],
    ['lower-case junk method', { ...fwd, 'x-forwarded-method': 'GET\tX' }],
    ['relative X-Original-URL', { ...orig, 'x-original-url': '/x' }],
    ['scheme-relative', { ...orig, 'x-original-url': '//app.example.com/x' }],
    ['ftp', { ...orig, 'x-original-url': 'ftp://app.example.com/x' }],
    ['userinfo', { ...orig, 'x-original-url': 'http://u:p@app.example.com/x' }],
    ['backslash host', { ...orig, 'x-original-url': 'http://app.example.com\\@evil/x' }],
    ['fragment', { ...orig, 'x-original-url': 'http://app.example.com/x#/y' }],
    ['encoded slash', { ...fwd, 'x-forwarded-uri': '/a%2Fb' }],
    ['uri not a path', { ...fwd, 'x-forwarded-uri': 'x' }],
    ['non-ASCII', { ...fwd, 'x-forwarded-uri': '/ä' }],
    ['empty', { ...fwd, 'x-forwarded-uri': '' }],
  ];
  for (const [name, headers] of cases) {
    let status: number | undefined;
    try {
      read(headers);
    } catch (error) {
      status = error instanceof GatewayError ? error.status : -1;
    }
    t.equal(status, 400, name);
  }
});
