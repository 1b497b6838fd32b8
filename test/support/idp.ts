import { startDemoIdp, type DemoIdp, type DemoIdpClient, type DemoIdpOptions } from '../../src/demo/idp.js';
import type { BrowserClient } from './browser-client.js';

export type { DemoIdp, DemoIdpClient, DemoIdpOptions };

export const TEST_CLIENT_ID = 'portcullis';
export const TEST_CLIENT_SECRET = 'test-client-secret-of-reasonable-length';

/**
 * The client registration a gateway at `publicUrl` needs: its callback, its signed-out page as
 * post-logout redirect, and its back-channel logout receiver.
 */
export function gatewayClient(publicUrl: string, overrides: Partial<DemoIdpClient> = {}): DemoIdpClient {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    client_id: TEST_CLIENT_ID,
    client_secret: TEST_CLIENT_SECRET,
    redirect_uris: [`${base}/.portcullis/callback`],
    post_logout_redirect_uris: [`${base}/.portcullis/signed-out`],
    backchannel_logout_uri: `${base}/.portcullis/backchannel-logout`,
    ...overrides,
  };
}

/**
 * The demo IdP with test defaults: free port, back-channel logout allowed to loopback (tests
 * only), and either explicit clients or one client for `publicUrl`.
 */
export async function startTestIdp(
  options: Partial<DemoIdpOptions> & { publicUrl?: string } = {},
): Promise<DemoIdp> {
  const { publicUrl, clients, ...rest } = options;
  const registered = clients ?? (publicUrl ? [gatewayClient(publicUrl)] : []);
  if (registered.length === 0) throw new TypeError('startTestIdp: pass `clients` or `publicUrl`');
  return startDemoIdp({ backchannelLoopbackAllowed: true, ...rest, clients: registered });
}

/** The IdP session (sid) `browser` holds, read from the IdP's own store. */
export function idpSidOf(idp: DemoIdp, browser: BrowserClient): string {
  const sessionId = browser.jar.all('_session')[0]?.value;
  const entry = idp.entries('Session').find((e) => e.id === sessionId);
  const authorizations = (entry?.payload.authorizations ?? {}) as Record<string, { sid?: string }>;
  const sid = Object.values(authorizations)[0]?.sid;
  if (!sid) throw new Error('no IdP session for this browser');
  return sid;
}
