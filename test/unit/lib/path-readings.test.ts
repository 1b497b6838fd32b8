import t from 'tap';
import parseurl from 'parseurl';
import type { IncomingMessage } from 'node:http';
import { createCaseGuard, normalizePath, pathHasPrefix } from '../../../src/lib/path.js';

/**
 * One path is judged and forwarded: for every request target the gateway accepts, the path it
 * forwards, read the way common upstream frameworks read it, is under a deny prefix exactly when
 * the path the policy judged is. The readings are real code where it runs here (parseurl, which
 * Express uses, and WHATWG `new URL()`) and the documented behaviour of the others (Tomcat and
 * Spring drop `;params` from every segment; Express and ASP.NET route case-insensitively).
 */
const DENY = ['/docs/secret', '/admin'];
const guard = createCaseGuard(DENY);

/** What the gateway does with a request target: the path it judges and forwards, or refused. */
function gatewayPath(target: string): string | undefined {
  if (target.includes('#')) return undefined; // request-context.ts refuses a fragment
  const q = target.indexOf('?');
  const path = normalizePath(q === -1 ? target : target.slice(0, q));
  if (path === undefined || guard.confusable(path)) return undefined;
  return path;
}

function decode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

const readings: Record<string, (target: string) => { path: string; caseInsensitive: boolean }> = {
  'Express (parseurl, case-insensitive routing)': (target) => ({
    path: decode(parseurl({ url: target } as IncomingMessage)?.pathname ?? ''),
    caseInsensitive: true,
  }),
  'WHATWG new URL()': (target) => ({ path: decode(new URL(target, 'http://upstream').pathname), caseInsensitive: false }),
  'ASP.NET (new URL(), case-insensitive)': (target) => ({
    path: decode(new URL(target, 'http://upstream').pathname).toUpperCase().toLowerCase(),
    caseInsensitive: true,
  }),
  'Tomcat/Spring (;params dropped per segment)': (target) => {
    const raw = target.split('?')[0]!.split('/').map((segment) => segment.split(';')[0]).join('/');
    return { path: decode(new URL(raw, 'http://upstream').pathname), caseInsensitive: false };
  },
};

function underDeny(path: string, caseInsensitive: boolean): boolean {
  return DENY.some((prefix) => (caseInsensitive ? pathHasPrefix(path.toLowerCase(), prefix) : pathHasPrefix(path, prefix)));
}

const TARGETS = [
  '/docs/secret#x',
  '/docs/secret?x#y',
  '/docs/public#/../secret',
  '/docs;x/secret/k',
  '/docs/secret;x/k',
  '/;x/docs/secret',
  '/docs/secret;jsessionid=1',
  '/docs/SECRET/k',
  '/DOCS/secret',
  '/Admin',
  '/ADMIN/users',
  '/docs/%53ECRET',
  '/docs/%73ecret/k',
  '/%64ocs/secret',
  '/docs//secret',
  '/docs/./secret',
  '/docs/x/../secret',
  '/docs/%2e%2e/docs/secret',
  '/docs/public/%2E%2E/secret',
  '/docs/secret%2Fk',
  '/docs%2Fsecret',
  '/docs\\secret',
  '/docs/secret%00',
  '/docs/secret%09',
  '/docs/secret%0A',
  '/docs/%C5%BFecret',
  '/%E2%84%AAadmin',
  '/docs/secret/..;/public',
  '/admin?next=/docs/public',
  '/docs/public?/admin',
  '/docs/public',
  '/docs/secrets',
  '/administrator',
  '/docs/Public/Page',
];

t.test('every reading of an accepted target agrees with the judged path about the deny rules', async (t) => {
  for (const target of TARGETS) {
    const judged = gatewayPath(target);
    if (judged === undefined) continue;
    const forwarded = `${judged}${target.includes('?') ? target.slice(target.indexOf('?')) : ''}`;
    const denied = underDeny(judged, false);
    for (const [name, read] of Object.entries(readings)) {
      const { path, caseInsensitive } = read(forwarded);
      if (underDeny(path, caseInsensitive)) t.ok(denied, `${target}: ${name} reads ${path}; the policy must judge it denied (judged ${judged})`);
    }
  }
});

t.test('the examples from the hardening issue are refused or judged as the upstream reads them', async (t) => {
  const cases: Array<[target: string, expected: string | undefined]> = [
    ['/docs/secret#x', undefined],
    ['/docs;x/secret/k', undefined],
    ['/docs/SECRET/k', undefined],
    ['/docs/secret;x', '/docs/secret;x'],
    ['/docs/%73ecret/k', '/docs/secret/k'],
    ['/docs/secret%0A', undefined],
    ['/docs/%C5%BFecret', undefined],
    ['/docs/%C5%BFecret/%FF', undefined], // an invalid escape elsewhere does not stop the folding
    ['/docs/secret.', undefined],
    ['/docs/secret%20', undefined],
    ['/%E2%84%AAadmin', '/%E2%84%AAadmin'], // Kelvin sign + admin reads as /kadmin: another path
    ['/docs/public', '/docs/public'],
    ['/docs/Public/Page', '/docs/Public/Page'],
    ['/administrator', '/administrator'],
  ];
  for (const [target, expected] of cases) t.equal(gatewayPath(target), expected, target);
});

t.test('case guard: only prefixes that fold alike but differ are confusable', async (t) => {
  const g = createCaseGuard(['/docs/secret', '/API']);
  t.equal(g.confusable('/docs/secret/x'), false);
  t.equal(g.confusable('/docs/Secret/x'), true);
  t.equal(g.confusable('/api/v1'), true, 'a lower-case path against an upper-case prefix');
  t.equal(g.confusable('/API/v1'), false);
  t.equal(g.confusable('/Docs/other'), false, 'not under any prefix in any case');
  t.equal(createCaseGuard(['', '/']).confusable('/ANY'), false, 'the root prefix covers every spelling');
});
