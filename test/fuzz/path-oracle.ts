/**
 * How upstream servers read a request target, as leniently as common ones do, so the fuzz can ask
 * "could any of them see this path under a denied prefix?". Each reading cuts the target at '?'
 * and '#' (parseurl, new URL()), turns '\' into '/' (IIS, Windows), percent-decodes each segment,
 * resolves dot segments and duplicate slashes, and compares without ASCII case (Express,
 * ASP.NET and IIS route case-insensitively). One reading drops ';params' from every segment
 * first (Tomcat, Spring, Jetty read /docs;x/secret as /docs/secret); the other keeps them.
 */

function percentDecode(segment: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(segment.slice(i + 1, i + 3))) {
      bytes.push(parseInt(segment.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(segment[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function reading(target: string, dropParams: boolean): string {
  let path = target;
  const cut = path.search(/[?#]/);
  if (cut !== -1) path = path.slice(0, cut);
  path = path.replaceAll('\\', '/');
  const out: string[] = [];
  for (let segment of path.split('/')) {
    if (dropParams) segment = segment.split(';')[0]!;
    // a decoded %2F or %5C is a separator for the lenient decoders this models
    for (const part of percentDecode(segment).replaceAll('\\', '/').split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') out.pop();
      else out.push(part.toLowerCase());
    }
  }
  return '/' + out.join('/');
}

/** The distinct paths lenient upstreams could take `target` (as received) to mean. */
export function upstreamReadings(target: string): string[] {
  return [...new Set([reading(target, true), reading(target, false)])];
}

/** Whole-segment prefix test: a prefix covers itself, `prefix/…` and `prefix;…`. */
export function underPrefix(path: string, prefix: string): boolean {
  const p = prefix.toLowerCase();
  if (!path.startsWith(p)) return false;
  const next = path.charAt(p.length);
  return next === '' || next === '/' || next === ';';
}

/** The first reading of `target` that falls under one of `prefixes`, if any. */
export function deniedReading(target: string, prefixes: readonly string[]): string | undefined {
  return upstreamReadings(target).find((path) => prefixes.some((prefix) => underPrefix(path, prefix)));
}
