import t from 'tap';
import { policySchema } from '../../../src/config/policy-schema.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { isPlainAddress } from '../../../src/policy/criteria/types.js';
import type { Subject } from '../../../src/policy/types.js';

/** Only an IdP-verified, plain local@domain address satisfies `email` and `email_domain`. */

const byEmail = compilePolicy(policySchema.parse({ name: 'e', allow: [{ email: 'ada@example.com' }] }));
const byDomain = compilePolicy(policySchema.parse({ name: 'd', allow: [{ email_domain: 'example.com' }] }));
const GET = { method: 'GET', path: '/' };

function who(email: string | undefined, claims: Record<string, unknown>): Subject {
  return { sub: 'u-1', ...(email === undefined ? {} : { email }), groups: [], claims };
}

t.test('email_verified: only true or "true" counts', async (t) => {
  const cases: Array<[name: string, claims: Record<string, unknown>, allowed: boolean]> = [
    ['boolean true', { email_verified: true }, true],
    ['string "true" (userinfo of some IdPs)', { email_verified: 'true' }, true],
    ['missing', {}, false],
    ['boolean false', { email_verified: false }, false],
    ['string "false"', { email_verified: 'false' }, false],
    ['string "TRUE" is not the documented form', { email_verified: 'TRUE' }, false],
    ['number 1', { email_verified: 1 }, false],
    ['null', { email_verified: null }, false],
    ['array [true]', { email_verified: [true] }, false],
    ['object', { email_verified: { value: true } }, false],
    ['inherited only', Object.create({ email_verified: true }) as Record<string, unknown>, false],
  ];
  for (const [name, claims, allowed] of cases) {
    t.equal(byEmail.evaluate(who('ada@example.com', claims), GET).allow, allowed, `email: ${name}`);
    t.equal(byDomain.evaluate(who('ada@example.com', claims), GET).allow, allowed, `email_domain: ${name}`);
  }
});

t.test('addresses that are not exactly local@domain never match', async (t) => {
  const verified = { email_verified: true };
  const cases: Array<[email: string, domainRule: boolean]> = [
    ['ada@example.com', true],
    ['Ada.Lovelace+ops@EXAMPLE.COM', true],
    ['ada@b\u00fccher.example.com', false], // plausible (IDN), but another domain
    ['x@example.com@example.com', false],
    ['"x@example.com"@example.com', false],
    ['"x@evil.com"@example.com', false],
    ['x@evil.com@example.com', false],
    ['@example.com', false],
    ['ada@', false],
    ['ada', false],
    ['ada@example', false],
    ['ada@.example.com', false],
    ['ada@example..com', false],
    ['ada@example.com.', false],
    ['ada@-example.com', false],
    ['ada@example-.com', false],
    ['ada@exa_mple.com', false],
    ['ada@exa mple.com', false],
    ['ad a@example.com', false],
    ['ada\n@example.com', false],
    ['ada@example.com\n', false],
    ['ada@example.com\u0000', false],
    ['"ada"@example.com', false],
    ['ada<x>@example.com', false],
    [`${'a'.repeat(65)}@example.com`, false],
    ['', false],
  ];
  for (const [email, domainRule] of cases) {
    t.equal(byDomain.evaluate(who(email, verified), GET).allow, domainRule, `email_domain example.com vs ${JSON.stringify(email)}`);
  }
  // the exact-address rule for the same shapes: only the plain address itself
  const exact = compilePolicy(policySchema.parse({ name: 'x', allow: [{ email: ['x@example.com@example.com', 'ada@example.com'] }] }));
  t.equal(exact.evaluate(who('x@example.com@example.com', verified), GET).allow, false, 'a configured two-@ address never matches either');
  t.equal(exact.evaluate(who('ADA@example.com', verified), GET).allow, true, 'case-insensitive exact match still works');
});

t.test('isPlainAddress', async (t) => {
  const plain = ['a@b.co', 'first.last@sub.example.org', 'x+tag@xn--bcher-kva.example', 'ü@bücher.de', `${'a'.repeat(64)}@example.com`];
  const odd = ['a@b', 'a@@b.co', 'a@b.co@c.co', 'a@b.c_o', 'a b@c.de', 'a@b.co ', ' a@b.co', `a@${'x'.repeat(64)}.com`, `a@${'a.'.repeat(130)}com`];
  for (const email of plain) t.ok(isPlainAddress(email), `plain: ${email}`);
  for (const email of odd) t.notOk(isPlainAddress(email), `not plain: ${JSON.stringify(email)}`);
});
