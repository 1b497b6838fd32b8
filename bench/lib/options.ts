import { fileURLToPath } from 'node:url';

/**
 * `npm run bench [-- scale] [--name value …]`; every option also reads BENCH_<NAME> from the
 * environment (argv wins). Numbers are checked here so a typo fails at once, not after minutes.
 */
export interface BenchOptions {
  mode: 'throughput' | 'scale' | 'instructions';
  /** measured seconds per target per round */
  seconds: number;
  /** seconds of load per target before the first round (JIT, pools, caches) */
  warmup: number;
  rounds: number;
  connections: number;
  /** wrk | autocannon; default wrk when it is on PATH */
  tool: string | undefined;
  /** only these targets (comma-separated names), default all */
  targets: string[] | undefined;
  path: string;
  /** where latest.json and latest.svg go */
  out: string;
  /** scale mode: sessions written to Redis */
  sessions: number;
  /** scale mode: logouts whose propagation is timed */
  logouts: number;
  /** scale mode: seconds of idle CPU measured */
  idleSeconds: number;
  /** scale mode: connections per replica of background load during the logouts */
  loadConnections: number;
  /** scale mode: session.redis.mirror_max_sessions of the replicas (0 = unbounded, the default) */
  mirrorMax: number;
  /** instructions mode: requests counted per target */
  requests: number;
  /** instructions mode: requests per target before counting starts (JIT tiers, pools, caches) */
  warmupRequests: number;
}

const NUMBERS = ['seconds', 'warmup', 'rounds', 'connections', 'sessions', 'logouts', 'idle-seconds', 'load-connections', 'mirror-max', 'requests', 'warmup-requests'] as const;
const STRINGS = ['tool', 'targets', 'path', 'out'] as const;
type Name = (typeof NUMBERS)[number] | (typeof STRINGS)[number];

export const USAGE = `usage: npm run bench [-- scale|instructions] [--seconds N] [--warmup N] [--rounds N] [--connections N]
                 [--tool wrk|autocannon] [--targets a,b] [--path /bench] [--out DIR]
       scale mode: [--sessions N] [--logouts N] [--idle-seconds N] [--load-connections N]
                   [--mirror-max N]
       instructions mode (needs valgrind): [--requests N] [--warmup-requests N] [--targets a,b]
targets: upstream, nginx, undici, http-proxy-3, gateway-public, gateway-session-memory, gateway-session-redis
Each option can also be set as BENCH_<NAME> (e.g. BENCH_SECONDS=10, BENCH_LOAD_CONNECTIONS=4).`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const given = new Map<Name, string>();
  for (const name of [...NUMBERS, ...STRINGS]) {
    const value = env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
    if (value !== undefined && value !== '') given.set(name, value);
  }
  let mode: BenchOptions['mode'] = 'throughput';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === 'scale' || arg === 'throughput' || arg === 'instructions') {
      mode = arg;
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const name = match?.[1] as Name | undefined;
    if (!match || !name || ![...NUMBERS, ...STRINGS].includes(name as never)) throw new Error(`unknown argument ${arg}\n${USAGE}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value\n${USAGE}`);
    given.set(name, value);
  }
  const number = (name: (typeof NUMBERS)[number], fallback: number, min: number): number => {
    const text = given.get(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${text}`);
    return value;
  };
  const tool = given.get('tool');
  if (tool !== undefined && tool !== 'wrk' && tool !== 'autocannon') throw new Error(`--tool must be wrk or autocannon, got ${tool}`);
  return {
    mode,
    seconds: number('seconds', 5, 1),
    warmup: number('warmup', 2, 0),
    rounds: Math.floor(number('rounds', 3, 1)),
    connections: Math.floor(number('connections', 32, 1)),
    tool,
    targets: given.get('targets')?.split(',').map((t) => t.trim()).filter(Boolean),
    path: given.get('path') ?? '/bench',
    // dist/bench/lib → the source tree's bench/results, so results are committed beside the code
    out: given.get('out') ?? fileURLToPath(new URL('../../../bench/results/', import.meta.url)),
    sessions: Math.floor(number('sessions', 100_000, 1)),
    logouts: Math.floor(number('logouts', 1000, 1)),
    idleSeconds: number('idle-seconds', 5, 1),
    loadConnections: Math.floor(number('load-connections', 8, 1)),
    mirrorMax: Math.floor(number('mirror-max', 0, 0)),
    requests: Math.floor(number('requests', 5000, 100)),
    warmupRequests: Math.floor(number('warmup-requests', 40_000, 0)),
  };
}
