import { parse } from 'bowser';

/**
 * A stored User-Agent as a person reads it: "Chrome 130 on macOS", "Safari 17 on iOS".
 * The only importer of bowser. User agents are attacker-controlled text: the result is plain
 * text for the caller to escape, and a string bowser cannot read yields undefined.
 */
export function deviceName(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined;
  let parsed;
  try {
    parsed = parse(userAgent);
  } catch {
    return undefined;
  }
  const browser = parsed.browser.name;
  const major = parsed.browser.version?.split('.')[0];
  const os = parsed.os.name;
  if (!browser && !os) return undefined;
  const name = browser ? (major ? `${browser} ${major}` : browser) : 'A browser';
  return os ? `${name} on ${os}` : name;
}
