import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every mainstream Linux). */
const TICKS = 100;

/**
 * CPU seconds (user + system) a process and its direct children have used so far, from /proc
 * (nginx's worker is a child of its master). NaN where /proc is not available.
 */
export function cpuSeconds(pid: number): number {
  try {
    const own = ticks(pid);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return (own + children.reduce((sum, child) => sum + ticks(child), 0)) / TICKS;
  } catch {
    return NaN;
  }
}

function ticks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name (field 2) may hold spaces: count fields after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
}
