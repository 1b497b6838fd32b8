#!/usr/bin/env node
/** The only place that reads argv/env, handles signals and calls process.exit. */
import { parseArgs, USAGE } from './cli/args.js';
import { runRotateKeysCommand } from './cli/rotate-keys.js';
import { runSessionsCommand } from './cli/sessions.js';
import { checkConfig, loadConfigFile, LOG_LEVELS, type LogLevel } from './config/index.js';
import { ConfigError } from './errors.js';
import { createGateway, type Gateway } from './gateway.js';
import { createLogger, prettyDestination, type Logger } from './observability/logger.js';

const EXIT_OK = 0;
const EXIT_BAD_CONFIG = 1;
const EXIT_RUNTIME = 2;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** SIGTERM/SIGINT drain in-flight requests, then exit 0; a second signal exits at once. */
function stopOnSignals(stop: () => Promise<void>, onStopped: () => void = () => process.exit(EXIT_OK)): void {
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(EXIT_RUNTIME);
    stopping = true;
    stop().then(onStopped, (error: unknown) => {
      err(`portcullis: shutdown failed: ${String(error)}`);
      process.exit(EXIT_RUNTIME);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** How to log, from the environment: LOG_LEVEL overrides log.level; LOG_FORMAT=pretty asks for readable lines. */
interface LogSettings {
  level?: LogLevel;
  pretty: boolean;
}

function logSettings(env: NodeJS.ProcessEnv): LogSettings {
  const level = env.LOG_LEVEL?.trim().toLowerCase() || undefined;
  const format = env.LOG_FORMAT?.trim().toLowerCase() || 'json';
  const issues = [];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    issues.push({ path: 'LOG_LEVEL', message: `must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")` });
  }
  if (format !== 'json' && format !== 'pretty') issues.push({ path: 'LOG_FORMAT', message: `must be json or pretty (got "${env.LOG_FORMAT}")` });
  if (issues.length) throw new ConfigError(issues);
  return { level: level as LogLevel | undefined, pretty: format === 'pretty' };
}

function createProcessLogger(level: LogLevel, settings: LogSettings): Logger {
  return createLogger({
    level,
    ...(settings.pretty
      ? { destination: prettyDestination({ colorize: process.stdout.isTTY === true, destination: process.stdout }) }
      : { stdout: 'batched' as const }),
  });
}

async function serve(configPath: string): Promise<void> {
  const settings = logSettings(process.env);
  const config = await loadConfigFile(configPath, process.env);
  const logger = createProcessLogger(settings.level ?? config.log.level, settings);
  if (config.idp.allow_insecure_http) logger.warn('idp.allow_insecure_http is on: only for local or test identity providers');
  const gateway: Gateway = createGateway(config, {
    logger,
    logLevelPinned: settings.level !== undefined,
    // CONTRACT: SIGHUP and a change of the config file or policies/ re-read both
    reloadSource: { configPath, load: () => loadConfigFile(configPath, process.env), watch: true },
  });
  // before listening: a SIGHUP that arrives while ports bind must not hit node's default (exit)
  // the reloader logs the outcome; a refused reload keeps the running config
  process.on('SIGHUP', () => void gateway.reload('SIGHUP'));
  await gateway.listen();
  stopOnSignals(async () => {
    logger.info('stopping: draining in-flight requests');
    await gateway.close();
    logger.flush();
  });
}

/** The demo imports oidc-provider (a dev dependency) only when asked for. */
async function runDemoUntilStopped(): Promise<undefined> {
  const settings = logSettings(process.env);
  const { runDemo } = await import('./demo/main.js');
  const demo = await runDemo({
    out,
    env: process.env,
    ...(settings.level ? { logLevel: settings.level } : {}),
    logDestination: process.stdout,
    colorize: process.stdout.isTTY === true,
  });
  stopOnSignals(demo.close);
  return undefined;
}

async function main(): Promise<number | undefined> {
  const command = parseArgs(process.argv.slice(2), process.env);
  switch (command.kind) {
    case 'help':
      out(USAGE);
      return EXIT_OK;
    case 'error':
      err(`portcullis: ${command.message}\n${USAGE}`);
      return EXIT_BAD_CONFIG;
    case 'check-config': {
      const result = await checkConfig(command.configPath, process.env);
      if (result.ok) {
        out(`${command.configPath}: ok`);
        return EXIT_OK;
      }
      for (const issue of result.issues) err(`${issue.path}: ${issue.message}`);
      return EXIT_BAD_CONFIG;
    }
    case 'rotate-keys': {
      const config = await loadConfigFile(command.configPath, process.env);
      const logger = createLogger({ level: 'warn' });
      return runRotateKeysCommand(config, { logger, out, err });
    }
    case 'sessions': {
      const config = await loadConfigFile(command.configPath, process.env);
      const logger = createLogger({ level: 'warn' });
      // audit lines (one per revoked session) go to stderr as JSON, leaving stdout to the table
      const auditLogger = createLogger({ level: 'info', destination: process.stderr });
      return runSessionsCommand(config, command, { logger, out, auditLogger });
    }
    case 'serve':
      if (!command.configPath) return runDemoUntilStopped();
      await serve(command.configPath);
      return undefined;
    case 'demo':
      return runDemoUntilStopped();
  }
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      for (const issue of error.issues) err(`${issue.path || '(root)'}: ${issue.message}`);
      process.exitCode = EXIT_BAD_CONFIG;
    } else {
      err(`portcullis: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = EXIT_RUNTIME;
    }
  },
);
