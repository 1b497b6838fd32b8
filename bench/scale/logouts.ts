import { Pool } from 'undici';
import type { SessionStore } from '../../src/session/store.js';
import type { LoadTool } from '../load/types.js';
import { percentile } from '../report/stats.js';
import type { SeededSession } from './sessions.js';

export interface PropagationResult {
  logouts: number;
  /** from sending the logout to replica X until replica Y first refuses the cookie (401) */
  refusedMs: { p50: number; p99: number; max: number };
  /** from the logout's answer (its tombstone is in Redis then) until replica Y first refuses the cookie */
  refusedAfterAnswerMs: { p50: number; p99: number; max: number };
  /** from sending the logout until a third replica's store emits the tombstone */
  tombstoneMs: { p50: number; p99: number; max: number };
  /** the logout request itself (its answer comes after the tombstone is in Redis) */
  logoutMs: { p50: number; p99: number; max: number };
  /** logouts whose cookie the other replica never refused, or that failed */
  failures: number;
  /** requests per second each replica served in the background meanwhile */
  backgroundRps: number[];
  backgroundErrors: number;
}

const summary = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Logout propagation between two replicas while both serve load: for each seeded session, a
 * same-origin POST /.portcullis/logout on one replica (alternating), then requests with that
 * cookie to the other replica, back to back, until it answers 401. The harness's own store
 * (a third replica's, subscribed to the same keyspace notifications) timestamps the tombstone.
 */
export async function measureLogoutPropagation(input: {
  replicas: [string, string];
  sessions: SeededSession[];
  observer: SessionStore;
  tool: LoadTool;
  loadHeaders: Record<string, string>;
  loadConnections: number;
  path: string;
}): Promise<PropagationResult> {
  const { replicas, sessions, observer } = input;
  const tombstoneAt = new Map<string, number>();
  const unsubscribe = observer.subscribe((event) => {
    if (event.kind === 'tombstone') tombstoneAt.set(event.tombstone.handle, performance.now());
  });
  const pools = replicas.map((url) => new Pool(url, { connections: 2 }));
  const background = replicas.map((url) =>
    input.tool.start({ url: `${url}${input.path}`, seconds: 3600, connections: input.loadConnections, headers: input.loadHeaders }),
  );
  const refused: number[] = [];
  const refusedAfterAnswer: number[] = [];
  const tombstones: number[] = [];
  const logoutTimes: number[] = [];
  let failures = 0;
  let backgroundRps: number[] = [];
  let backgroundErrors = 0;
  try {
    await sleep(1000); // the background load is up to speed before the first logout
    for (const [i, session] of sessions.entries()) {
      const from = i % 2;
      const [here, there] = [pools[from]!, pools[1 - from]!];
      const sent = performance.now();
      const logout = await here.request({
        path: '/.portcullis/logout',
        method: 'POST',
        headers: { cookie: session.cookie, origin: replicas[from]!, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
      await logout.body.dump();
      const answered = performance.now();
      logoutTimes.push(answered - sent);
      if (logout.statusCode !== 303) {
        failures++;
        continue;
      }
      let refusedAt: number | undefined;
      while (performance.now() - sent < 5_000) {
        const probe = await there.request({ path: input.path, method: 'GET', headers: { cookie: session.cookie, accept: 'application/json' } });
        await probe.body.dump();
        if (probe.statusCode === 401) {
          refusedAt = performance.now();
          break;
        }
        if (probe.statusCode !== 200) break;
      }
      if (refusedAt === undefined) {
        failures++;
        continue;
      }
      refused.push(refusedAt - sent);
      refusedAfterAnswer.push(refusedAt - answered);
      const deadline = performance.now() + 5_000;
      while (!tombstoneAt.has(session.handle) && performance.now() < deadline) await sleep(1);
      const at = tombstoneAt.get(session.handle);
      if (at === undefined) failures++;
      else tombstones.push(at - sent);
    }
  } finally {
    unsubscribe();
    const loads = await Promise.all(background.map((b) => b.stop()));
    await Promise.all(pools.map((p) => p.close()));
    backgroundRps = loads.map((l) => l.rps);
    backgroundErrors = loads.reduce((sum, l) => sum + l.errors, 0);
  }
  return {
    logouts: sessions.length,
    refusedMs: summary(refused),
    refusedAfterAnswerMs: summary(refusedAfterAnswer),
    tombstoneMs: summary(tombstones),
    logoutMs: summary(logoutTimes),
    failures,
    backgroundRps,
    backgroundErrors,
  };
}
