import t from 'tap';
import { attempt, baseConfig, BASE_DIR, POLICY_FILES } from './helpers.js';

const dir = `${BASE_DIR}/policies`;

function withPolicy(file: string, text: string, raw = baseConfig()) {
  return attempt(raw, { files: { ...POLICY_FILES, [`${dir}/${file}`]: text } });
}

t.test('policy issues name the file and the key path', async (t) => {
  const cases: Array<[name: string, text: string, expected: string[]]> = [
    ['wrong type', 'name: eng\nallow:\n  - email_domain: 5\n', ['policies/eng.yaml: allow[0].email_domain: must be a string or a list of strings']],
    ['bad list item', 'name: eng\nallow:\n  - email_domain: [example.com, 5]\n', ['policies/eng.yaml: allow[0].email_domain[1]: must be a string']],
    ['empty list', 'name: eng\nallow:\n  - groups: []\n', ['policies/eng.yaml: allow[0].groups: must list at least one value']],
    ['bad email', 'name: eng\nallow:\n  - email: bob\n', ['policies/eng.yaml: allow[0].email: must be an email address']],
    ['bad domain', 'name: eng\nallow:\n  - email_domain: "exa mple.com"\n', ['policies/eng.yaml: allow[0].email_domain: must be a domain like "example.com"']],
    ['relative path', 'name: eng\nallow:\n  - path_prefix: admin\n', ['policies/eng.yaml: allow[0].path_prefix: must be a path starting with "/" (no encoded slashes, backslashes or NUL)']],
    ['encoded slash path', 'name: eng\nallow:\n  - path_prefix: /a%2Fb\n', ['policies/eng.yaml: allow[0].path_prefix: must be a path starting with "/" (no encoded slashes, backslashes or NUL)']],
    ['bad method', 'name: eng\nallow:\n  - method: "GET POST"\n', ['policies/eng.yaml: allow[0].method: must be an HTTP method like GET']],
    ['authenticated false', 'name: eng\nallow:\n  - authenticated: false\n', ['policies/eng.yaml: allow[0].authenticated: must be true (omit it otherwise)']],
    ['empty rule', 'name: eng\nallow:\n  - {}\n', ['policies/eng.yaml: allow[0]: a rule needs at least one criterion (use "authenticated: true" to match any signed-in user)']],
    ['claim without value', 'name: eng\nallow:\n  - claim: { name: dept }\n', ['policies/eng.yaml: allow[0].claim: give exactly one of value or values']],
    ['claim with both', 'name: eng\nallow:\n  - claim: { name: dept, value: a, values: [b] }\n', ['policies/eng.yaml: allow[0].claim: give exactly one of value or values']],
    ['claim object value', 'name: eng\nallow:\n  - claim: { name: dept, value: { a: 1 } }\n', ['policies/eng.yaml: allow[0].claim.value: must be a string, number or boolean']],
    ['unknown criterion', 'name: eng\nallow:\n  - emails: a@b.c\n', [
      'policies/eng.yaml: allow[0].emails: unknown key (did you mean "email"?)',
      'policies/eng.yaml: allow[0]: a rule needs at least one criterion (use "authenticated: true" to match any signed-in user)',
    ]],
    ['nested', 'name: eng\nallow:\n  - or:\n      - not: { groups: 5 }\n', ['policies/eng.yaml: allow[0].or[0].not.groups: must be a string or a list of strings']],
    ['empty and', 'name: eng\nallow:\n  - and: []\n', ['policies/eng.yaml: allow[0].and: must list at least one rule']],
    ['deny too', 'name: eng\nallow:\n  - authenticated: true\ndeny:\n  - method: 1\n', ['policies/eng.yaml: deny[0].method: must be a string or a list of strings']],
    ['no allow', 'name: eng\ndeny:\n  - method: GET\n', ['policies/eng.yaml: allow: is required']],
    ['empty allow', 'name: eng\nallow: []\n', ['policies/eng.yaml: allow: must list at least one rule (a policy that allows nobody is a mistake)']],
    ['no name', 'allow:\n  - authenticated: true\n', ['policies/eng.yaml: name: is required']],
    ['bad name', 'name: "my policy"\nallow:\n  - authenticated: true\n', ['policies/eng.yaml: name: must be a name of letters, digits, ".", "_" or "-"']],
    ['unknown top key', 'name: eng\nallow:\n  - authenticated: true\nallows: []\n', ['policies/eng.yaml: allows: unknown key (did you mean "allow"?)']],
    ['not a mapping', '- a\n', ['policies/eng.yaml: must be a mapping']],
    ['empty file', '# nothing\n', ['policies/eng.yaml: the file is empty']],
    ['YAML syntax', 'name: eng\nallow:\n  - email: "unterminated\n', ['policies/eng.yaml: YAML syntax error at line 4, column 1: Missing closing "quote']],
    ['duplicate YAML key', 'name: eng\nname: eng2\nallow:\n  - authenticated: true\n', ['policies/eng.yaml: YAML syntax error at line 2, column 1: Map keys must be unique']],
    ['missing env', 'name: eng\nallow:\n  - email_domain: ${env:COMPANY_DOMAIN}\n', ['policies/eng.yaml: allow[0].email_domain: environment variable COMPANY_DOMAIN is not set']],
  ];
  for (const [name, text, expected] of cases) t.strictSame(withPolicy('eng.yaml', text).issues, expected, name);
});

t.test('a valid policy file keeps the author\'s spelling; env works in policies', async (t) => {
  const text = 'name: eng\ndescription: staff\nallow:\n  - email_domain: ${env:DOMAIN}\n    method: [get, HEAD]\n';
  const raw = baseConfig();
  raw.routes[0].policy = 'eng';
  const { config, issues } = attempt(raw, { files: { ...POLICY_FILES, [`${dir}/eng.yaml`]: text }, env: { DOMAIN: 'example.com' } });
  t.strictSame(issues, []);
  t.strictSame(config?.policies.find((p) => p.name === 'eng'), {
    name: 'eng',
    description: 'staff',
    allow: [{ email_domain: 'example.com', method: ['get', 'HEAD'] }],
    deny: [],
  });
});

t.test('duplicate policy names are refused', async (t) => {
  t.strictSame(withPolicy('z-again.yaml', 'name: everyone\nallow:\n  - user: x\n').issues, [
    'policies/z-again.yaml: name: policy "everyone" is already defined in policies/everyone.yaml',
  ]);
});

t.test('a route naming a broken policy gets only the policy file\'s issue', async (t) => {
  const raw = baseConfig();
  raw.routes[0].policy = 'broken';
  t.strictSame(withPolicy('broken.yaml', 'name: broken\nallow: 5\n', raw).issues, ['policies/broken.yaml: allow: must be a list']);
});

t.test('policies_dir problems', async (t) => {
  const explicitMissing = { ...baseConfig(), policies_dir: 'nowhere' };
  t.strictSame(attempt(explicitMissing).issues, ['policies_dir: directory "/cfg/nowhere" does not exist']);

  t.strictSame(attempt(baseConfig(), { files: {} }).issues, ['policies_dir: directory "/cfg/policies" does not exist'], 'default dir, route names a policy');

  const allPublic = { ...baseConfig(), routes: [{ from: 'http://a.test', to: 'http://x', public: true }] };
  t.strictSame(attempt(allPublic, { files: {} }).issues, [], 'default dir may be absent when no route needs a policy');

  const custom = { ...baseConfig(), policies_dir: '/etc/portcullis/policies' };
  const files = { '/etc/portcullis/policies/everyone.yaml': 'name: everyone\nallow:\n  - authenticated: true\n' };
  t.strictSame(attempt(custom, { files }).issues, [], 'absolute policies_dir');

  const emptyDir = { ...baseConfig(), policies_dir: 'empty' };
  t.strictSame(attempt(emptyDir, { files: { '/cfg/empty': '' } }).issues, ['routes[0].policy: no policy named "everyone" in empty (it has no policies)']);

  t.strictSame(attempt({ ...baseConfig(), policies_dir: 5 }).issues, ['policies_dir: must be a string']);
});
