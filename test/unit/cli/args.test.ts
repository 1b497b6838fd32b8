import t from 'tap';
import { parseArgs } from '../../../src/cli/args.js';

const cases: Array<[string, string[], Record<string, string>, unknown]> = [
  ['no args: serve, demo', [], {}, { kind: 'serve', configPath: undefined }],
  ['serve with --config', ['--config', 'a.yaml'], {}, { kind: 'serve', configPath: 'a.yaml' }],
  ['explicit serve with --config=', ['serve', '--config=a.yaml'], {}, { kind: 'serve', configPath: 'a.yaml' }],
  ['PORTCULLIS_CONFIG', [], { PORTCULLIS_CONFIG: 'b.yaml' }, { kind: 'serve', configPath: 'b.yaml' }],
  ['check-config FILE', ['check-config', 'c.yaml'], {}, { kind: 'check-config', configPath: 'c.yaml' }],
  ['sessions list --all', ['sessions', 'list', '--config', 'c.yaml', '--all'], {}, { kind: 'sessions', action: 'list', configPath: 'c.yaml', user: undefined, id: undefined, all: true }],
  ['sessions revoke --user', ['sessions', 'revoke', '--config', 'c.yaml', '--user', 'alice'], {}, { kind: 'sessions', action: 'revoke', configPath: 'c.yaml', user: 'alice', id: undefined, all: false }],
  ['help', ['--help'], {}, { kind: 'help' }],
  ['demo', ['demo'], { PORTCULLIS_CONFIG: 'ignored.yaml' }, { kind: 'demo' }],
];

for (const [name, argv, env, expected] of cases) {
  t.same(parseArgs(argv, env), expected, name);
}

const errors: Array<[string, string[]]> = [
  ['unknown command', ['frobnicate']],
  ['unknown option', ['--bogus', 'x']],
  ['option without value', ['--config']],
  ['check-config without file', ['check-config']],
  ['revoke without a selector', ['sessions', 'revoke', '--config', 'c.yaml']],
  ['two selectors', ['sessions', 'list', '--config', 'c.yaml', '--user', 'a', '--all']],
  ['sessions without action', ['sessions', '--config', 'c.yaml']],
];
for (const [name, argv] of errors) {
  t.equal((parseArgs(argv, {}) as { kind: string }).kind, 'error', name);
}
