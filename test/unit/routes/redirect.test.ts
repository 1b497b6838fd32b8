import t from 'tap';
import { routeSchema } from '../../../src/config/schema.js';
import { compileRoutes } from '../../../src/routes/compile.js';
import { isRedirectAllowed } from '../../../src/routes/redirect.js';

const table = compileRoutes(
  ['http://127.0.0.1:8080/app', 'https://app.example.com', 'https://*.apps.example.com/ui'].map((from) =>
    routeSchema.parse({ from, to: 'http://127.0.0.1:3000', policy: 'p' }),
  ),
);
const publicUrl = new URL('http://127.0.0.1:8080');
/** test names in TAP must stay on one line: escape everything outside printable ASCII */
const label = (s: string) => s.replace(/[^\x21-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

t.test('accepted targets', async (t) => {
  const cases: Array<[target: string, href: string]> = [
    ['/app', 'http://127.0.0.1:8080/app'],
    ['/app/x?y=1#frag', 'http://127.0.0.1:8080/app/x?y=1#frag'],
    ['/app/../app/x', 'http://127.0.0.1:8080/app/x'],
    ['http://127.0.0.1:8080/app/page', 'http://127.0.0.1:8080/app/page'],
    ['https://app.example.com/', 'https://app.example.com/'],
    ['HTTPS://APP.EXAMPLE.COM/anything', 'https://app.example.com/anything'],
    ['https://app.example.com:443/x', 'https://app.example.com/x'],
    ['https://team.apps.example.com/ui/home', 'https://team.apps.example.com/ui/home'],
  ];
  for (const [target, href] of cases) t.equal(isRedirectAllowed(table, target, publicUrl)?.href, href, target);
});

t.test('refused targets (open redirect variants)', async (t) => {
  const cases: string[] = [
    'https://evil',
    'https://evil.com/app',
    '//evil',
    '//evil.com/app',
    '///evil.com',
    '/\\evil',
    '\\\\evil',
    '\\/evil',
    '/\\/evil.com',
    'javascript:alert(1)',
    'JavaScript:alert(1)//https://app.example.com',
    'data:text/html,<script>alert(1)</script>',
    'https:evil.com',
    'https:/evil.com',
    'http:\\\\evil.com',
    'https://user:pass@app.example.com/',
    'https://user@app.example.com/',
    'https://app.example.com@evil.com/',
    'https://evil.com\\@app.example.com/',
    'https://evil.com#@app.example.com/',
    'https://evil.com?@app.example.com/',
    '/app\r\nLocation: https://evil',
    '/app\tx',
    ' /app',
    '/app ',
    '\u0000/app',
    '/app\u2028',
    'https://app.example.com\u00a0/',
    'app',
    './app',
    '../app',
    '',
    '/other',
    '/apps',
    'http://127.0.0.1:8080/other',
    'https://127.0.0.1:8080/app',
    'http://app.example.com/',
    'https://app.example.com:8443/',
    'https://apps.example.com/ui',
    'https://team.apps.example.com/other',
    'https://evil.com/.apps.example.com/ui',
    'ftp://app.example.com/',
    '/app/%2f%2fevil',
    '/app/%zz',
    'http://127.0.0.1:8080/app/..%2f..%2fother',
  ];
  for (const target of cases) t.equal(isRedirectAllowed(table, target, publicUrl), undefined, label(target));
});

t.test('a relative target is resolved against public_url', async (t) => {
  const https = compileRoutes([routeSchema.parse({ from: 'https://gw.example.com/app', to: 'http://127.0.0.1:3000', public: true })]);
  t.equal(isRedirectAllowed(https, '/app/x', new URL('https://gw.example.com/ignored/path'))?.href, 'https://gw.example.com/app/x');
  t.equal(isRedirectAllowed(https, '/app/x', new URL('http://127.0.0.1:8080')), undefined, 'not a route on that origin');
});
