import { z } from 'zod';
import { canonicalPathPrefix } from '../lib/path.js';

/**
 * The shape of one policy file (`policies/*.yaml`). Validation only: the document keeps the
 * author's spelling, and policy/compile.ts turns it into matchers once.
 */

export type OneOrMany<T> = T | readonly T[];
export type ClaimValue = string | number | boolean;

export interface ClaimCriterion {
  name: string;
  value?: ClaimValue;
  values?: readonly ClaimValue[];
}

/** Every criterion present must match (implicit AND). */
export interface PolicyRule {
  email?: OneOrMany<string>;
  email_domain?: OneOrMany<string>;
  user?: OneOrMany<string>;
  groups?: OneOrMany<string>;
  claim?: ClaimCriterion;
  path_prefix?: OneOrMany<string>;
  method?: OneOrMany<string>;
  authenticated?: true;
  and?: readonly PolicyRule[];
  or?: readonly PolicyRule[];
  not?: PolicyRule;
}

export interface PolicyDocument {
  name: string;
  description?: string;
  allow: readonly PolicyRule[];
  deny: readonly PolicyRule[];
}

export const RULE_KEYS = [
  'email',
  'email_domain',
  'user',
  'groups',
  'claim',
  'path_prefix',
  'method',
  'authenticated',
  'and',
  'or',
  'not',
] as const;

function oneOrMany(item: z.ZodType<string>): z.ZodType<OneOrMany<string>> {
  return z.union([item, z.array(item).min(1, 'must list at least one value')], {
    error: 'must be a string or a list of strings',
  });
}

const text = z.string().min(1, 'must not be empty');

const email = text.refine((value) => value.includes('@') && !/\s/.test(value), 'must be an email address');

const emailDomain = text.refine(
  (value) => /^@?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(value),
  'must be a domain like "example.com"',
);

const pathPrefix = text.refine(
  (value) => value.startsWith('/') && canonicalPathPrefix(value) !== undefined,
  'must be a path starting with "/" (no encoded slashes, backslashes or NUL)',
);

const method = text.regex(/^[A-Za-z]+$/, 'must be an HTTP method like GET');

const claimValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' });

const claim = z
  .strictObject({
    name: text,
    value: claimValue.optional(),
    values: z.array(claimValue).min(1, 'must list at least one value').optional(),
  })
  .refine((c) => (c.value === undefined) !== (c.values === undefined), 'give exactly one of value or values');

export const policyRuleSchema: z.ZodType<PolicyRule> = z
  .strictObject({
    email: oneOrMany(email).optional(),
    email_domain: oneOrMany(emailDomain).optional(),
    user: oneOrMany(text).optional(),
    groups: oneOrMany(text).optional(),
    claim: claim.optional(),
    path_prefix: oneOrMany(pathPrefix).optional(),
    method: oneOrMany(method).optional(),
    authenticated: z.literal(true, { error: 'must be true (omit it otherwise)' }).optional(),
    get and() {
      return z.array(policyRuleSchema).min(1, 'must list at least one rule').optional();
    },
    get or() {
      return z.array(policyRuleSchema).min(1, 'must list at least one rule').optional();
    },
    get not() {
      return policyRuleSchema.optional();
    },
  })
  // an empty rule would match everyone; make that intent explicit
  .refine((rule) => RULE_KEYS.some((key) => rule[key] !== undefined), {
    message: 'a rule needs at least one criterion (use "authenticated: true" to match any signed-in user)',
  });

export const policySchema = z.strictObject({
  name: text.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be a name of letters, digits, ".", "_" or "-"'),
  description: z.string().optional(),
  allow: z.array(policyRuleSchema).min(1, 'must list at least one rule (a policy that allows nobody is a mistake)'),
  deny: z.array(policyRuleSchema).default([]),
});
