// The watchdog of one gateway's function workers: a small process the gateway starts (see
// worker-guard.ts) and never freezes. A frozen worker cannot notice that its gateway died, and
// Node cannot ask the kernel to signal a child when its parent dies (prctl PR_SET_PDEATHSIG), so
// this process notices for them: the gateway holds the write end of its stdin, and the kernel
// closes that end however the gateway ends (exit, uncaught throw, OOM killer, SIGKILL). At EOF it
// SIGKILLs every worker still listed (SIGKILL ends a stopped process too) and exits.
//
// stdin, one line each: `+<pid> <start time>` a worker to kill if the gateway goes (the start time
// empty where there is no /proc), `-<pid>` a worker that has exited, `c<path>` a cgroup folder of
// the gateway's (cgroups.ts) to remove, with what is inside it, once its workers are dead.
import { createInterface } from 'node:readline';
import { removeCgroupTree } from './cgroups.ts';
import { processStartTime } from './process-start-time.ts';

const workers = new Map<number, string>();
const cgroups = new Set<string>();

// Ctrl-C and `kill -TERM -<group>` reach this process too (it shares the gateway's process group),
// and the gateway is then stopping its workers itself: stay until it is done, which closes stdin.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const [pid, startTime = ''] = line.slice(1).split(' ');
    if (line.startsWith('+')) workers.set(Number(pid), startTime);
    else if (line.startsWith('-')) workers.delete(Number(pid));
    else if (line.startsWith('c')) cgroups.add(line.slice(1));
  })
  .on('close', async () => {
    for (const [pid, startTime] of workers) {
      // A worker that exited just before the gateway died may have been reaped and its pid reused:
      // kill only the process that was registered (checkable where /proc exists).
      if (startTime !== '' && processStartTime(pid) !== startTime) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // The killed workers leave their cgroups as the kernel reaps them; removeCgroupTree waits a little for that.
    for (const dir of cgroups) await removeCgroupTree(dir).catch(() => {});
    process.exit(0);
  });
