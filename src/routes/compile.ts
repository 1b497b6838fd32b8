import type { RouteConfig } from '../config/schema.js';
import { parseRouteFrom } from '../config/route-from.js';
import { ConfigError } from '../errors.js';
import { type CaseGuard, createCaseGuard, pathHasPrefix } from '../lib/path.js';
import { parseHostHeader } from './host.js';
import type { CompiledRoute, RouteTable } from './types.js';

const DEFAULT_PORT = { http: 80, https: 443 } as const;

function compileRoute(route: RouteConfig, index: number): CompiledRoute {
  const from = parseRouteFrom(route.from);
  // config loading validated `from`; a table built from unvalidated input still fails clearly
  if (!from.ok) throw new ConfigError([{ path: `routes[${index}].from`, message: from.message }]);
  const to = new URL(route.to);
  const compiled: CompiledRoute = {
    index,
    id: route.from,
    ...from.value,
    to,
    basePath: to.pathname.replace(/\/$/, ''),
    audience: to.origin,
    public: route.public,
    preserveHost: route.preserve_host,
    stripPrefix: route.strip_prefix,
    timeoutMs: route.timeout,
    websockets: route.websockets,
    bearerTokens: route.bearer_tokens,
  };
  if (route.policy !== undefined) compiled.policy = route.policy;
  return Object.freeze(compiled);
}

function groupKey(scheme: string, host: string, port: number): string {
  return `${scheme}://${host}:${port}`;
}

function addTo(groups: Map<string, CompiledRoute[]>, key: string, route: CompiledRoute): void {
  const list = groups.get(key);
  if (list) list.push(route);
  else groups.set(key, [route]);
}

/** Longest prefix first, so the first whole-segment match is the most specific route. */
function longestPrefixFirst(groups: Map<string, CompiledRoute[]>): void {
  for (const list of groups.values()) list.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || a.index - b.index);
}

function firstMatch(list: readonly CompiledRoute[] | undefined, path: string): CompiledRoute | undefined {
  if (list === undefined) return undefined;
  for (const route of list) if (pathHasPrefix(path, route.pathPrefix)) return route;
  return undefined;
}

/**
 * Builds the route table. Routes are grouped by scheme, host and port, so a match costs one
 * map lookup plus a scan of that host's few prefixes; wildcard suffixes are tried only when
 * no exact host matched, the most specific suffix first.
 */
export function compileRoutes(routes: readonly RouteConfig[]): RouteTable {
  const compiled = Object.freeze(routes.map(compileRoute));
  const exact = new Map<string, CompiledRoute[]>();
  const wildcard = new Map<string, CompiledRoute[]>();
  for (const route of compiled) addTo(route.wildcard ? wildcard : exact, groupKey(route.scheme, route.host, route.port), route);
  longestPrefixFirst(exact);
  longestPrefixFirst(wildcard);
  const hasWildcards = wildcard.size > 0;
  // each route is guarded by the prefixes of its host group: the routes that could have matched
  const guards = new Map<CompiledRoute, CaseGuard>();
  for (const list of [...exact.values(), ...wildcard.values()]) {
    const guard = createCaseGuard(list.map((route) => route.pathPrefix));
    for (const route of list) guards.set(route, guard);
  }

  return Object.freeze({
    routes: compiled,
    match(scheme: 'http' | 'https', hostHeader: string, path: string): CompiledRoute | undefined {
      const target = parseHostHeader(hostHeader, DEFAULT_PORT[scheme]);
      if (target === undefined) return undefined;
      const { host, port } = target;
      const route = firstMatch(exact.get(groupKey(scheme, host, port)), path);
      if (route !== undefined || !hasWildcards) return route;
      // "*.example.com" covers one or more labels below example.com, never example.com itself
      for (let dot = host.indexOf('.'); dot > 0; dot = host.indexOf('.', dot + 1)) {
        const match = firstMatch(wildcard.get(groupKey(scheme, host.slice(dot), port)), path);
        if (match !== undefined) return match;
      }
      return undefined;
    },
    caseConfusable(route: CompiledRoute, path: string): boolean {
      return guards.get(route)?.confusable(path) ?? false;
    },
  });
}
