// Local Lambda instances for one function. Like Lambda: one invocation per instance at a time, a
// new instance when all are busy (up to `maxInstances`, then invocations queue), warm instances
// keep their module state, an instance is frozen (SIGSTOP, see runtime.ts) between invocations,
// and an invocation that outlives the function's Timeout is killed along with its instance.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { FunctionModel } from './app-model.ts';
import type { InstanceCgroup, Limits } from './cgroups.ts';
import type { Identities, Identity } from './iam/identities.ts';
import type { InvocationLedger } from './invocations.ts';
import type { FromWorker, LambdaError, ToWorker } from './worker-protocol.ts';
import type { Logger } from './log.ts';
import type { WorkerGuard } from './worker-guard.ts';
import { withDefaults } from 'ws-outbox/util';
import { isTypeScript } from './sibling.ts';
import { launcherFor, runtimePath, type WorkerLauncher } from './worker-launch.ts';

/**
 * The errorType of an invocation the gateway's own stop ended (its instance killed, or never
 * started): not the function's failure, so it is logged as the stop, not as an error.
 */
export const stoppedErrorType = 'Gateway.Stopped';

export type InvokeOutcome =
  | { status: 'ok'; requestId: string; result: unknown; durationMs: number; initMs?: number }
  | { status: 'error'; requestId: string; error: LambdaError; durationMs: number; initMs?: number }
  | { status: 'timeout'; requestId: string; durationMs: number; initMs?: number };

export interface PoolOptions {
  fn: FunctionModel;
  /** The bundle, `<dir>/<module>.mjs`; its directory becomes LAMBDA_TASK_ROOT. */
  codeFile: string;
  /** Variables the gateway adds on top of the template's (endpoints, region, credentials). */
  env: Record<string, string>;
  ledger: InvocationLedger;
  log: Logger;
  maxInstances: number;
  initTimeoutMs: number;
  /** Cap the V8 heap at the function's MemorySize, as Lambda's memory limit does. */
  enforceMemory: boolean;
  /** Kills the workers if the process that forked them dies without stopping the pool. */
  guard: WorkerGuard;
  /** Issues each instance its own credentials (the IAM check tells functions apart by them); none: env's. */
  identities?: Identities;
  /** CPU and memory per instance (cgroups.ts); none: unlimited. */
  limits?: Limits;
  /** A worker's connection to an AWS host the gateway does not serve was refused (egress.ts). */
  onEgressRefused?: (refusal: { functionName: string; instance: number; host: string; port: number; requestId?: string }) => void;
}

const defaults = { maxInstances: 10, initTimeoutMs: 10_000, enforceMemory: true };

interface Instance {
  id: number;
  child: ChildProcess;
  identity?: Identity;
  cgroup?: InstanceCgroup;
  /** Read from the cgroup as the process exits, before the cgroup is removed. */
  outOfMemory?: boolean;
  generation: number;
  frozen: boolean;
  dead: boolean;
  initMs?: number;
  /** Reported once, on the instance's first invocation. */
  coldStartPending: boolean;
  /** V8 said it ran out of heap (the heap is capped at the MemorySize). */
  heapExhausted?: boolean;
}

/** Lambda's own words when an instance went over its memory, and the limit. */
const outOfMemory = (fn: FunctionModel, when: string): string =>
  `out of memory: the instance went over its MemorySize of ${fn.memoryMb} MB ${when} and was ended (Runtime.OutOfMemory). Raise MemorySize, or load less.`;

const waitForReady = (child: ChildProcess, timeoutMs: number, ranOutOfMemory: () => boolean, memoryWords: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`init did not finish within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') done(undefined, m.initMs);
      else if (m.type === 'init-error') done(Object.assign(new Error(m.error.errorMessage), { name: m.error.errorType }));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(
        ranOutOfMemory()
          ? Object.assign(new Error(`the runtime exited during init (${signal ?? `code ${code}`}): ${memoryWords}`), { name: 'Runtime.OutOfMemory' })
          : new Error(`the runtime exited during init (${signal ?? `code ${code}`})`),
      );
    const done = (error?: Error, initMs = 0) => {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit);
      if (error) reject(error);
      else resolve(initMs);
    };
    child.on('message', onMessage).on('exit', onExit);
  });

export class FunctionPool {
  readonly options: PoolOptions;
  #idle: Instance[] = [];
  #all = new Set<Instance>();
  #waiters: Array<(instance: Instance | Error) => void> = [];
  #generation = 0;
  #nextId = 1;
  #stopped = false;

  constructor(options: Omit<PoolOptions, keyof typeof defaults> & Partial<PoolOptions>) {
    // In this repository workers run runtime.ts directly, which needs Node's type stripping (Node
    // 24, as Lambda's nodejs24.x); the installed package runs the compiled runtime.js.
    if (isTypeScript(runtimePath) && !(process.features as { typescript?: unknown }).typescript) {
      throw new Error(
        `The local gateway needs Node 24 to run its workers; this is ${process.version} (${process.execPath}). Run it through npm scripts, which use the project's Node.`,
      );
    }
    this.options = withDefaults(defaults, options);
  }

  get name(): string {
    return this.options.fn.functionName;
  }

  /** Instances alive now (busy or frozen). */
  get size(): number {
    return this.#all.size;
  }

  /** Every instance it may run is busy: a new invocation would wait (the Lambda API throttles a synchronous one instead). */
  get saturated(): boolean {
    return this.#idle.length === 0 && this.#all.size >= this.options.maxInstances;
  }

  /** Their process ids (the fan-out bench reads their CPU time). */
  get pids(): number[] {
    return [...this.#all].flatMap((instance) => (instance.child.pid === undefined ? [] : [instance.child.pid]));
  }

  /** How to start this function's workers (its Runtime's program), made once per Runtime. */
  #worker(): Promise<WorkerLauncher> {
    const { fn, log } = this.options;
    if (this.#workerFor?.runtime !== fn.runtime) this.#workerFor = { runtime: fn.runtime, ready: launcherFor(fn, log) };
    return this.#workerFor.ready;
  }

  #workerFor?: { runtime: string; ready: Promise<WorkerLauncher> };

  #spawn(worker: WorkerLauncher): Instance {
    const { fn, codeFile, env, log, enforceMemory, guard, identities, limits } = this.options;
    const id = this.#nextId++;
    const identity = identities?.issue(fn.logicalId, fn.functionName, id);
    const root = worker.taskRoot(codeFile, fn.handler);
    const child = worker.start({
      taskRoot: root,
      memoryMb: fn.memoryMb,
      enforceMemory,
      // A clean environment, as on Lambda: nothing leaks from the gateway's own process (such as
      // jest's NODE_OPTIONS) except PATH and HOME.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        LANG: 'en_US.UTF-8',
        TZ: 'UTC',
        ...fn.environment,
        ...env,
        ...(identity
          ? {
              AWS_ACCESS_KEY_ID: identity.accessKeyId,
              AWS_SECRET_ACCESS_KEY: identity.secretAccessKey,
              AWS_SESSION_TOKEN: identity.sessionToken,
            }
          : {}),
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${id}`,
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
        LAMBDA_TASK_ROOT: root,
        _HANDLER: fn.handler,
      },
    });
    let cgroup: InstanceCgroup | undefined;
    if (limits && child.pid !== undefined) {
      try {
        cgroup = limits.attach(child.pid, `${fn.logicalId}-${id}`, fn.memoryMb);
      } catch (error) {
        log.warn(`${fn.functionName}#${id}: cannot apply its CPU and memory limits: ${(error as Error).message}`);
      }
    }
    guard.watch(child);
    const prefix = `${fn.functionName}#${id}`;
    const instance: Instance = { id, child, identity, cgroup, generation: this.#generation, frozen: false, dead: false, coldStartPending: true };
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        // V8's own last words when the heap (capped at the MemorySize) is full.
        if (/JavaScript heap out of memory|Reached heap limit/.test(line)) instance.heapExhausted = true;
        log.fn(prefix, line);
      });
    }
    child.on('message', (m: FromWorker) => {
      if (m?.type === 'egress-refused')
        this.options.onEgressRefused?.({ functionName: fn.functionName, instance: id, host: m.host, port: m.port, requestId: m.requestId });
    });
    // A signal that cannot be delivered, or a failed IPC write not handled where it was made.
    child.on('error', (error) => log.warn(`${prefix}: ${error.message}`));
    child.on('exit', () => {
      instance.dead = true;
      if (identity) identities?.revoke(identity.accessKeyId);
      instance.outOfMemory = cgroup?.oomKilled() === true;
      cgroup?.remove().catch((error: Error) => log.warn(`${fn.functionName}#${id}: cgroup not removed: ${error.message}`));
      this.#all.delete(instance);
      this.#idle = this.#idle.filter((i) => i !== instance);
      // Its slot is free: a queued invocation can start a fresh instance.
      if (!this.#stopped) this.#wakeWaiter();
    });
    this.#all.add(instance);
    return instance;
  }

  async #acquire(): Promise<Instance> {
    if (this.#stopped) throw new Error(`${this.name}: the gateway is stopping`);
    const worker = await this.#worker();
    if (this.#stopped) throw new Error(`${this.name}: the gateway is stopping`);
    // Most recently used first, as Lambda prefers the warmest environment.
    const warm = this.#idle.pop();
    if (warm) return warm;
    // #spawn counts the new instance in #all at once, so concurrent cold starts respect the cap.
    if (this.#all.size < this.options.maxInstances) {
      const spawnedAt = performance.now();
      const instance = this.#spawn(worker);
      try {
        await waitForReady(
          instance.child,
          this.options.initTimeoutMs,
          () => instance.outOfMemory === true || instance.heapExhausted === true,
          outOfMemory(this.options.fn, 'during init'),
        );
        instance.cgroup?.limitCpu();
        // Cold start as a user feels it: process start plus the bundle's init.
        instance.initMs = Math.round(performance.now() - spawnedAt);
        return instance;
      } catch (error) {
        instance.dead = true;
        instance.child.kill('SIGKILL');
        throw error;
      }
    }
    return new Promise<Instance>((resolve, reject) => {
      this.#waiters.push((i) => (i instanceof Error ? reject(i) : resolve(i)));
    });
  }

  #release(instance: Instance): void {
    // A dead or retired instance frees its slot when its process exits (see #spawn).
    if (instance.dead) return;
    if (this.#stopped || instance.generation !== this.#generation) {
      instance.dead = true;
      instance.child.kill('SIGKILL');
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(instance);
    else this.#idle.push(instance);
  }

  #wakeWaiter(): void {
    const waiter = this.#waiters.shift();
    if (waiter) this.#acquire().then(waiter, waiter);
  }

  /** Runs one invocation on a free (or new) instance. Never throws for handler errors. */
  async invoke(event: unknown, meta: { route?: string } = {}): Promise<InvokeOutcome> {
    const requestId = randomUUID();
    const started = performance.now();
    let instance: Instance;
    try {
      instance = await this.#acquire();
    } catch (error) {
      const e = error as Error;
      if (this.#stopped) {
        return {
          status: 'error',
          requestId,
          error: { errorType: stoppedErrorType, errorMessage: 'the gateway stopped before an instance was ready' },
          durationMs: performance.now() - started,
        };
      }
      this.options.log.error(`${this.name}: ${e.name}: ${e.message}`);
      return {
        status: 'error',
        requestId,
        error: { errorType: e.name || 'Runtime.InitError', errorMessage: e.message },
        durationMs: performance.now() - started,
      };
    }
    const initMs = instance.coldStartPending ? instance.initMs : undefined;
    instance.coldStartPending = false;
    const { fn, ledger } = this.options;
    ledger.start({ requestId, logicalId: fn.logicalId, functionName: fn.functionName, route: meta.route });
    const timeoutMs = fn.timeoutSeconds * 1000;
    const invokedAt = performance.now();
    const outcome = await new Promise<InvokeOutcome>((resolve) => {
      // The worker stops itself right after sending its result, so a SIGCONT sent as soon as that
      // result arrives can overtake the SIGSTOP and be lost. Repeat it (a no-op on a running
      // process) until the worker says it has the invocation.
      let thawing: NodeJS.Timeout | undefined;
      const thaw = () => {
        instance.child.kill('SIGCONT');
        thawing = setInterval(() => instance.child.kill('SIGCONT'), 20);
      };
      const finish = (o: InvokeOutcome) => {
        clearTimeout(timer);
        clearInterval(thawing);
        instance.child.off('message', onMessage).off('exit', onExit);
        // Synchronously with the result's arrival: any management request handled after this
        // point and stamped with this id is a late send.
        ledger.finish(requestId, o.status);
        resolve(o);
      };
      const durationMs = () => performance.now() - invokedAt;
      const onMessage = (m: FromWorker) => {
        if (m.type === 'started' && m.requestId === requestId) {
          clearInterval(thawing);
        } else if (m.type === 'result' && m.requestId === requestId) {
          instance.frozen = true;
          finish({ status: 'ok', requestId, result: JSON.parse(m.result), durationMs: durationMs(), initMs });
        } else if (m.type === 'error' && m.requestId === requestId) {
          instance.frozen = true;
          finish({ status: 'error', requestId, error: m.error, durationMs: durationMs(), initMs });
        }
      };
      // Lambda's words for a runtime that died mid-invocation (Go's os/exec wording: "signal: killed").
      const onExit = (code: number | null, signal: string | null) => {
        if (this.#stopped) {
          finish({
            status: 'error',
            requestId,
            durationMs: durationMs(),
            initMs,
            error: { errorType: stoppedErrorType, errorMessage: 'the gateway stopped during this invocation' },
          });
          return;
        }
        const memory = (signal === 'SIGKILL' && instance.outOfMemory === true) || instance.heapExhausted === true;
        if (memory) this.options.log.error(`${fn.functionName}#${instance.id}: ${requestId} ${outOfMemory(fn, 'during the invocation')}`);
        const why = signal ? `signal: ${signal === 'SIGKILL' ? 'killed' : signal.replace(/^SIG/, '').toLowerCase()}` : `exit status ${code}`;
        finish({
          status: 'error',
          requestId,
          durationMs: durationMs(),
          initMs,
          error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${why}` },
        });
      };
      const timer = setTimeout(() => {
        this.options.log.error(`${fn.functionName}: ${requestId} Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`);
        instance.dead = true;
        instance.child.kill('SIGKILL');
        finish({ status: 'timeout', requestId, durationMs: durationMs(), initMs });
      }, timeoutMs);
      instance.child.on('message', onMessage).on('exit', onExit);
      if (instance.frozen) {
        instance.frozen = false;
        thaw();
      }
      const message: ToWorker = { type: 'invoke', requestId, event, deadlineMs: Date.now() + timeoutMs };
      // An instance can die while frozen and be handed out before its exit is seen: the write then
      // fails (EPIPE), and its exit, which follows, reports the invocation as Lambda would. Without
      // a callback the failure would be an 'error' event that takes the whole gateway down.
      instance.child.send(message, (error: Error | null) => {
        if (!error) return;
        this.options.log.warn(`${fn.functionName}#${instance.id}: ${requestId} could not be handed to its instance (${error.message}); it is ended`);
        instance.dead = true;
        instance.child.kill('SIGKILL');
      });
    });
    this.#release(instance);
    return outcome;
  }

  /** New code or settings (a changed template): warm instances are retired; busy ones finish their invocation first. */
  reload(codeFile?: string, fn?: FunctionModel): void {
    if (codeFile) this.options.codeFile = codeFile;
    if (fn) this.options.fn = fn;
    this.#generation++;
    for (const instance of this.#idle) {
      instance.dead = true;
      instance.child.kill('SIGKILL');
    }
    this.#idle = [];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const waiter of this.#waiters.splice(0)) waiter(new Error(`${this.name}: the gateway is stopping`));
    await Promise.all(
      [...this.#all].map(
        (instance) =>
          new Promise<void>((resolve) => {
            // Dead ones too (a timeout's kill): wait for the exit, so nothing of theirs outlives stop().
            if (instance.child.exitCode !== null || instance.child.signalCode !== null) return resolve();
            instance.child.once('exit', () => resolve());
            instance.child.kill('SIGKILL');
          }),
      ),
    );
  }
}
