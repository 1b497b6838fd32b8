import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import t from 'tap';
import { runRotateKeysCommand } from '../../src/cli/rotate-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { replicasOnRedis, signIn } from '../support/replicas.js';

/**
 * rotate-keys against two replicas on one Redis, with signing.publish_ahead = 1s. A verifier that
 * caches the JWKS must never meet a kid its copy lacks: scaled down from production (publish_ahead
 * 2m, max-age 60s) to this test's 1s, every assertion must verify against any JWKS fetched from
 * either replica up to WINDOW before it was signed.
 */
const PUBLISH_AHEAD_MS = 1000;
const WINDOW_MS = 500;
const env = replicasOnRedis(t, { config: () => ({ signing: { publish_ahead: '1s' } }) });

interface Snapshot {
  replica: number;
  /** when the fetch started: the document reflects the keys at this moment or later */
  at: number;
  kids: Set<string>;
  body: JSONWebKeySet;
  etag: string;
}
interface Sample {
  replica: number;
  /** when the response arrived: the assertion was signed at this moment or earlier */
  at: number;
  startedAt: number;
  assertion: string;
  kid: string;
}

async function jwksOf(url: string): Promise<{ body: JSONWebKeySet; etag: string }> {
  const res = await fetch(`${url}/.well-known/portcullis/jwks.json`);
  return { body: (await res.json()) as JSONWebKeySet, etag: res.headers.get('etag') ?? '' };
}

t.test('two replicas booting together: one key in Redis, sealed; the same JWKS everywhere', async (t) => {
  const inspect = env.redis.client();
  const stored = await inspect.hgetall('portcullis:signing-keys');
  t.equal(Object.keys(stored).length, 1, 'one first key');
  t.notOk(Object.values(stored).some((v) => /"d"\s*:/.test(v)), 'the private key is not stored in the clear');
  const [a, b] = await Promise.all(env.stack.replicas.map((r) => jwksOf(r.url)));
  t.equal(a!.etag, b!.etag);
  t.same(a!.body.keys.map((k) => k.kid), Object.keys(stored));
});

t.test('rotate-keys: published everywhere at once, signs after publish_ahead, never a failed verification', async (t) => {
  const { stack } = env;
  const replicas = stack.replicas;
  const cookie = await signIn(stack, replicas[0]!.url, 'alice');
  const oldKid = (await jwksOf(replicas[0]!.url)).body.keys[0]!.kid!;

  const snapshots: Snapshot[] = [];
  const samples: Sample[] = [];
  let running = true;
  const poll = async (replica: number) => {
    while (running) {
      const at = Date.now();
      const { body, etag } = await jwksOf(replicas[replica]!.url);
      snapshots.push({ replica, at, body, etag, kids: new Set(body.keys.map((k) => k.kid!)) });
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const load = async (replica: number) => {
    while (running) {
      const startedAt = Date.now();
      const res = await fetch(`${replicas[replica]!.url}/app`, { headers: { cookie: `_portcullis=${cookie}`, accept: 'application/json' } });
      const { headers } = (await res.json()) as { headers: Record<string, string> };
      const assertion = headers['x-portcullis-jwt-assertion']!;
      samples.push({ replica, at: Date.now(), startedAt, assertion, kid: decodeProtectedHeader(assertion).kid! });
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const loops = [poll(0), poll(1), load(0), load(1)];
  await new Promise((r) => setTimeout(r, 150));

  const out: string[] = [];
  const code = await runRotateKeysCommand(replicas[0]!.config, { logger: createLogger({ level: 'silent' }), out: (l) => out.push(l), err: (l) => out.push(l) });
  t.equal(code, 0, out.join('\n'));
  const newKid = /created signing key (\S+)/.exec(out.join('\n'))?.[1];
  const activatesAt = Date.parse(/signs from (\S+)/.exec(out.join('\n'))?.[1] ?? '');
  t.ok(newKid, 'rotate-keys prints the kid');
  t.ok(Number.isFinite(activatesAt), 'and when it starts signing');
  const createdAt = activatesAt - PUBLISH_AHEAD_MS;

  // run through activation and a little beyond
  while (Date.now() < activatesAt + 400) await new Promise((r) => setTimeout(r, 20));
  running = false;
  await Promise.all(loops);

  // 1. published on both replicas within a bounded time
  const firstSeen = [0, 1].map((replica) => snapshots.find((s) => s.replica === replica && s.kids.has(newKid!))?.at ?? Infinity);
  const propagation = Math.max(...firstSeen) - createdAt;
  t.comment(`new key in both replicas' JWKS ${propagation} ms after it was created (polling every ~10 ms)`);
  t.ok(propagation < WINDOW_MS, `published everywhere within ${WINDOW_MS} ms (took ${propagation} ms)`);
  t.ok(firstSeen.every((at) => at < activatesAt), 'published before it signs');

  // 2. the old key signs until activation, the new one after
  const before = samples.filter((s) => s.at < activatesAt && s.startedAt > createdAt);
  const after = samples.filter((s) => s.startedAt > activatesAt + 5);
  t.ok(before.length > 5 && after.length > 5, `requests on both sides of activation (${before.length} before, ${after.length} after)`);
  t.ok(before.every((s) => s.kid === oldKid), 'the old key still signs while the new one is only published');
  t.ok(after.every((s) => s.kid === newKid), 'after activation every replica signs with the new key');
  t.same(new Set(after.map((s) => s.replica)), new Set([0, 1]), 'on both replicas');

  // 3. a caching verifier never fails: each assertion verifies against every JWKS fetched up to WINDOW earlier
  // many samples share an assertion (the cache) and many snapshots a document (the ETag): verify each pair once
  let pairs = 0;
  const failures: string[] = [];
  const verified = new Map<string, Promise<string | undefined>>();
  const verifiers = new Map<string, ReturnType<typeof createLocalJWKSet>>();
  for (const sample of samples) {
    for (const snapshot of snapshots.filter((s) => s.at >= sample.at - WINDOW_MS && s.at <= sample.at)) {
      pairs++;
      const key = `${sample.replica} ${sample.assertion} ${snapshot.etag}`;
      if (!verifiers.has(snapshot.etag)) verifiers.set(snapshot.etag, createLocalJWKSet(snapshot.body));
      const outcome =
        verified.get(key) ??
        jwtVerify(sample.assertion, verifiers.get(snapshot.etag)!, { issuer: replicas[sample.replica]!.url, algorithms: ['ES256'] }).then(
          () => undefined,
          (error: unknown) => `${sample.kid} from replica ${sample.replica} at +${sample.at - createdAt} ms vs a JWKS of replica ${snapshot.replica} from +${snapshot.at - createdAt} ms: ${String(error)}`,
        );
      verified.set(key, outcome);
      const failure = await outcome;
      if (failure && failures.length < 5) failures.push(failure);
    }
  }
  t.same(failures, [], 'no failed verification');
  t.ok(pairs > 100, `${pairs} (assertion, JWKS cached up to ${WINDOW_MS} ms earlier) pairs checked, ${verified.size} distinct`);

  // 4. the old key is still published for the assertions it signed
  const [a, b] = await Promise.all(replicas.map((r) => jwksOf(r.url)));
  t.same(new Set(a!.body.keys.map((k) => k.kid)), new Set([oldKid, newKid]), 'old and new key both published after activation');
  t.equal(a!.etag, b!.etag, 'both replicas serve the same document');
});
