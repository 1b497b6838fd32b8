function percentDecode(segment: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(segment.slice(i + 1, i + 3))) { bytes.push(parseInt(segment.slice(i + 1, i + 3), 16)); i += 2; }
    else for (const b of Buffer.from(segment[i]!, 'utf8')) bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}
function reading(target: string): string {
  let path = target;
  const cut = path.search(/[?]/);
  if (cut !== -1) path = path.slice(0, cut);
  path = path.replaceAll('\\', '/');
  const out: string[] = [];
  for (let segment of path.split('/')) {
    for (const part of percentDecode(segment).replaceAll('\\', '/').split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') out.pop(); else out.push(part);
    }
  }
  return '/' + out.join('/');
}
export function deniedReading(target: string, prefixes: readonly string[]): string | undefined {
  const p = reading(target);
  return prefixes.some((x) => p === x || p.startsWith(x + '/') || p.startsWith(x + ';')) ? p : undefined;
}
