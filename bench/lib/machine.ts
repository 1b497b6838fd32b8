import { cpus, loadavg, totalmem } from 'node:os';

/** What the figures depend on, recorded beside them. */
export function machine() {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    /** other work on the machine while this ran skews every figure alike; a high value says "rerun" */
    loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
  };
}
