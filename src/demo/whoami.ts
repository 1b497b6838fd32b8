import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { escapeHtml } from '../http/pages.js';

/**
 * The demo's upstream app: shows the identity the gateway passed on (X-Portcullis-User, -Email,
 * -Groups), the other headers it received and the path, with a sign-out button. JSON for
 * clients that ask for it.
 */
export interface Whoami {
  url: string;
  port: number;
  close(): Promise<void>;
}

const IDENTITY_HEADERS = ['x-portcullis-user', 'x-portcullis-email', 'x-portcullis-groups'] as const;

function describe(req: IncomingMessage) {
  const header = (name: string): string | undefined => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    user: header('x-portcullis-user') ?? null,
    email: header('x-portcullis-email') ?? null,
    groups: (header('x-portcullis-groups') ?? '').split(',').map((g) => g.trim()).filter(Boolean),
    headers: req.headers,
  };
}

function render(info: ReturnType<typeof describe>): string {
  const rows = Object.entries(info.headers)
    .filter(([name]) => !(IDENTITY_HEADERS as readonly string[]).includes(name))
    .map(([name, value]) => {
      const text = Array.isArray(value) ? value.join(', ') : (value ?? '');
      const shown = name === 'x-portcullis-jwt-assertion' && text.length > 60 ? `${text.slice(0, 60)}…` : text;
      return `<tr><th>${escapeHtml(name)}</th><td><code>${escapeHtml(shown)}</code></td></tr>`;
    })
    .join('\n');
  const who = info.user
    ? `<p class="who">Signed in as <b id="user">${escapeHtml(info.user)}</b></p>
<table>
<tr><th>User</th><td id="identity-user">${escapeHtml(info.user)}</td></tr>
<tr><th>Email</th><td id="identity-email">${escapeHtml(info.email ?? '')}</td></tr>
<tr><th>Groups</th><td id="identity-groups">${escapeHtml(info.groups.join(', '))}</td></tr>
</table>`
    : '<p class="who">No identity headers: this request did not come through Portcullis with a session.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>whoami</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:#1d2330}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e4e6eb;vertical-align:top}
th{width:14rem;font-weight:600}code{word-break:break-all}
button{font:inherit;padding:.45rem 1rem;border:0;border-radius:6px;background:#2f5bea;color:#fff;cursor:pointer}
</style></head>
<body>
<h1>whoami</h1>
${who}
<p>Path: <code id="path">${escapeHtml(info.path)}</code> · Method: <code>${escapeHtml(info.method)}</code></p>
<form method="post" action="/.portcullis/logout"><button type="submit" id="sign-out">Sign out</button></form>
<h2>Request headers</h2>
<table>
${rows}
</table>
</body></html>
`;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  // the body is irrelevant; read and drop it so keep-alive connections stay usable
  req.resume();
  req.on('end', () => {
    const info = describe(req);
    const accept = req.headers.accept ?? '';
    const wantsJson = accept.includes('application/json') && !accept.includes('text/html');
    res.setHeader('Cache-Control', 'no-store');
    if (wantsJson) {
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(info));
      return;
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(render(info));
  });
}

export async function startWhoami(options: { port?: number; host?: string } = {}): Promise<Whoami> {
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
