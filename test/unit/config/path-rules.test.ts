import t from 'tap';
import { join } from 'node:path';
import { attempt, baseConfig, BASE_DIR, POLICY_FILES } from './helpers.js';

/**
 * Path rules judge the path the upstream receives. A rule that no path a route forwards can
 * meet is a deny that never fires (or an allow that never grants): check-config refuses it,
 * naming the policy key and the spelling that would match.
 */
function withRoutes(routes: unknown[]) {
  return { ...baseConfig(), routes };
}

t.test('a stripped route: rules are written for the app’s own paths', async (t) => {
  const ok = attempt(withRoutes([{ from: 'http://127.0.0.1:8080/eng', to: 'http://127.0.0.1:3000', policy: 'engineering', strip_prefix: true }]));
  t.same(ok.issues, [], 'deny /admin on a stripped /eng route can match (the upstream serves /admin)');
});

t.test('an unstripped route: a rule outside its prefix can never match', async (t) => {
  const bad = attempt(withRoutes([{ from: 'http://127.0.0.1:8080/eng', to: 'http://127.0.0.1:3000', policy: 'engineering' }]));
  t.equal(bad.issues.length, 1);
  t.match(bad.issues[0], /^policies\/engineering\.yml: deny\[0\]\.path_prefix: "\/admin" can never match on routes\[0\]/);
  t.match(bad.issues[0], /write "\/eng\/admin"/, 'the message gives the fix');
});

t.test('route.to with a path: rules see that path too', async (t) => {
  const bad = attempt(withRoutes([{ from: 'http://127.0.0.1:8080/eng', to: 'http://127.0.0.1:3000/base', policy: 'engineering', strip_prefix: true }]));
  t.match(bad.issues.join('\n'), /deny\[0\]\.path_prefix: .*under "\/base" \(strip_prefix removes "\/eng"\).*write "\/base\/admin"/);
  const files = {
    ...POLICY_FILES,
    [join(BASE_DIR, 'policies/based.yaml')]: 'name: based\nallow:\n  - or:\n      - path_prefix: [/base/ok, /elsewhere]\n',
  };
  const nested = attempt(withRoutes([{ from: 'http://127.0.0.1:8080/eng', to: 'http://127.0.0.1:3000/base', policy: 'based', strip_prefix: true }]), { files });
  t.same(nested.issues.map((i) => i.split(':').slice(0, 2).join(':')), ['policies/based.yaml: allow[0].or[0].path_prefix[1]'], 'nested rules are named by their key path');
});

t.test('a policy shared by routes is checked against each of them', async (t) => {
  const shared = attempt(
    withRoutes([
      { from: 'http://127.0.0.1:8080', to: 'http://127.0.0.1:3000', policy: 'engineering' },
      { from: 'http://127.0.0.1:8080/docs', to: 'http://127.0.0.1:3001', policy: 'engineering' },
    ]),
  );
  t.equal(shared.issues.length, 1);
  t.match(shared.issues[0], /routes\[1\]/);
});
