import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import type { Config } from '../../../src/config/index.js';
import { parseConfig } from '../../../src/config/load.js';

export const BASE_DIR = '/cfg';
export const COOKIE_SECRET = 'cookie-secret-that-is-long-enough-0123456789';

/** An in-memory file system for parseConfig: absolute path → content. */
export function memoryFs(files: Record<string, string>) {
  const enoent = (path: string) => Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return {
    readFile(path: string): string {
      const content = files[path];
      if (content === undefined) throw enoent(path);
      return content;
    },
    listDir(dir: string): string[] {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const names = Object.keys(files)
        .filter((path) => path.startsWith(prefix))
        .map((path) => path.slice(prefix.length))
        .filter((rest) => !rest.includes('/'));
      if (names.length === 0 && !(dir in files)) throw enoent(dir);
      return names;
    },
  };
}

export const POLICY_FILES: Record<string, string> = {
  [join(BASE_DIR, 'policies/everyone.yaml')]: 'name: everyone\nallow:\n  - authenticated: true\n',
  [join(BASE_DIR, 'policies/engineering.yml')]:
    'name: engineering\nallow:\n  - email_domain: example.com\ndeny:\n  - path_prefix: /admin\n    not: { groups: admins }\n',
  [join(BASE_DIR, 'policies/README.md')]: 'not a policy',
};

export function baseConfig(): Record<string, any> {
  return {
    server: { public_url: 'http://127.0.0.1:8080' },
    idp: { issuer: 'https://idp.example.com', client_id: 'portcullis', client_secret: 'client-secret' },
    cookie: { secret: COOKIE_SECRET },
    routes: [{ from: 'http://127.0.0.1:8080', to: 'http://127.0.0.1:3000', policy: 'everyone' }],
  };
}

export interface Attempt {
  config?: Config;
  /** "path: message" lines, in reported order */
  issues: string[];
  error?: ConfigError;
}

export function attempt(raw: unknown, options: { env?: NodeJS.ProcessEnv; files?: Record<string, string> } = {}): Attempt {
  const fs = memoryFs(options.files ?? POLICY_FILES);
  try {
    const config = parseConfig(raw, { baseDir: BASE_DIR, env: options.env ?? {}, readFile: fs.readFile, listDir: fs.listDir });
    return { config, issues: [] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { issues: error.issues.map((issue) => `${issue.path}: ${issue.message}`), error };
  }
}
