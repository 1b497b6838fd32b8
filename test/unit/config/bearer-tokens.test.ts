import t from 'tap';
import { restartNeeded } from '../../../src/config/reload-diff.js';
import { attempt, baseConfig } from './helpers.js';

/** routes[].bearer_tokens needs idp.access_token_audiences: a token is only good for a named audience. */
t.test('a bearer route without accepted audiences is a config error naming the key', async (t) => {
  const raw = baseConfig();
  raw.routes.push({ from: 'http://127.0.0.1:8080/api', to: 'http://x', policy: 'everyone', bearer_tokens: true });
  const { issues } = attempt(raw);
  t.equal(issues.length, 1);
  t.match(issues[0], /^idp\.access_token_audiences: must list at least one audience: routes\[1\] accepts bearer tokens/);
});

t.test('with audiences it loads; defaults are off and empty', async (t) => {
  const plain = attempt(baseConfig()).config!;
  t.equal(plain.routes[0]!.bearer_tokens, false);
  t.strictSame(plain.idp.access_token_audiences, []);
  const raw = baseConfig();
  raw.idp.access_token_audiences = ['https://api.example.com'];
  raw.routes.push({ from: 'http://127.0.0.1:8080/api', to: 'http://x', policy: 'everyone', bearer_tokens: true });
  const { config, issues } = attempt(raw);
  t.strictSame(issues, []);
  t.equal(config?.routes[1]?.bearer_tokens, true);
  t.strictSame(restartNeeded(plain, config!), [], 'routes and audiences both apply on reload');
});

t.test('a public route cannot take bearer tokens; audiences must be strings', async (t) => {
  const raw = baseConfig();
  raw.idp.access_token_audiences = ['https://api.example.com', ''];
  raw.routes.push({ from: 'http://127.0.0.1:8080/pub', to: 'http://x', public: true, bearer_tokens: true });
  const { issues } = attempt(raw);
  t.match(issues.sort(), [/^idp\.access_token_audiences\[1\]: /, /^routes\[1\]\.bearer_tokens: a public route checks no tokens/]);
});
