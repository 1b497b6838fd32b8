import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (dist/src/version.js → ../../package.json). */
export function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    // a trimmed install without package.json still runs; build_info then says so
    return 'unknown';
  }
}
