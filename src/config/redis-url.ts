import { ConfigError } from '../errors.js';

export interface HostPort {
  host: string;
  port: number;
}

interface Auth {
  username?: string;
  password?: string;
  tls: boolean;
}

/** Where `session.redis.url` points. Secrets stay in these fields and never reach a message. */
export type RedisTarget =
  | ({ mode: 'standalone'; host: string; port: number; db: number } & Auth)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; masterName: string; db: number; sentinelPassword?: string } & Auth)
  | ({ mode: 'cluster'; nodes: HostPort[] } & Auth);

const KEY = 'session.redis.url';
const MULTI = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^@/?#]*)@)?([^/?#]+)(\/[^?#]*)?(\?[^#]*)?$/;

function fail(message: string): never {
  throw new ConfigError([{ path: KEY, message }]);
}

function parseDb(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,2}$/.test(text)) fail('the database must be a number, e.g. redis://host:6379/0');
  return Number(text);
}

function parseHosts(list: string, defaultPort: number): HostPort[] {
  return list.split(',').map((item) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(item.trim());
    if (!match) fail('each host must be host or host:port, comma-separated');
    const port = match[2] === undefined ? defaultPort : Number(match[2]);
    if (port < 1 || port > 65_535) fail('a port must be between 1 and 65535');
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function parseAuth(userinfo: string | undefined): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return fail('the user or password is not valid percent-encoding');
    }
  };
  const username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon));
  const password = colon === -1 ? undefined : decode(userinfo.slice(colon + 1));
  return { ...(username === '' ? {} : { username }), ...(password === undefined || password === '' ? {} : { password }) };
}

/**
 * redis://[user:pass@]host[:port][/db]              standalone (rediss:// for TLS)
 * redis+sentinel://[user:pass@]h:p[,h:p]/master[/db][?sentinel_password=…]
 * redis+cluster://[user:pass@]h:p[,h:p]             (database 0 only)
 */
export function parseRedisUrl(url: string): RedisTarget {
  const multi = MULTI.exec(url);
  if (multi) {
    const tls = multi[1] === 'rediss';
    const auth = { ...parseAuth(multi[3]), tls };
    const path = (multi[5] ?? '').split('/').filter((s) => s !== '');
    const query = new URLSearchParams((multi[6] ?? '').slice(1));
    if (multi[2] === 'sentinel') {
      const sentinels = parseHosts(multi[4]!, 26_379);
      const masterName = path[0];
      if (masterName === undefined || path.length > 2) fail('a sentinel URL is redis+sentinel://host:port[,host:port]/masterName[/db]');
      const sentinelPassword = query.get('sentinel_password') ?? undefined;
      return { mode: 'sentinel', sentinels, masterName: decodeURIComponent(masterName), db: parseDb(path[1]), ...auth, ...(sentinelPassword ? { sentinelPassword } : {}) };
    }
    if (path.length > 1 || (path[0] !== undefined && path[0] !== '0')) fail('Redis Cluster has only database 0');
    return { mode: 'cluster', nodes: parseHosts(multi[4]!, 6379), ...auth };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    fail('must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL');
  }
  if (parsed.hostname === '') fail('the host is missing');
  const auth = parseAuth(parsed.username || parsed.password ? `${parsed.username}:${parsed.password}` : undefined);
  const segments = parsed.pathname.split('/').filter((s) => s !== '');
  if (segments.length > 1) fail('the path may only hold the database number');
  return {
    mode: 'standalone',
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    db: parseDb(segments[0]),
    ...auth,
    tls: parsed.protocol === 'rediss:',
  };
}

/** For logs: the target without credentials. */
export function describeTarget(target: RedisTarget): string {
  const scheme = target.tls ? 'rediss' : 'redis';
  switch (target.mode) {
    case 'standalone':
      return `${scheme}://${target.host}:${target.port}/${target.db}`;
    case 'sentinel':
      return `${scheme}+sentinel://${target.sentinels.map((h) => `${h.host}:${h.port}`).join(',')}/${target.masterName}/${target.db}`;
    case 'cluster':
      return `${scheme}+cluster://${target.nodes.map((h) => `${h.host}:${h.port}`).join(',')}`;
  }
}
