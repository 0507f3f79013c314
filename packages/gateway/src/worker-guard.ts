// Ties function workers to the life of the process that forked them (the gateway, or
// `npm run invoke`). Each guard runs one watchdog process (watchdog.ts) and tells it, through its
// stdin, every worker that starts and exits; when this process ends in any way, even SIGKILL, the
// watchdog sees its stdin close and kills the workers still alive, frozen ones included.
//
// If the watchdog itself is killed while this process lives, a new one is started and given the
// live workers, so they are uncovered only for that moment.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from './log.ts';
import { processStartTime } from './process-start-time.ts';
import { siblingModule } from './sibling.ts';

const watchdogPath = siblingModule('watchdog', import.meta.url);

export interface WorkerGuardOptions {
  log: Pick<Logger, 'warn' | 'error'>;
}

export interface WorkerGuard {
  /** Call right after fork(): the watchdog kills `child` if this process dies first. */
  watch(child: ChildProcess): void;
  /** A cgroup folder the watchdog removes (with its contents) if this process dies. */
  cleanUp(path: string): void;
  /** Ends the watchdog (it kills any worker still registered) and waits for it to exit. */
  stop(): Promise<void>;
}

export const startWorkerGuard = ({ log }: WorkerGuardOptions): WorkerGuard => {
  /** Live workers: pid → start time ('' without /proc). */
  const workers = new Map<number, string>();
  const cgroups = new Set<string>();
  let watchdog: ChildProcess | undefined;
  let stopping = false;

  const tell = (line: string) => {
    watchdog?.stdin?.write(`${line}\n`);
  };

  const startWatchdog = (): ChildProcess => {
    const child = spawn(process.execPath, [watchdogPath], {
      // Nothing of this process's environment (such as jest's NODE_OPTIONS) is needed there.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    // Never what keeps this process alive: its job starts when this process ends.
    child.unref();
    (child.stdin as unknown as { unref(): void }).unref();
    // EPIPE once it has died; the exit handler below deals with that.
    child.stdin!.on('error', () => {});
    child.on('error', (error) => log.error(`worker watchdog: ${error.message}; workers will not be killed if this process dies abruptly`));
    child.on('exit', (code, signal) => {
      if (stopping || watchdog !== child) return;
      watchdog = undefined;
      // It only exits by itself when it fails (a bug, or Node cannot start): another would fail too.
      if (signal === null) {
        log.error(`worker watchdog exited with code ${code}; workers will not be killed if this process dies abruptly`);
        return;
      }
      log.warn(`worker watchdog killed (${signal}); starting a new one`);
      watchdog = startWatchdog();
      for (const [pid, startTime] of workers) tell(`+${pid} ${startTime}`);
      for (const path of cgroups) tell(`c${path}`);
    });
    return child;
  };
  watchdog = startWatchdog();

  return {
    watch(child) {
      const { pid } = child;
      if (pid === undefined) return; // the fork failed: there is no process to guard
      // Read now, synchronously: the child cannot have been reaped yet (that happens on a later
      // turn of the event loop), so this is its start time and not a successor's.
      const startTime = processStartTime(pid) ?? '';
      workers.set(pid, startTime);
      tell(`+${pid} ${startTime}`);
      child.once('exit', () => {
        workers.delete(pid);
        tell(`-${pid}`);
      });
    },
    cleanUp(path) {
      cgroups.add(path);
      tell(`c${path}`);
    },
    async stop() {
      stopping = true;
      const current = watchdog;
      watchdog = undefined;
      if (!current || current.pid === undefined || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
      current.stdin!.end();
      await exited;
    },
  };
};
