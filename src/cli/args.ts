/** argv → a command. Pure, so it can be unit-tested. */
export type Command =
  | { kind: 'serve'; configPath?: string }
  | { kind: 'demo' }
  | { kind: 'check-config'; configPath: string }
  | { kind: 'rotate-keys'; configPath: string }
  | { kind: 'sessions'; action: 'list' | 'revoke'; configPath: string; user?: string; id?: string; all: boolean }
  | { kind: 'help' }
  | { kind: 'error'; message: string };

export const USAGE = `Usage:
  portcullis [serve] --config FILE          run the gateway (PORTCULLIS_CONFIG=FILE works too; no config runs the demo)
  portcullis demo                           the demo: a local IdP, a whoami app and the gateway
  portcullis check-config FILE              validate a config and its policies
  portcullis rotate-keys --config FILE      create a new signing key
  portcullis sessions list   --config FILE [--user SUB | --id HANDLE | --all]
  portcullis sessions revoke --config FILE  (--user SUB | --id HANDLE | --all)`;

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--all') {
      flags.set('all', true);
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '') return { kind: 'error', message: `--${name} needs a value` };
      if (!['config', 'user', 'id'].includes(name)) return { kind: 'error', message: `unknown option --${name}` };
      flags.set(name, value);
    } else {
      positional.push(arg);
    }
  }
  const config = (flags.get('config') as string | undefined) ?? env.PORTCULLIS_CONFIG;
  const [command = 'serve', ...rest] = positional;
  switch (command) {
    case 'serve':
      return rest.length ? { kind: 'error', message: `unexpected argument ${rest[0]}` } : { kind: 'serve', configPath: config };
    case 'demo':
      return rest.length ? { kind: 'error', message: `unexpected argument ${rest[0]}` } : { kind: 'demo' };
    case 'check-config': {
      const path = rest[0] ?? config;
      return path ? { kind: 'check-config', configPath: path } : { kind: 'error', message: 'check-config needs a FILE' };
    }
    case 'rotate-keys':
      return config ? { kind: 'rotate-keys', configPath: config } : { kind: 'error', message: 'rotate-keys needs --config FILE' };
    case 'sessions': {
      const action = rest[0];
      if (action !== 'list' && action !== 'revoke') return { kind: 'error', message: 'sessions needs list or revoke' };
      if (!config) return { kind: 'error', message: `sessions ${action} needs --config FILE` };
      const user = flags.get('user') as string | undefined;
      const id = flags.get('id') as string | undefined;
      const all = flags.get('all') === true;
      const chosen = [user, id, all || undefined].filter((x) => x !== undefined).length;
      if (chosen > 1) return { kind: 'error', message: 'give only one of --user, --id, --all' };
      if (action === 'revoke' && chosen === 0) return { kind: 'error', message: 'sessions revoke needs --user SUB, --id HANDLE or --all' };
      return { kind: 'sessions', action, configPath: config, user, id, all };
    }
    default:
      return { kind: 'error', message: `unknown command ${command}` };
  }
}
