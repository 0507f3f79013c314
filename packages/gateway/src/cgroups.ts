// CPU and memory for each function instance as Lambda sizes them: MemorySize of memory, and CPU
// in proportion to it, one full vCPU at 1,769 MB, from the end of init on (Lambda runs a managed
// runtime's init with burst CPU, for up to 10 s). Linux cgroups do it: one cgroup per instance,
// inside one folder per gateway (ws-outbox-<pid>), with
//   cgroup v1: cpu.cfs_quota_us = 100000 × MemorySize / 1769 (period 100000), memory.limit_in_bytes = MemorySize
//   cgroup v2: cpu.max = "<quota> 100000",                                     memory.max = MemorySize (no swap)
// An instance that goes over its memory is killed by the kernel (SIGKILL), which the pool reports
// as Lambda does: "Runtime exited with error: signal: killed". Where cgroups cannot be written (not
// root, not Linux, controllers missing) startLimits says why and the gateway runs without them.
//
// Every folder made here is removed when its instance exits and when the gateway stops; the
// worker watchdog removes what is left if the gateway dies (worker-guard.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Lambda gives a function one full vCPU at this MemorySize (MB), in proportion below and above. */
export const mbPerVcpu = 1769;
export const cpuPeriodUs = 100_000;

/** CPU quota per period for a MemorySize, in µs (cgroups refuse less than 1 ms). */
export const cpuQuotaUs = (memoryMb: number): number => Math.max(1000, Math.round((cpuPeriodUs * memoryMb) / mbPerVcpu));

export interface InstanceCgroup {
  /** The instance's folders (one per v1 controller, one in v2). */
  paths: string[];
  /** Applies the CPU quota: from the end of init on (Lambda runs init with burst CPU). */
  limitCpu(): void;
  /** True when the kernel's OOM killer ended a process of this cgroup. */
  oomKilled(): boolean;
  /** Removes the folders once the process has left them (retries a little: the kernel lets go late). */
  remove(): Promise<void>;
}

export interface Limits {
  version: 1 | 2;
  /** The gateway's own folders (the parents of every instance's), for the watchdog. */
  roots: string[];
  /** Creates a cgroup sized for `memoryMb` and moves `pid` into it. */
  attach(pid: number, name: string, memoryMb: number): InstanceCgroup;
  /** Removes the gateway's folders (every instance's must be gone). */
  stop(): Promise<void>;
}

export type LimitsResult = { limits: Limits } | { limits: undefined; reason: string };

const write = (dir: string, file: string, value: string | number) => writeFileSync(join(dir, file), String(value));
const tryWrite = (dir: string, file: string, value: string | number) => {
  try {
    write(dir, file, value);
  } catch {
    // optional knob (deprecated, or absent on this kernel)
  }
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** rmdir with a few retries: a cgroup stays busy until its last process has fully exited. */
export const removeCgroupDir = async (dir: string, attempts = 150): Promise<void> => {
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (i >= attempts || (code !== 'EBUSY' && code !== 'ENOTEMPTY')) throw error;
      await sleep(20);
    }
  }
};

/** A cgroup folder and whatever instance folders are still inside it, deepest first. */
export const removeCgroupTree = async (dir: string): Promise<void> => {
  let children: string[] = [];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return;
  }
  for (const child of children) await removeCgroupTree(child);
  await removeCgroupDir(dir);
};

const v1 = (root: string, name: string): Limits => {
  const cpu = join(root, 'cpu', name);
  const memory = join(root, 'memory', name);
  mkdirSync(cpu, { recursive: true });
  mkdirSync(memory, { recursive: true });
  return {
    version: 1,
    roots: [cpu, memory],
    attach(pid, instance, memoryMb) {
      const dirs = [join(cpu, instance), join(memory, instance)] as const;
      for (const dir of dirs) mkdirSync(dir);
      write(dirs[0], 'cpu.cfs_period_us', cpuPeriodUs);
      write(dirs[0], 'cpu.cfs_quota_us', -1);
      // Pages the process touched before it moved in count against it too.
      tryWrite(dirs[1], 'memory.move_charge_at_immigrate', 3);
      write(dirs[1], 'memory.limit_in_bytes', memoryMb * 1024 * 1024);
      tryWrite(dirs[1], 'memory.memsw.limit_in_bytes', memoryMb * 1024 * 1024);
      for (const dir of dirs) write(dir, 'cgroup.procs', pid);
      return {
        paths: [...dirs],
        limitCpu: () => write(dirs[0], 'cpu.cfs_quota_us', cpuQuotaUs(memoryMb)),
        oomKilled: () => {
          try {
            return (
              /oom_kill (\d+)/.exec(readFileSync(join(dirs[1], 'memory.oom_control'), 'utf8'))?.[1] !== '0' ||
              Number(readFileSync(join(dirs[1], 'memory.failcnt'), 'utf8')) > 0
            );
          } catch {
            return false;
          }
        },
        remove: async () => {
          await Promise.all(dirs.map((dir) => removeCgroupDir(dir)));
        },
      };
    },
    stop: async () => {
      await Promise.all([cpu, memory].map((dir) => removeCgroupTree(dir)));
    },
  };
};

const v2 = (root: string, name: string): Limits => {
  // Controllers must be enabled in every parent's subtree_control; the root cgroup may hold
  // processes and still delegate, a gateway folder of our own holds none.
  const parent = join(root, name);
  tryWrite(root, 'cgroup.subtree_control', '+cpu +memory');
  mkdirSync(parent, { recursive: true });
  write(parent, 'cgroup.subtree_control', '+cpu +memory');
  return {
    version: 2,
    roots: [parent],
    attach(pid, instance, memoryMb) {
      const dir = join(parent, instance);
      mkdirSync(dir);
      write(dir, 'cpu.max', `max ${cpuPeriodUs}`);
      write(dir, 'memory.max', memoryMb * 1024 * 1024);
      tryWrite(dir, 'memory.swap.max', 0);
      write(dir, 'cgroup.procs', pid);
      return {
        paths: [dir],
        limitCpu: () => write(dir, 'cpu.max', `${cpuQuotaUs(memoryMb)} ${cpuPeriodUs}`),
        oomKilled: () => {
          try {
            return Number(/oom_kill (\d+)/.exec(readFileSync(join(dir, 'memory.events'), 'utf8'))?.[1] ?? 0) > 0;
          } catch {
            return false;
          }
        },
        remove: () => removeCgroupDir(dir),
      };
    },
    stop: () => removeCgroupTree(parent),
  };
};

const readable = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/**
 * The gateway's limits, or why there are none. `root` is the cgroup mount (a test may pass a
 * folder laid out like one); `name` the gateway's folder in it.
 */
export const startLimits = (options: { root?: string; name?: string } = {}): LimitsResult => {
  const root = options.root ?? '/sys/fs/cgroup';
  const name = options.name ?? `ws-outbox-${process.pid}`;
  if (process.platform !== 'linux' && options.root === undefined) return { limits: undefined, reason: `cgroups are Linux only (this is ${process.platform})` };
  try {
    if (existsSync(join(root, 'cgroup.controllers'))) {
      const controllers = readable(join(root, 'cgroup.controllers')).split(/\s+/);
      if (!controllers.includes('cpu') || !controllers.includes('memory')) {
        return { limits: undefined, reason: `cgroup v2 at ${root} lacks the cpu or memory controller (${controllers.join(' ').trim() || 'none'})` };
      }
      return { limits: v2(root, name) };
    }
    if (existsSync(join(root, 'cpu', 'cpu.cfs_quota_us')) && existsSync(join(root, 'memory', 'memory.limit_in_bytes'))) {
      return { limits: v1(root, name) };
    }
    return { limits: undefined, reason: `no cgroup v2 and no cgroup v1 cpu and memory controllers under ${root}` };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS' ? `${root} is not writable here (${e.code}; it needs root)` : e.message;
    return { limits: undefined, reason: why };
  }
};
