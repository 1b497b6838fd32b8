import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../../test/support/ports.js';
import { adopt, until } from '../lib/child.js';

/** The first `name` on PATH (plus the sbin directories, where Debian puts nginx), if any. */
export function onPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * nginx with one worker as a reverse proxy to `upstream` (keep-alive to the upstream, access log
 * written to /dev/null like the gateway's). Everything it writes lives in a temp dir; `daemon off`
 * keeps it our child, so stop() ends it.
 */
export async function startNginx(upstream: string): Promise<{ url: string; pid: number; stop(): Promise<void> } | { skipped: string }> {
  const nginx = onPath('nginx');
  if (!nginx) return { skipped: 'nginx is not installed' };
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-nginx-'));
  const port = await freePort();
  const up = new URL(upstream);
  const conf = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log /dev/null;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server ${up.host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const child = adopt(proc);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr.trim()}`);
      return (await fetch(`${url}/`)).ok;
    }, 'nginx', 10_000);
  } catch (error) {
    await stop();
    return { skipped: `nginx did not start (${(error as Error).message})` };
  }
  // the measured process is the one worker; the master only supervises
  return { url, pid: child.pid, stop };
}
