import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { isPlainObject } from './resolve-values.js';
import { parseRouteFrom, routeFromKey } from './route-from.js';
import { canonicalPathPrefix, pathHasPrefix } from '../lib/path.js';
import type { PolicyDocument, PolicyRule } from './policy-schema.js';
import { parseRedisUrl } from './redis-url.js';
import { configSchema } from './schema.js';

/**
 * Checks that need more than one key, or knowledge the schema does not have (the policies on
 * disk). Each reads only the keys it needs, each parsed on its own, so one broken key does not
 * hide the problems of another: the operator sees everything in one go.
 */

export interface SemanticInput {
  /** the document after ${env:} and *_file resolution */
  raw: unknown;
  /** names of the loaded policies; undefined when the directory could not be read */
  policyNames: ReadonlySet<string> | undefined;
  /** policies_dir as written, for messages */
  policiesDir: string;
  /** the policies that loaded without problems, and the file each came from (for key paths) */
  policies?: readonly PolicyDocument[];
  policyFiles?: ReadonlyMap<string, string>;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

type Shape<S extends 'server' | 'idp' | 'cookie'> = (typeof configSchema.shape)[S]['shape'];

/**
 * One key's value with its default applied, or undefined when that key itself is invalid (the
 * schema already reported it). Per key, so an unrelated typo in a section hides nothing.
 */
function field<S extends 'server' | 'idp' | 'cookie', K extends keyof Shape<S> & string>(
  raw: Record<string, unknown>,
  sectionKey: S,
  key: K,
): z.output<Shape<S>[K]> | undefined {
  const rawSection = raw[sectionKey];
  if (!isPlainObject(rawSection)) return undefined;
  const schema = (configSchema.shape[sectionKey].shape as Record<string, z.ZodType>)[key]!;
  const result = schema.safeParse(rawSection[key]);
  return result.success ? (result.data as z.output<Shape<S>[K]>) : undefined;
}

function splitHostPort(value: string): { host: string; port: string } {
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon).toLowerCase(), port: value.slice(colon + 1) };
}

function listenersCollide(a: string, b: string): boolean {
  const left = splitHostPort(a);
  const right = splitHostPort(b);
  // port 0 asks the OS for a free port: two of them never collide
  if (Number(left.port) === 0 || Number(left.port) !== Number(right.port)) return false;
  return left.host === right.host || WILDCARD_HOSTS.has(left.host) || WILDCARD_HOSTS.has(right.host);
}

function checkRoutes(raw: Record<string, unknown>, input: SemanticInput, issues: ConfigIssue[]): void {
  const routes = raw['routes'];
  if (!Array.isArray(routes)) return;
  const firstIndexByKey = new Map<string, number>();
  routes.forEach((route: unknown, index) => {
    if (!isPlainObject(route)) return;
    const at = `routes[${index}]`;
    const from = route['from'];
    if (typeof from === 'string' && from !== '') {
      const parsed = parseRouteFrom(from);
      if (!parsed.ok) issues.push({ path: `${at}.from`, message: parsed.message });
      else {
        const key = routeFromKey(parsed.value);
        const first = firstIndexByKey.get(key);
        if (first === undefined) firstIndexByKey.set(key, index);
        else issues.push({ path: `${at}.from`, message: `duplicates routes[${first}].from` });
      }
    }

    const policy = route['policy'];
    if (route['public'] === true) {
      if (policy !== undefined) {
        issues.push({ path: `${at}.policy`, message: 'a public route takes no policy (remove "policy" or "public: true")' });
      }
    } else if (policy === undefined) {
      issues.push({ path: `${at}.policy`, message: 'is required (or set "public: true" for a route that needs no sign-in)' });
    } else if (typeof policy === 'string' && policy !== '' && input.policyNames && !input.policyNames.has(policy)) {
      const known = [...input.policyNames].sort();
      const found = known.length > 0 ? `found: ${known.join(', ')}` : 'it has no policies';
      issues.push({ path: `${at}.policy`, message: `no policy named "${policy}" in ${input.policiesDir} (${found})` });
    }
  });
}

/**
 * A bearer route with no accepted audience would refuse every token: RFC 9068 §4 makes the
 * audience check mandatory, so the operator must say which `aud` values mean "this gateway".
 */
function checkBearerRoutes(raw: Record<string, unknown>, issues: ConfigIssue[]): void {
  const routes = raw['routes'];
  if (!Array.isArray(routes)) return;
  let first: number | undefined;
  routes.forEach((route: unknown, index) => {
    if (!isPlainObject(route) || route['bearer_tokens'] !== true) return;
    first ??= index;
    if (route['public'] === true) {
      issues.push({ path: `routes[${index}].bearer_tokens`, message: 'a public route checks no tokens (remove "bearer_tokens" or "public: true")' });
    }
  });
  const audiences = first === undefined ? undefined : field(raw, 'idp', 'access_token_audiences');
  if (audiences !== undefined && audiences.length === 0) {
    issues.push({
      path: 'idp.access_token_audiences',
      message: `must list at least one audience: routes[${first}] accepts bearer tokens, and a token is accepted only when its "aud" names one of them`,
    });
  }
}

/** Every path_prefix value in a policy, with its key path (`deny[0].path_prefix[1]`). */
function pathRules(document: PolicyDocument): Array<{ key: string; prefix: string }> {
  const found: Array<{ key: string; prefix: string }> = [];
  const visit = (rule: PolicyRule, at: string): void => {
    const value = rule.path_prefix;
    if (typeof value === 'string') found.push({ key: `${at}.path_prefix`, prefix: value });
    else value?.forEach((prefix, i) => found.push({ key: `${at}.path_prefix[${i}]`, prefix }));
    rule.and?.forEach((child, i) => visit(child, `${at}.and[${i}]`));
    rule.or?.forEach((child, i) => visit(child, `${at}.or[${i}]`));
    if (rule.not !== undefined) visit(rule.not, `${at}.not`);
  };
  document.allow.forEach((rule, i) => visit(rule, `allow[${i}]`));
  document.deny.forEach((rule, i) => visit(rule, `deny[${i}]`));
  return found;
}

/**
 * Policies judge the path the upstream receives: route.to's path, then the request path less
 * the route prefix when strip_prefix is on. A path rule outside every path a route can forward
 * can never match there, which is always a mistake (a deny that never fires), so it is refused
 * with the spelling that would match.
 */
function checkPathRules(raw: Record<string, unknown>, input: SemanticInput, issues: ConfigIssue[]): void {
  const routes = raw['routes'];
  if (!Array.isArray(routes) || !input.policies) return;
  const byName = new Map(input.policies.map((p) => [p.name, p]));
  routes.forEach((route: unknown, index) => {
    if (!isPlainObject(route) || route['public'] === true || typeof route['policy'] !== 'string') return;
    const document = byName.get(route['policy']);
    const from = typeof route['from'] === 'string' ? parseRouteFrom(route['from']) : undefined;
    if (!document || !from?.ok || typeof route['to'] !== 'string' || !URL.canParse(route['to'])) return;
    const base = new URL(route['to']).pathname.replace(/\/$/, '');
    const strip = route['strip_prefix'] === true;
    // every path this route forwards lies under `space`
    const space = canonicalPathPrefix(strip ? base || '/' : `${base}${from.value.pathPrefix}` || '/') ?? '';
    if (space === '') return;
    const file = input.policyFiles?.get(document.name) ?? `${input.policiesDir}/${document.name}`;
    for (const rule of pathRules(document)) {
      const prefix = canonicalPathPrefix(rule.prefix);
      if (prefix === undefined || pathHasPrefix(prefix, space) || pathHasPrefix(space, prefix)) continue;
      const stripped = strip ? ` (strip_prefix removes "${from.value.pathPrefix}")` : '';
      issues.push({
        path: `${file}: ${rule.key}`,
        message:
          `"${rule.prefix}" can never match on routes[${index}] (${route['from']}), whose upstream receives only paths under ` +
          `"${space}"${stripped}; path rules judge the path the upstream receives — write "${space}${prefix}"`,
      });
    }
  });
}

/** The Redis URL as the store will read it at start-up, so check-config fails where the gateway would. */
function checkRedisUrl(raw: Record<string, unknown>, issues: ConfigIssue[]): void {
  const session = raw['session'];
  if (!isPlainObject(session) || session['store'] !== 'redis' || !isPlainObject(session['redis'])) return;
  const url = session['redis']['url'];
  if (typeof url !== 'string' || url === '') return; // the schema reports a missing or non-string url
  try {
    parseRedisUrl(url);
  } catch (error) {
    if (error instanceof ConfigError) issues.push(...error.issues);
    else throw error;
  }
}

/** Browsers treat loopback as a secure context and keep Secure cookies there. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Protected routes on hosts the session cookie cannot reach sign in through a one-time handoff
 * from public_url, which puts a session credential (the ticket, then the host's cookie) on that
 * host. Over plain http from an https public_url it would travel in clear text: refused, unless
 * the Secure check above already refused the route.
 */
function checkHandoffRoutes(raw: Record<string, unknown>, publicUrl: URL, secure: boolean, domain: string, issues: ConfigIssue[]): void {
  if (publicUrl.protocol !== 'https:' || secure) return;
  const publicHost = publicUrl.hostname.toLowerCase();
  const within = (name: string, parent: string) => name === parent || name.endsWith(`.${parent}`);
  // a wildcard ".example.com" is judged by one of its concrete hosts: all share the suffix
  const reached = (name: string) => (domain ? within(name, domain) && within(publicHost, domain) : name === publicHost);
  const routes = Array.isArray(raw['routes']) ? (raw['routes'] as unknown[]) : [];
  routes.forEach((route, index) => {
    if (!isPlainObject(route) || route['public'] === true || typeof route['from'] !== 'string') return;
    const parsed = parseRouteFrom(route['from']);
    if (!parsed.ok || parsed.value.scheme !== 'http' || isLoopback(parsed.value.host)) return;
    const name = parsed.value.wildcard ? `x${parsed.value.host}` : parsed.value.host;
    if (reached(name)) return;
    issues.push({
      path: `routes[${index}].from`,
      message:
        'is http:// on a host the session cookie does not cover, so its sign-in handoff from the https server.public_url ' +
        'would carry the session in clear text (use https for this route, or cover its host with cookie.domain)',
    });
  });
}

export function semanticIssues(input: SemanticInput): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!isPlainObject(input.raw)) return issues;
  const raw = input.raw;
  checkRoutes(raw, input, issues);
  checkPathRules(raw, input, issues);
  checkRedisUrl(raw, issues);
  checkBearerRoutes(raw, issues);

  const listen = field(raw, 'server', 'listen');
  const adminListen = field(raw, 'server', 'admin_listen');
  if (listen !== undefined && adminListen !== undefined && listenersCollide(listen, adminListen)) {
    issues.push({
      path: 'server.admin_listen',
      message: `must differ from server.listen ("${listen}"): metrics and health never share the proxy port`,
    });
  }

  const issuer = field(raw, 'idp', 'issuer');
  if (issuer !== undefined && new URL(issuer).protocol === 'http:' && field(raw, 'idp', 'allow_insecure_http') === false) {
    issues.push({
      path: 'idp.issuer',
      message: 'must be https:// (set idp.allow_insecure_http: true only for a local or test IdP)',
    });
  }

  const publicUrlText = field(raw, 'server', 'public_url');
  const publicUrl = publicUrlText === undefined ? undefined : new URL(publicUrlText);
  const secureSetting = field(raw, 'cookie', 'secure');
  const secure = secureSetting === 'auto' ? publicUrl && publicUrl.protocol === 'https:' : secureSetting;
  if (field(raw, 'cookie', 'same_site') === 'none' && secure === false) {
    issues.push({
      path: 'cookie.same_site',
      message: 'none requires a Secure cookie (cookie.secure: true, or auto with an https public_url)',
    });
  }

  if (secure === true) {
    // a Secure cookie set over plain http is dropped by the browser, and the sign-in would loop
    if (publicUrl && publicUrl.protocol === 'http:' && !isLoopback(publicUrl.hostname)) {
      issues.push({ path: 'cookie.secure', message: 'true needs an https server.public_url (browsers drop Secure cookies set over http)' });
    }
    const routes = Array.isArray(raw['routes']) ? (raw['routes'] as unknown[]) : [];
    routes.forEach((route, index) => {
      if (!isPlainObject(route) || route['public'] === true || typeof route['from'] !== 'string') return;
      const parsed = parseRouteFrom(route['from']);
      if (parsed.ok && parsed.value.scheme === 'http' && !isLoopback(parsed.value.host)) {
        issues.push({
          path: `routes[${index}].from`,
          message: 'is http:// but the session cookie is Secure: browsers would never send it there (use https, or make the route public)',
        });
      }
    });
  }

  const domain = field(raw, 'cookie', 'domain')?.replace(/^\./, '').toLowerCase();
  const host = publicUrl?.hostname.toLowerCase();
  if (publicUrl && host !== undefined && domain !== undefined) checkHandoffRoutes(raw, publicUrl, secure === true, domain, issues);
  if (domain && host !== undefined && host !== domain && !host.endsWith(`.${domain}`)) {
    issues.push({
      path: 'cookie.domain',
      message: `must be server.public_url's host "${host}" or a parent domain of it (browsers refuse the cookie otherwise)`,
    });
  }
  return issues;
}
