// Linux /proc readers for the orphan tests. A process is identified by its pid AND its start
// time, so a pid the kernel has handed to some other process since is never mistaken for ours
// (and never signalled by the tests' clean-up).
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** R running, S sleeping, T stopped (frozen), Z zombie (dead, not yet reaped), … */
  state: string;
  /** Clock ticks after boot: with the pid, what tells this process from a later one with its pid. */
  startTime: string;
  cmdline: string;
}

export const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

export const readProcess = (pid: number): ProcessInfo | undefined => {
  let stat: string;
  let cmdline = '';
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]!, cmdline };
};

/** Every process below `pid`, by parent pid (this kernel has no /proc/<pid>/task/<tid>/children). */
export const descendantsOf = (pid: number): ProcessInfo[] => {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(Number(name)))
    .filter((p) => p !== undefined);
  const found: ProcessInfo[] = [];
  const parents = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
};

/** Still this very process, and not dead: a zombie has exited and only awaits its reaper. */
export const isAlive = (p: ProcessInfo): boolean => {
  const now = readProcess(p.pid);
  return now !== undefined && now.startTime === p.startTime && now.state !== 'Z';
};

/** SIGKILL, only if `p` is still the process that was recorded. */
export const killIfAlive = (p: ProcessInfo): void => {
  if (!isAlive(p)) return;
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // gone in between
  }
};
