/**
 * `npm run demo`: an in-process OpenID Provider (any username signs in), a "whoami" upstream,
 * and the gateway in front of it with the in-memory store, on fixed local ports. The IdP is on
 * `localhost` and the gateway on `127.0.0.1`, so their cookies stay apart as two sites' would.
 */
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { randomToken } from '../lib/random.js';
import { parseConfig } from '../config/index.js';
import { createGateway } from '../gateway.js';
import { createLogger, prettyDestination } from '../observability/logger.js';
import { captureIdpNotices } from './idp-notices.js';
import { startWhoami } from './whoami.js';

export interface DemoOptions {
  out: (line: string) => void;
  /** PORTCULLIS_DEMO_PORT, _ADMIN_PORT, _IDP_PORT, _WHOAMI_PORT (main.ts passes process.env) */
  env?: Record<string, string | undefined>;
  gatewayPort?: number;
  adminPort?: number;
  idpPort?: number;
  whoamiPort?: number;
  /** default "warn": the first screen is the banner, not start-up chatter */
  logLevel?: string;
  /** where readable (pino-pretty) log lines go; default stdout */
  logDestination?: NodeJS.WritableStream;
  colorize?: boolean;
}

const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));

export async function runDemo(options: DemoOptions): Promise<{ url: string; close(): Promise<void> }> {
  const env = options.env ?? {};
  const notices: string[] = [];
  // until the banner is out the notices wait in `notices`; afterwards they are logged as they come
  let onNotice = (text: string): void => void notices.push(text);
  const restoreConsole = captureIdpNotices((text) => onNotice(text));
  // imported only now, so the notices oidc-provider prints on import are caught too
  const { startDemoIdp } = await import('./idp.js');
  const gatewayPort = options.gatewayPort ?? Number(env.PORTCULLIS_DEMO_PORT ?? 8080);
  const adminPort = options.adminPort ?? Number(env.PORTCULLIS_DEMO_ADMIN_PORT ?? 9090);
  const idpPort = options.idpPort ?? Number(env.PORTCULLIS_DEMO_IDP_PORT ?? 8081);
  const whoamiPort = options.whoamiPort ?? Number(env.PORTCULLIS_DEMO_WHOAMI_PORT ?? 8082);
  const publicUrl = `http://127.0.0.1:${gatewayPort}`;
  const clientSecret = randomToken(24);

  const idp = await startDemoIdp({
    port: idpPort,
    host: 'localhost',
    backchannelLoopbackAllowed: true,
    clients: [
      {
        client_id: 'portcullis-demo',
        client_secret: clientSecret,
        redirect_uris: [`${publicUrl}/.portcullis/callback`],
        post_logout_redirect_uris: [`${publicUrl}/.portcullis/signed-out`],
        backchannel_logout_uri: `${publicUrl}/.portcullis/backchannel-logout`,
      },
    ],
  });
  const whoami = await startWhoami({ port: whoamiPort, host: '127.0.0.1' });

  const config = parseConfig(
    {
      server: { listen: `127.0.0.1:${gatewayPort}`, admin_listen: `127.0.0.1:${adminPort}`, public_url: publicUrl },
      idp: {
        issuer: idp.issuer,
        client_id: 'portcullis-demo',
        client_secret: clientSecret,
        allow_insecure_http: true,
      },
      // a fresh secret per run: demo sessions do not outlive the demo
      cookie: { secret: randomToken(32) },
      session: { store: 'memory' },
      routes: [{ from: publicUrl, to: `http://127.0.0.1:${whoamiPort}`, policy: 'everyone', websockets: true }],
      policies_dir: 'policies',
      log: { level: options.logLevel ?? 'warn' },
    },
    { baseDir: projectRoot, env },
  );
  // log lines wait here until the banner is out, then go to the terminal readable
  const held = new PassThrough();
  const logger = createLogger({ level: config.log.level, destination: held });
  const gateway = createGateway(config, { logger });
  await gateway.listen();

  options.out(`Portcullis demo is running.
  Open ${publicUrl}/ and sign in with any username (try "admin" for the admins group).
  Identity provider: ${idp.issuer}   upstream "whoami": http://127.0.0.1:${whoamiPort}
  Metrics and health: http://127.0.0.1:${adminPort}/metrics  /healthz  /readyz
  Press Ctrl+C to stop.`);
  held.pipe(prettyDestination({ colorize: options.colorize ?? false, destination: options.logDestination ?? process.stdout }) as NodeJS.WritableStream);
  const idpLogger = logger.child({ part: 'demo-idp' });
  onNotice = (text) => idpLogger.info(`demo IdP (development mode, expected here): ${text}`);
  for (const text of notices.splice(0)) onNotice(text);

  return {
    url: publicUrl,
    async close() {
      await gateway.close();
      await whoami.close();
      await idp.close();
      restoreConsole();
    },
  };
}
