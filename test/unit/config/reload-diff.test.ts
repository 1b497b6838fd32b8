import t from 'tap';
import { reloadSummary, restartNeeded } from '../../../src/config/reload-diff.js';
import { attempt, baseConfig } from './helpers.js';

function load(edit: (raw: Record<string, any>) => void = () => undefined) {
  const raw = baseConfig();
  edit(raw);
  const { config, issues } = attempt(raw);
  if (!config) throw new Error(issues.join('\n'));
  return config;
}

t.test('routes, policies and log.level apply in place: no restart needed', async (t) => {
  const next = load((raw) => {
    raw['routes'].push({ from: 'http://127.0.0.1:8080/b', to: 'http://127.0.0.1:3001', policy: 'everyone', timeout: '5s' });
    raw['log'] = { level: 'debug' };
  });
  t.same(restartNeeded(load(), next), []);
  t.same(reloadSummary(load(), next), { routes: 2, routesChanged: 1, policies: 2, policiesChanged: 0 });
});

t.test('settings wired at start name their key paths, never their values', async (t) => {
  const next = load((raw) => {
    raw['server'].listen = '127.0.0.1:9999';
    raw['server'].admin_listen = '127.0.0.1:9998';
    raw['cookie'].secret = 'another-cookie-secret-that-is-long-enough-42';
    raw['session'] = { store: 'redis' };
    raw['idp'].scopes = ['openid'];
  });
  const paths = restartNeeded(load(), next);
  t.same(paths.sort(), ['cookie.secret', 'idp.scopes', 'server.admin_listen', 'server.listen', 'session.store'].sort());
  t.notMatch(JSON.stringify(paths), /another-cookie-secret/);
});

t.test('a removed and a modified route both count as changed', async (t) => {
  const before = load((raw) => raw['routes'].push({ from: 'http://127.0.0.1:8080/x', to: 'http://127.0.0.1:3001', policy: 'everyone' }));
  const after = load((raw) => (raw['routes'][0].to = 'http://127.0.0.1:4000'));
  t.equal(reloadSummary(before, after).routesChanged, 2);
});
