import type { KoaContextLike } from 'oidc-provider';

/** The demo IdP's accounts: any username exists, with claims derived from it. */

export function defaultGroups(username: string): string[] {
  return username === 'admin' ? ['staff', 'admins'] : ['staff'];
}

export function demoClaims(username: string, groupsFor: (u: string) => string[]): Record<string, unknown> {
  const email = username.includes('@') ? username : `${username}@example.com`;
  const local = email.split('@')[0] ?? username;
  return {
    sub: username,
    email,
    email_verified: true,
    name: local.charAt(0).toUpperCase() + local.slice(1),
    preferred_username: username,
    groups: groupsFor(username),
  };
}

/**
 * Auto-consent (oidc-provider's documented "skip consent" recipe): the grant a registered
 * client gets covers whatever OIDC scopes and claims it asks for, so no consent screen shows.
 */
export async function loadExistingGrant(ctx: KoaContextLike) {
  const { oidc } = ctx;
  const accountId = oidc.session.accountId;
  if (!accountId) return undefined;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
  const grant = (grantId ? await oidc.provider.Grant.find(grantId) : undefined) ??
    new oidc.provider.Grant({ accountId, clientId: oidc.client.clientId });
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  grant.addOIDCClaims([...oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

/** The IdP's "sign out?" page, plain and offline (the default one pulls a web font). */
export async function logoutSource(ctx: { host: string; body?: unknown }, form: string): Promise<void> {
  const host = ctx.host.replace(/[<>&"']/g, '');
  ctx.body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out of the demo IdP</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:12vh auto;padding:0 1rem}
button{font:inherit;padding:.5rem 1rem;margin:.25rem .5rem 0 0;border-radius:6px;border:1px solid #2f5bea;cursor:pointer}
#confirm-logout{background:#2f5bea;color:#fff}</style></head>
<body><h1>Sign out of the demo IdP (${host})?</h1>
${form}
<button id="confirm-logout" autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button id="stay-signed-in" type="submit" form="op.logoutForm">No, stay signed in</button>
</body></html>`;
}
