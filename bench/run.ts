import { createAutocannon } from './load/autocannon.js';
import type { LoadTool } from './load/types.js';
import { createWrk } from './load/wrk.js';
import { parseOptions, USAGE } from './lib/options.js';
import { onPath } from './targets/nginx.js';
import { runThroughput } from './throughput.js';

/**
 * npm run bench [-- scale|instructions] [options]: see lib/options.ts for the options, and
 * throughput.ts, scale.ts and instructions.ts for what each mode measures. The load generator
 * is wrk when it is on PATH (Debian package `wrk`), autocannon (a devDependency) otherwise.
 */
function pickTool(wanted: string | undefined): LoadTool {
  const wrk = onPath('wrk');
  if (wanted === 'wrk' && !wrk) throw new Error('--tool wrk: wrk is not on PATH');
  return wanted !== 'autocannon' && wrk ? createWrk(wrk) : createAutocannon();
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const options = parseOptions(process.argv.slice(2), process.env);
  if (options.mode === 'instructions') {
    const { runInstructions } = await import('./instructions.js');
    await runInstructions(options);
    return;
  }
  const tool = pickTool(options.tool);
  if (options.mode === 'scale') {
    const { runScale } = await import('./scale.js');
    await runScale(options, tool);
  } else {
    await runThroughput(options, tool);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
