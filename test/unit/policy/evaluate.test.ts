import t from 'tap';
import { policySchema, type PolicyRule } from '../../../src/config/policy-schema.js';
import { compilePolicies, compilePolicy } from '../../../src/policy/compile.js';
import type { RequestFacts, Subject } from '../../../src/policy/types.js';

function subject(over: Partial<Subject> = {}): Subject {
  return { sub: 'u-1', email: 'Ada@Example.com', groups: ['eng', 'oncall'], claims: { email_verified: true }, ...over };
}
const GET_ROOT: RequestFacts = { method: 'GET', path: '/' };

/** one policy with one allow rule: does it allow? */
function allows(rule: unknown, who: Subject = subject(), request: RequestFacts = GET_ROOT): boolean {
  return compilePolicy(policySchema.parse({ name: 't', allow: [rule] })).evaluate(who, request).allow;
}

type Case = [name: string, rule: unknown, who: Subject, request: RequestFacts, expected: boolean];

t.test('each criterion', async (t) => {
  const cases: Case[] = [
    ['authenticated', { authenticated: true }, subject(), GET_ROOT, true],

    ['email exact, case-insensitive', { email: 'ada@example.COM' }, subject(), GET_ROOT, true],
    ['email list', { email: ['x@y.z', 'ada@example.com'] }, subject(), GET_ROOT, true],
    ['email other', { email: 'bob@example.com' }, subject(), GET_ROOT, false],
    ['email missing on subject', { email: 'ada@example.com' }, subject({ email: undefined }), GET_ROOT, false],
    ['email unverified', { email: 'ada@example.com' }, subject({ claims: { email_verified: false } }), GET_ROOT, false],
    ['email verification not stated', { email: 'ada@example.com' }, subject({ claims: {} }), GET_ROOT, false],

    ['email_domain', { email_domain: 'EXAMPLE.com' }, subject(), GET_ROOT, true],
    ['email_domain with @', { email_domain: '@example.com' }, subject(), GET_ROOT, true],
    ['email_domain list', { email_domain: ['corp.test', 'example.com'] }, subject(), GET_ROOT, true],
    ['email_domain: no subdomains', { email_domain: 'example.com' }, subject({ email: 'a@sub.example.com' }), GET_ROOT, false],
    ['email_domain: not a suffix trick', { email_domain: 'example.com' }, subject({ email: 'a@evilexample.com' }), GET_ROOT, false],
    ['email_domain: last @ counts', { email_domain: 'example.com' }, subject({ email: '"x@example.com"@evil.com' }), GET_ROOT, false],
    ['email_domain unverified', { email_domain: 'example.com' }, subject({ claims: { email_verified: false } }), GET_ROOT, false],
    ['email_domain, no email', { email_domain: 'example.com' }, subject({ email: undefined }), GET_ROOT, false],

    ['user', { user: 'u-1' }, subject(), GET_ROOT, true],
    ['user list', { user: ['u-2', 'u-1'] }, subject(), GET_ROOT, true],
    ['user is case-sensitive', { user: 'U-1' }, subject(), GET_ROOT, false],

    ['groups: member of one', { groups: 'oncall' }, subject(), GET_ROOT, true],
    ['groups: member of any', { groups: ['admins', 'eng'] }, subject(), GET_ROOT, true],
    ['groups: none', { groups: ['admins'] }, subject(), GET_ROOT, false],
    ['groups: subject without groups', { groups: 'eng' }, subject({ groups: [] }), GET_ROOT, false],

    ['claim value', { claim: { name: 'dept', value: 'r&d' } }, subject({ claims: { dept: 'r&d' } }), GET_ROOT, true],
    ['claim values', { claim: { name: 'dept', values: ['ops', 'r&d'] } }, subject({ claims: { dept: 'r&d' } }), GET_ROOT, true],
    ['claim other value', { claim: { name: 'dept', value: 'ops' } }, subject({ claims: { dept: 'r&d' } }), GET_ROOT, false],
    ['claim array contains', { claim: { name: 'roles', value: 'admin' } }, subject({ claims: { roles: ['user', 'admin'] } }), GET_ROOT, true],
    ['claim array lacks', { claim: { name: 'roles', value: 'root' } }, subject({ claims: { roles: ['user', 'admin'] } }), GET_ROOT, false],
    ['claim boolean', { claim: { name: 'mfa', value: true } }, subject({ claims: { mfa: true } }), GET_ROOT, true],
    ['claim number', { claim: { name: 'level', values: [3, 4] } }, subject({ claims: { level: 4 } }), GET_ROOT, true],
    ['claim strict types', { claim: { name: 'level', value: '4' } }, subject({ claims: { level: 4 } }), GET_ROOT, false],
    ['claim absent', { claim: { name: 'dept', value: 'x' } }, subject({ claims: {} }), GET_ROOT, false],
    ['claim not inherited', { claim: { name: 'toString', value: 'x' } }, subject({ claims: {} }), GET_ROOT, false],

    ['path_prefix', { path_prefix: '/app' }, subject(), { method: 'GET', path: '/app/x' }, true],
    ['path_prefix exact', { path_prefix: '/app' }, subject(), { method: 'GET', path: '/app' }, true],
    ['path_prefix whole segment', { path_prefix: '/app' }, subject(), { method: 'GET', path: '/apps' }, false],
    ['path_prefix trailing slash in config', { path_prefix: '/app/' }, subject(), { method: 'GET', path: '/app/x' }, true],
    ['path_prefix list', { path_prefix: ['/a', '/b'] }, subject(), { method: 'GET', path: '/b/1' }, true],
    ['path_prefix root', { path_prefix: '/' }, subject(), { method: 'GET', path: '/anything' }, true],
    ['path_prefix normalized in config', { path_prefix: '/x/../%61dmin' }, subject(), { method: 'GET', path: '/admin' }, true],

    ['method', { method: 'get' }, subject(), GET_ROOT, true],
    ['method list', { method: ['POST', 'PUT'] }, subject(), { method: 'PUT', path: '/' }, true],
    ['method other', { method: 'POST' }, subject(), GET_ROOT, false],
    ['method lower-case request', { method: 'DELETE' }, subject(), { method: 'delete', path: '/' }, true],

    ['implicit AND: all match', { groups: 'eng', method: 'GET' }, subject(), GET_ROOT, true],
    ['implicit AND: one fails', { groups: 'eng', method: 'POST' }, subject(), GET_ROOT, false],
    ['and', { and: [{ groups: 'eng' }, { email_domain: 'example.com' }] }, subject(), GET_ROOT, true],
    ['and, one fails', { and: [{ groups: 'eng' }, { email_domain: 'corp.test' }] }, subject(), GET_ROOT, false],
    ['or', { or: [{ groups: 'admins' }, { email_domain: 'example.com' }] }, subject(), GET_ROOT, true],
    ['or, none', { or: [{ groups: 'admins' }, { user: 'root' }] }, subject(), GET_ROOT, false],
    ['not', { not: { groups: 'admins' } }, subject(), GET_ROOT, true],
    ['not, matching', { not: { groups: 'eng' } }, subject(), GET_ROOT, false],
    ['nested', { or: [{ and: [{ groups: 'eng' }, { not: { method: 'DELETE' } }] }, { user: 'root' }] }, subject(), GET_ROOT, true],
    ['nested, blocked', { or: [{ and: [{ groups: 'eng' }, { not: { method: 'GET' } }] }, { user: 'root' }] }, subject(), GET_ROOT, false],
  ];
  for (const [name, rule, who, request, expected] of cases) t.equal(allows(rule, who, request), expected, name);
});

const engineering = compilePolicy(
  policySchema.parse({
    name: 'engineering',
    allow: [{ email_domain: 'example.com' }, { groups: 'engineering' }],
    deny: [{ path_prefix: '/admin', not: { groups: 'admins' } }, { method: 'DELETE', path_prefix: '/data' }],
  }),
);

t.test('deny wins; first matching allow; default deny; reasons', async (t) => {
  const cases: Array<[name: string, who: Subject, request: RequestFacts, allow: boolean, reason: string]> = [
    ['allowed by domain', subject(), GET_ROOT, true, 'allow[0]: email_domain example.com'],
    ['allowed by group', subject({ email: 'x@corp.test', groups: ['engineering'] }), GET_ROOT, true, 'allow[1]: groups engineering'],
    ['no allow rule', subject({ email: 'x@corp.test', groups: [] }), GET_ROOT, false, 'no allow rule matched'],
    ['deny beats allow', subject(), { method: 'GET', path: '/admin/users' }, false, 'deny[0]: path_prefix /admin and not(groups admins)'],
    ['deny does not apply to admins', subject({ groups: ['admins'] }), { method: 'GET', path: '/admin' }, true, 'allow[0]: email_domain example.com'],
    ['second deny', subject({ groups: ['admins'] }), { method: 'DELETE', path: '/data/1' }, false, 'deny[1]: method DELETE and path_prefix /data'],
    ['deny is checked even with no allow', subject({ email: undefined, groups: [] }), { method: 'GET', path: '/admin' }, false, 'deny[0]: path_prefix /admin and not(groups admins)'],
  ];
  for (const [name, who, request, allow, reason] of cases) {
    const decision = engineering.evaluate(who, request);
    t.equal(decision.allow, allow, `${name}: allow`);
    t.strictSame(decision.reasons, [reason], `${name}: reasons`);
  }
});

t.test('decisions are shared frozen values (no allocation per evaluation)', async (t) => {
  const a = engineering.evaluate(subject(), GET_ROOT);
  const b = engineering.evaluate(subject(), { method: 'POST', path: '/x' });
  t.equal(a, b, 'same object for the same rule');
  t.ok(Object.isFrozen(a) && Object.isFrozen(a.reasons));
  t.ok(Object.isFrozen(engineering));
});

t.test('descriptions of lists and combinators', async (t) => {
  const rule: PolicyRule = { or: [{ email: ['a@x.io', 'b@x.io'] }, { claim: { name: 'dept', values: ['ops', 'sre'] } }] };
  const policy = compilePolicy({ name: 'd', allow: [rule], deny: [] });
  t.strictSame(policy.evaluate(subject({ email: 'b@x.io' }), GET_ROOT).reasons, ['allow[0]: or(email [a@x.io, b@x.io]; claim dept = [ops, sre])']);
});

t.test('compilePolicies keys by name and refuses duplicates', async (t) => {
  const docs = [
    policySchema.parse({ name: 'a', allow: [{ authenticated: true }] }),
    policySchema.parse({ name: 'b', allow: [{ user: 'x' }] }),
  ];
  const map = compilePolicies(docs);
  t.strictSame([...map.keys()], ['a', 'b']);
  t.equal(map.get('a')?.evaluate(subject(), GET_ROOT).allow, true);
  t.equal(map.get('b')?.evaluate(subject(), GET_ROOT).allow, false);
  t.throws(() => compilePolicies([docs[0]!, docs[0]!]), /duplicate policy name "a"/);
});

t.test('an empty rule never compiles to "match everyone"', async (t) => {
  t.throws(() => compilePolicy({ name: 'x', allow: [{}], deny: [] }), /at least one criterion/);
});

t.test('a method rule about GET covers HEAD (frameworks run the GET handler for HEAD)', async (t) => {
  const policy = compilePolicy({ name: 'no-get', allow: [{ authenticated: true }], deny: [{ method: 'GET' }] } as never);
  const subject = { sub: 'u', groups: [], claims: {} };
  t.equal(policy.evaluate(subject, { method: 'HEAD', path: '/' }).allow, false);
  t.equal(policy.evaluate(subject, { method: 'POST', path: '/' }).allow, true);
});
