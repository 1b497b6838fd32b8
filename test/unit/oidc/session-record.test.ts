import t from 'tap';
import { groupsFrom, sessionRecordFrom, userFromClaims } from '../../../src/oidc/session-record.js';
import type { LoginResult } from '../../../src/oidc/types.js';

t.test('groups come from the configured claim in its common shapes', async (t) => {
  const cases: Array<[unknown, string[]]> = [
    [['staff', 'admins'], ['staff', 'admins']],
    [['staff', 42, null, 'staff', ' ops '], ['staff', 'ops']],
    ['staff,admins', ['staff', 'admins']],
    ['staff admins', ['staff', 'admins']],
    ['', []],
    [undefined, []],
    [{ staff: true }, []],
  ];
  for (const [value, expected] of cases) t.same(groupsFrom({ roles: value }, 'roles'), expected, JSON.stringify(value));
});

t.test('a session record from a login', async (t) => {
  const result: LoginResult = {
    sub: 'alice',
    claims: { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['staff'], dept: 'eng' },
    sid: 'idp-session',
    tokens: { accessToken: 'at', refreshToken: 'rt', idToken: 'it', tokenType: 'bearer' },
    accessTokenExpiresAt: 1_000_060_000,
  };
  const record = sessionRecordFrom({
    handle: 'h',
    result,
    groupsClaim: 'groups',
    now: 1_000_000_000,
    lifetimeMs: 14 * 3_600_000,
    userAgent: 'Mozilla/5.0 \u0000\u001b[31m',
  });
  t.match(record, {
    handle: 'h',
    user: { sub: 'alice', email: 'alice@example.com', name: 'Alice', groups: ['staff'], claims: { dept: 'eng' } },
    idpSid: 'idp-session',
    createdAt: 1_000_000_000,
    lastSeenAt: 1_000_000_000,
    expiresAt: 1_000_000_000 + 14 * 3_600_000,
    accessTokenExpiresAt: 1_000_060_000,
    refreshable: true,
    version: 1,
    userAgent: 'Mozilla/5.0 [31m',
  });
  const noRefresh = sessionRecordFrom({
    handle: 'h2',
    result: { ...result, sid: undefined, tokens: { accessToken: 'at' }, claims: { sub: 'bob', preferred_username: 'bobby' } },
    groupsClaim: 'groups',
    now: 0,
    lifetimeMs: 1000,
    userAgent: undefined,
  });
  t.equal(noRefresh.refreshable, false);
  t.equal(noRefresh.idpSid, undefined);
  t.equal(noRefresh.user.name, 'bobby');
  t.same(noRefresh.user.groups, []);
  t.notOk('userAgent' in noRefresh);
});

t.test('the session carries an e-mail only when the IdP marks it verified (upstreams trust X-Portcullis-Email)', async (t) => {
  const claimsFor = (email_verified: unknown) => userFromClaims('u', { email: 'boss@example.com', ...(email_verified === undefined ? {} : { email_verified }) }, 'groups');
  t.equal(claimsFor(true).email, 'boss@example.com');
  t.equal(claimsFor('true').email, 'boss@example.com', 'the string some userinfo endpoints send');
  for (const value of [undefined, false, 'false', 1, null]) t.equal(claimsFor(value).email, undefined, `email_verified ${JSON.stringify(value)}`);
  t.equal(claimsFor(false).claims['email'], 'boss@example.com', 'the raw claim stays for claim rules');
});
