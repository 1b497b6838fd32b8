import t from 'tap';
import { attempt, baseConfig } from './helpers.js';

/** server.trust_forwarded_headers: false | true | a list of proxy addresses and CIDR ranges. */
t.test('booleans and address lists are accepted as written', async (t) => {
  for (const value of [false, true, [], ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '192.168.1.0/24', '::ffff:10.0.0.1', '0.0.0.0/0']]) {
    const raw = baseConfig();
    raw.server.trust_forwarded_headers = value;
    const { config, issues } = attempt(raw);
    t.strictSame(issues, [], JSON.stringify(value));
    t.strictSame(config?.server.trust_forwarded_headers, value);
  }
});

t.test('junk entries are reported, each with its key path and without echoing the value', async (t) => {
  const raw = baseConfig();
  raw.server.trust_forwarded_headers = ['127.0.0.1', 'proxy.internal', '10.0.0.0/33', '10.0.0.0/', '::1/129', '1.2.3.4/8/1', ' 10.0.0.1', 7];
  const { issues } = attempt(raw);
  t.strictSame(
    issues.map((line) => line.split(':')[0]),
    [1, 2, 3, 4, 5, 6, 7].map((i) => `server.trust_forwarded_headers[${i}]`),
    issues.join('\n'),
  );
  t.match(issues[0], /must be an IP address or a CIDR range like "10\.0\.0\.0\/8"/);
  t.notMatch(issues.join('\n'), /proxy\.internal/, 'the value is not echoed');
});

t.test('anything else names the choices', async (t) => {
  for (const value of ['yes', 1, { cidr: '10.0.0.0/8' }, '10.0.0.0/8']) {
    const raw = baseConfig();
    raw.server.trust_forwarded_headers = value;
    const { issues } = attempt(raw);
    t.equal(issues.length, 1, JSON.stringify(value));
    t.match(issues[0], /^server\.trust_forwarded_headers: must be true or false or a list$/);
  }
});
