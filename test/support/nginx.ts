import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.js';

/** Debian's nginx (package `nginx`, with the auth_request module). */
export const NGINX = '/usr/sbin/nginx';

export function nginxMissing(): string | undefined {
  try {
    accessSync(NGINX, constants.X_OK);
    return undefined;
  } catch {
    return `${NGINX} is not installed (apt-get install -y nginx)`;
  }
}

export interface RunningNginx {
  dir: string;
  /** what nginx wrote to its error log so far (for failure messages) */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * A real nginx as our child: `http` is the body of the http {} block (servers, upstreams, maps).
 * Everything it writes (pid, error log, temp files) lives in a fresh temp dir; `daemon off` and
 * `master_process off` keep it one process that stop() ends. Resolves once `readyUrl` answers.
 */
export async function startNginx(http: string, readyUrl: string): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-nginx-'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((name) => `  ${name}_temp_path ${join(dir, name)};`)
    .join('\n');
  const conf = `pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 256; }
http {
  access_log off;
${temp}
${http}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const proc = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off; master_process off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually(async () => {
      if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr.trim()} ${errorLog()}`);
      await fetch(readyUrl, { redirect: 'manual' });
      return true;
    }, 10_000);
  } catch (error) {
    const log = errorLog();
    await stop();
    throw new Error(`nginx did not start: ${(error as Error).message}\n${stderr}\n${log}`);
  }
  return { dir, errorLog, stop };
}
