/** A route from config, compiled for matching. Pure data. */
export interface CompiledRoute {
  /** position in config.routes */
  index: number;
  /** stable label for metrics and logs: the `from` string as configured */
  id: string;
  scheme: 'http' | 'https';
  /** lower-case host; for a wildcard route the suffix including the dot, e.g. ".example.com" */
  host: string;
  wildcard: boolean;
  port: number;
  /** "" or "/app" (no trailing slash); matches at whole-segment boundaries */
  pathPrefix: string;
  to: URL;
  /** route.to's path without a trailing slash ("" for the root): prepended to what goes upstream */
  basePath: string;
  /** origin of `to`, the `aud` of identity assertions */
  audience: string;
  policy?: string;
  public: boolean;
  preserveHost: boolean;
  stripPrefix: boolean;
  timeoutMs: number;
  websockets: boolean;
  /** also accepts `Authorization: Bearer` IdP access tokens */
  bearerTokens: boolean;
}

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  /** host may include a port; path is the normalized path without query. Longest prefix wins. */
  match(scheme: 'http' | 'https', host: string, path: string): CompiledRoute | undefined;
  /**
   * True when a case-insensitive upstream would read `path` as under another prefix of the
   * matched route's host than the one that matched (`/ENG/x` matched `/` but reads as `/eng/x`).
   */
  caseConfusable(route: CompiledRoute, path: string): boolean;
}
