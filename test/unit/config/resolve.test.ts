import t from 'tap';
import { attempt, baseConfig, BASE_DIR, COOKIE_SECRET, POLICY_FILES } from './helpers.js';

t.test('${env:NAME} in any string value', async (t) => {
  const raw = baseConfig();
  raw.idp.client_secret = '${env:OIDC_SECRET}';
  raw.cookie.secret = '${env:COOKIE}';
  raw.server.public_url = 'http://${env:HOST}:${env:PORT}';
  raw.idp.scopes = ['openid', '${env:EXTRA_SCOPE}'];
  raw.routes[0].to = 'http://${env:HOST}:3000';
  const env = { OIDC_SECRET: 's3cret', COOKIE: COOKIE_SECRET, HOST: '127.0.0.1', PORT: '8080', EXTRA_SCOPE: 'groups' };
  const { config, issues } = attempt(raw, { env });
  t.strictSame(issues, []);
  t.equal(config?.idp.client_secret, 's3cret');
  t.equal(config?.cookie.secret, COOKIE_SECRET);
  t.equal(config?.server.public_url, 'http://127.0.0.1:8080', 'several references in one string');
  t.strictSame(config?.idp.scopes, ['openid', 'groups'], 'inside lists');
  t.equal(config?.routes[0]?.to, 'http://127.0.0.1:3000', 'inside list items');
});

t.test('env problems name the key and the variable, and hide the schema echo', async (t) => {
  const raw = baseConfig();
  raw.idp.client_secret = '${env:OIDC_SECRET}';
  raw.cookie.secret = '${env:COOKIE}';
  raw.routes[0].to = '${env:UPSTREAM}';
  raw.session = { redis: { url: 'redis://${env:bad-name}/0', key_prefix: 'p-${env:PREFIX' } };
  const { issues } = attempt(raw, { env: { UPSTREAM: 'http://127.0.0.1:3000' } });
  t.strictSame(issues, [
    'idp.client_secret: environment variable OIDC_SECRET is not set',
    'cookie.secret: environment variable COOKIE is not set',
    'session.redis.url: "${env:bad-name}" is not a valid environment variable reference',
    'session.redis.key_prefix: has an unterminated "${env:" reference',
  ]);
  t.strictSame(attempt({ ...baseConfig(), policies_dir: '${env:}' }).issues, [
    'policies_dir: "${env:}" is not a valid environment variable reference',
    'policies_dir: directory "/cfg/${env:}" does not exist',
  ]);
});

t.test('an empty env var is set (the schema then judges the value)', async (t) => {
  const raw = baseConfig();
  raw.idp.client_secret = '${env:EMPTY}';
  t.strictSame(attempt(raw, { env: { EMPTY: '' } }).issues, ['idp.client_secret: must not be empty']);
});

t.test('other ${…} text and keys are left alone', async (t) => {
  const raw = baseConfig();
  raw.session = { redis: { key_prefix: '${literal}:' } };
  const { config, issues } = attempt(raw);
  t.strictSame(issues, []);
  t.equal(config?.session.redis.key_prefix, '${literal}:');
});

t.test('*_file reads a secret relative to baseDir, without the trailing newline', async (t) => {
  const raw = baseConfig();
  delete raw.idp.client_secret;
  raw.idp.client_secret_file = 'secrets/client';
  raw.cookie = { secret_file: '/run/secrets/cookie' };
  raw.session = { encryption_key_file: '${env:KEY_DIR}/session-key' };
  const files = {
    ...POLICY_FILES,
    [`${BASE_DIR}/secrets/client`]: 'client-from-file\n',
    '/run/secrets/cookie': `${COOKIE_SECRET}\r\n`,
    '/keys/session-key': 'k'.repeat(43),
  };
  const { config, issues } = attempt(raw, { files, env: { KEY_DIR: '/keys' } });
  t.strictSame(issues, []);
  t.equal(config?.idp.client_secret, 'client-from-file');
  t.equal(config?.cookie.secret, COOKIE_SECRET);
  t.equal(config?.session.encryption_key, 'k'.repeat(43), 'the file path itself may use ${env:}');
  t.notOk(config && 'client_secret_file' in config.idp, 'the _file key is gone');
});

t.test('*_file problems', async (t) => {
  const secret = 'do-not-print-this-secret';
  const raw = baseConfig();
  raw.idp.client_secret_file = 'secrets/client'; // and client_secret is also set
  raw.cookie = { secret_file: 'missing' };
  raw.session = { encryption_key_file: 'empty' };
  const files = { ...POLICY_FILES, [`${BASE_DIR}/secrets/client`]: secret, [`${BASE_DIR}/empty`]: '\n' };
  const { issues, error } = attempt(raw, { files });
  t.strictSame(issues, [
    'idp.client_secret_file: give either client_secret or client_secret_file, not both',
    'cookie.secret_file: cannot read "/cfg/missing" (ENOENT)',
    'session.encryption_key_file: file "/cfg/empty" is empty',
  ]);
  t.notMatch(error?.message ?? '', secret);

  const wrongType = baseConfig();
  delete wrongType.idp.client_secret;
  wrongType.idp.client_secret_file = 42;
  t.strictSame(attempt(wrongType).issues, ['idp.client_secret_file: must be a file path']);
});

t.test('a short secret from a file is refused without echoing it', async (t) => {
  const raw = baseConfig();
  raw.cookie = { secret_file: 'cookie' };
  const { issues, error } = attempt(raw, { files: { ...POLICY_FILES, [`${BASE_DIR}/cookie`]: 'short-one\n' } });
  t.strictSame(issues, ['cookie.secret: must be at least 32 bytes']);
  t.notMatch(error?.message ?? '', 'short-one');
});
