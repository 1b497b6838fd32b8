import type { PolicyRule } from '../config/policy-schema.js';
import { compileAuthenticated } from './criteria/authenticated.js';
import { compileClaim } from './criteria/claim.js';
import { allOf, anyOf, negate } from './criteria/combinators.js';
import { compileEmailDomain } from './criteria/email-domain.js';
import { compileEmail } from './criteria/email.js';
import { compileGroups } from './criteria/groups.js';
import { compileMethod } from './criteria/method.js';
import { compilePathPrefix } from './criteria/path-prefix.js';
import type { Criterion } from './criteria/types.js';
import { compileUser } from './criteria/user.js';

function group(rules: readonly PolicyRule[]): Criterion[] {
  return rules.map(compileRule);
}

/** A rule is the AND of the criteria it lists, in a fixed order (cheap checks first). */
export function compileRule(rule: PolicyRule): Criterion {
  const parts: Criterion[] = [];
  if (rule.authenticated === true) parts.push(compileAuthenticated());
  if (rule.method !== undefined) parts.push(compileMethod(rule.method));
  if (rule.path_prefix !== undefined) parts.push(compilePathPrefix(rule.path_prefix));
  if (rule.user !== undefined) parts.push(compileUser(rule.user));
  if (rule.email !== undefined) parts.push(compileEmail(rule.email));
  if (rule.email_domain !== undefined) parts.push(compileEmailDomain(rule.email_domain));
  if (rule.groups !== undefined) parts.push(compileGroups(rule.groups));
  if (rule.claim !== undefined) parts.push(compileClaim(rule.claim));
  if (rule.and !== undefined) {
    const children = group(rule.and);
    parts.push(allOf(children, `and(${children.map((c) => c.describe).join('; ')})`));
  }
  if (rule.or !== undefined) {
    const children = group(rule.or);
    parts.push(anyOf(children, `or(${children.map((c) => c.describe).join('; ')})`));
  }
  if (rule.not !== undefined) {
    const child = compileRule(rule.not);
    parts.push(negate(child, `not(${child.describe})`));
  }
  // the schema refuses an empty rule; an empty AND here would match everyone, so refuse too
  if (parts.length === 0) throw new Error('a policy rule needs at least one criterion');
  return allOf(parts, parts.map((p) => p.describe).join(' and '));
}
