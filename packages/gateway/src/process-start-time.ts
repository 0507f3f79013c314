// A process's start time, which with its pid names one process for good: once a process has been
// reaped its pid can be handed to an unrelated one, and a pid alone would then point at the wrong
// process. Linux only (/proc); undefined elsewhere, or when the process is gone.
import { readFileSync } from 'node:fs';

export const processStartTime = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, clock ticks after boot), counted after the command name, the last ')'
    // (the name itself may contain spaces and parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
};
