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
 * The subject's e-mail address when e-mail criteria may look at it, else undefined. Two checks:
 * - the IdP must say it verified the address: `email_verified` exactly true, or the string "true"
 *   that some IdPs send from userinfo. Missing, false or "false" means not proven (OIDC Core §5.1).
 * - the address must be one plain local@domain: a second "@" (a quoted local part such as
 *   `"x@corp.example"@evil.example`) or a domain that is not a host name never matches, so no
 *   parser difference between us and an app can move an address into a trusted domain.
 */
export function verifiedEmail(subject: Subject): string | undefined {
  const verified = Object.hasOwn(subject.claims, 'email_verified') ? subject.claims['email_verified'] : undefined;
  if (verified !== true && verified !== 'true') return undefined;
  const email = subject.email;
  return email !== undefined && isPlainAddress(email) ? email : undefined;
}

/** local part: 1–64 characters, no "@", whitespace, controls, quotes or other RFC 5322 specials */
const LOCAL_PART = /^[^\s@"(),:;<>[\\\]\x00-\x1f\x7f]{1,64}$/;
/** one DNS label: letters (any script), digits, inner hyphens; at most 63 characters */
const LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;

/** Exactly one "@", a non-empty local part, and a domain of at least two host-name labels. */
export function isPlainAddress(email: string): boolean {
  const at = email.indexOf('@');
  if (at <= 0 || at !== email.lastIndexOf('@') || email.length > 254) return false;
  if (!LOCAL_PART.test(email.slice(0, at))) return false;
  const labels = email.slice(at + 1).split('.');
  if (labels.length < 2) return false;
  for (const label of labels) if (!LABEL.test(label)) return false;
  return true;
}
