import type { PolicyDocument, PolicyRule } from '../config/policy-schema.js';
import { canonicalPathPrefix, createCaseGuard } from '../lib/path.js';
import { compileRule } from './rule.js';
import type { Decision, Policy, RequestFacts, Subject } from './types.js';

interface CompiledRule {
  test(subject: Subject, request: RequestFacts): boolean;
  /** precomputed and frozen: evaluate returns it as is and allocates nothing */
  decision: Decision;
}

function decision(allow: boolean, reason: string): Decision {
  return Object.freeze({ allow, reasons: Object.freeze([reason]) });
}

function compileList(rules: readonly PolicyRule[], list: 'allow' | 'deny'): CompiledRule[] {
  return rules.map((rule, index) => {
    const criterion = compileRule(rule);
    return { test: criterion.test, decision: decision(list === 'allow', `${list}[${index}]: ${criterion.describe}`) };
  });
}

/** Every path_prefix a policy mentions, at any depth, in canonical form. */
export function policyPathPrefixes(document: PolicyDocument): string[] {
  const found: string[] = [];
  const visit = (rule: PolicyRule): void => {
    if (rule.path_prefix !== undefined) {
      for (const prefix of typeof rule.path_prefix === "string" ? [rule.path_prefix] : rule.path_prefix) {
        const canonical = canonicalPathPrefix(prefix);
        if (canonical !== undefined) found.push(canonical);
      }
    }
    rule.and?.forEach(visit);
    rule.or?.forEach(visit);
    if (rule.not !== undefined) visit(rule.not);
  };
  document.allow.forEach(visit);
  document.deny.forEach(visit);
  return found;
}

const NO_ALLOW_MATCHED = decision(false, 'no allow rule matched');

/** Deny wins; then the first matching allow rule; no match means deny. */
export function compilePolicy(document: PolicyDocument): Policy {
  const deny = compileList(document.deny, 'deny');
  const allow = compileList(document.allow, 'allow');
  const caseGuard = createCaseGuard(policyPathPrefixes(document));
  return Object.freeze({
    name: document.name,
    caseConfusable: caseGuard.confusable,
    evaluate(subject: Subject, request: RequestFacts): Decision {
      for (const rule of deny) if (rule.test(subject, request)) return rule.decision;
      for (const rule of allow) if (rule.test(subject, request)) return rule.decision;
      return NO_ALLOW_MATCHED;
    },
  });
}

/** Compiles every policy once, keyed by name. Config loading already refused duplicate names. */
export function compilePolicies(documents: readonly PolicyDocument[]): ReadonlyMap<string, Policy> {
  const policies = new Map<string, Policy>();
  for (const document of documents) {
    if (policies.has(document.name)) throw new Error(`duplicate policy name "${document.name}"`);
    policies.set(document.name, compilePolicy(document));
  }
  return policies;
}
