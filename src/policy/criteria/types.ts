import type { OneOrMany } from '../../config/policy-schema.js';
import type { RequestFacts, Subject } from '../types.js';

/** A compiled criterion: a closure over precomputed sets, plus how to name it in a Decision. */
export interface Criterion {
  test(subject: Subject, request: RequestFacts): boolean;
  /** e.g. `path_prefix /admin`, for Decision.reasons */
  describe: string;
}

export function toList(value: OneOrMany<string>): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

export function describeList(key: string, values: readonly unknown[]): string {
  return values.length === 1 ? `${key} ${String(values[0])}` : `${key} [${values.map(String).join(', ')}]`;
}

/**
 * An IdP that says an address is unverified (email_verified: false) has not proven the user
 * owns it, so email criteria never match it. Absent means the IdP does not say: trusted.
 */
export function verifiedEmail(subject: Subject): string | undefined {
  return subject.claims['email_verified'] === false ? undefined : subject.email;
}
