/**
 * Host header → lower-case host and numeric port (the scheme's default when absent).
 * Undefined for anything that is not a plain DNS name, IPv4 or bracketed IPv6 literal, so odd
 * bytes can never slip under a wildcard route or into a preserved Host.
 */
export interface HostPort {
  host: string;
  port: number;
}

function validPort(text: string): number | undefined {
  if (text.length === 0 || text.length > 5) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function validName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f;
    if (!ok) return false;
    // no empty labels: ".example.com" or "a..example.com" would fake a wildcard label
    if (c === 0x2e && (i === 0 || host.charCodeAt(i - 1) === 0x2e)) return false;
  }
  return true;
}

function validIpv6(literal: string): boolean {
  // "[...]" with hex digits, colons and dots (embedded IPv4) only
  for (let i = 1; i < literal.length - 1; i++) {
    const c = literal.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || c === 0x3a || c === 0x2e;
    if (!ok) return false;
  }
  return literal.length > 2;
}

export function parseHostHeader(header: string, defaultPort: number): HostPort | undefined {
  const value = header.toLowerCase();
  let host: string;
  let portText: string | undefined;
  if (value.charCodeAt(0) === 0x5b) {
    const close = value.indexOf(']');
    if (close === -1) return undefined;
    host = value.slice(0, close + 1);
    const rest = value.slice(close + 1);
    if (rest !== '' && rest.charCodeAt(0) !== 0x3a) return undefined;
    if (rest !== '') portText = rest.slice(1);
    if (!validIpv6(host)) return undefined;
  } else {
    const colon = value.indexOf(':');
    host = colon === -1 ? value : value.slice(0, colon);
    if (colon !== -1) portText = value.slice(colon + 1);
    // "example.com." is the same name as "example.com"
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (!validName(host)) return undefined;
  }
  if (portText === undefined) return { host, port: defaultPort };
  const port = validPort(portText);
  return port === undefined ? undefined : { host, port };
}
