/**
 * Which hosts the session cookie set at public_url reaches. With cookie.domain it is that domain
 * and its subdomains; without, only public_url's own host (cookies ignore ports). Every other
 * route host gets a host-only cookie of its own through the sign-in handoff.
 */
export interface CookieScope {
  /** true when a cookie set at public_url is sent to `host` (a hostname, or host:port) */
  covers(host: string): boolean;
  /** the Domain attribute for a cookie set on `host`: cookie.domain when it covers the host, else host-only ("") */
  domainFor(host: string | undefined): string;
}

export function createCookieScope(options: { domain: string; publicHost: string }): CookieScope {
  const domain = options.domain.replace(/^\./, '').toLowerCase();
  const publicHost = options.publicHost.toLowerCase();
  const within = (host: string, parent: string) => host === parent || host.endsWith(`.${parent}`);
  const covers = (host: string): boolean => {
    const name = hostnameOf(host);
    return domain ? within(name, domain) && within(publicHost, domain) : name === publicHost;
  };
  return {
    covers,
    domainFor(host) {
      if (!options.domain || host === undefined) return options.domain;
      return within(hostnameOf(host), domain) ? options.domain : '';
    },
  };
}

/** "example.com:8443" → "example.com"; "[::1]:80" → "[::1]"; lower case. */
export function hostnameOf(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const colon = lower.indexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}
