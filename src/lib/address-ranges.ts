import { BlockList, isIP } from 'node:net';

/**
 * IP addresses and CIDR ranges ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"), as operators list
 * their proxies in `server.trust_forwarded_headers`. node:net's BlockList does the matching.
 */
export interface AddressRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** One entry, or undefined when it is neither an IP address nor a CIDR range of one. */
export function parseAddressRange(text: string): AddressRange | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash === -1) return { address, prefix: max, family };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= max ? { address, prefix, family } : undefined;
}

/** Addresses like ::ffff:10.0.0.1 are IPv4 peers seen through a dual-stack socket. */
function plain(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * A predicate over peer addresses: true for every address when `setting` is true, none when
 * false, else those inside one of the listed ranges. Entries must have been validated (config).
 */
export function createAddressMatcher(setting: boolean | readonly string[]): (ip: string | undefined) => boolean {
  if (typeof setting === 'boolean') return () => setting;
  const list = new BlockList();
  for (const entry of setting) {
    const range = parseAddressRange(entry);
    if (range === undefined) throw new TypeError('createAddressMatcher: an entry is not an address or CIDR range');
    list.addSubnet(range.address, range.prefix, range.family);
  }
  return (ip) => {
    if (!ip) return false;
    const address = plain(ip);
    const version = isIP(address);
    return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };
}
