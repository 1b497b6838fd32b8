import type { Config } from './config/index.js';
import { reloadSummary, restartNeeded } from './config/reload-diff.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { Clock } from './lib/clock.js';
import type { Logger } from './observability/logger.js';
import { recordConfigLoad, type Metrics } from './observability/metrics.js';
import { buildRuntime, type Runtime } from './proxy/runtime.js';

export interface ReloadOutcome {
  ok: boolean;
  /** key paths that changed but only apply after a restart (their running values are kept) */
  restartNeeded: string[];
  /** why a refused reload was refused, each with its key path */
  issues: ConfigIssue[];
}

export interface ReloaderDeps {
  /** reads and validates the config file and policies again (main.ts owns the path and env) */
  load: () => Promise<Config>;
  running: () => Config;
  /** swaps in the new config and runtime: both built completely before this is called */
  apply: (config: Config, runtime: Runtime) => void;
  /** LOG_LEVEL pins the level, so a reload leaves log.level alone */
  logLevelPinned: boolean;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
}

/**
 * Reloads run one at a time; a request for one while another runs queues exactly one more, so
 * the last change on disk is always the one that ends up running.
 */
export function createReloader(deps: ReloaderDeps): (trigger: string) => Promise<ReloadOutcome> {
  const log = deps.logger.child({ part: 'reload' });
  let running: Promise<ReloadOutcome> | undefined;
  let queued: Promise<ReloadOutcome> | undefined;

  async function reloadOnce(trigger: string): Promise<ReloadOutcome> {
    let next: Config;
    let runtime: Runtime;
    try {
      next = await deps.load();
      runtime = buildRuntime(next);
    } catch (error) {
      const issues = error instanceof ConfigError ? [...error.issues] : [{ path: '', message: error instanceof Error ? error.message : String(error) }];
      recordConfigLoad(deps.metrics, false, deps.clock.now());
      log.error({ trigger, issues: issues.map((i) => `${i.path || '(root)'}: ${i.message}`) }, 'config reload refused: the running config stays in force');
      return { ok: false, restartNeeded: [], issues };
    }
    const current = deps.running();
    const restart = restartNeeded(current, next);
    // only what applies in place comes from the new file; the rest keeps its running value
    const effective: Config = Object.freeze({
      ...current,
      routes: next.routes,
      policies: next.policies,
      policies_dir: next.policies_dir,
      log: deps.logLevelPinned ? current.log : next.log,
    });
    const summary = reloadSummary(current, next);
    deps.apply(effective, runtime);
    recordConfigLoad(deps.metrics, true, deps.clock.now());
    const fields = { trigger, ...summary, ...(restart.length ? { restart_needed: restart } : {}) };
    if (restart.length) log.warn(fields, `config reloaded; restart needed for: ${restart.join(', ')} (running values kept)`);
    else log.info(fields, 'config reloaded');
    return { ok: true, restartNeeded: restart, issues: [] };
  }

  return function reload(trigger: string): Promise<ReloadOutcome> {
    if (!running) {
      running = reloadOnce(trigger).finally(() => {
        running = undefined;
      });
      return running;
    }
    const next = () => {
      queued = undefined;
      return reload(trigger);
    };
    queued ??= running.then(next, next);
    return queued;
  };
}
