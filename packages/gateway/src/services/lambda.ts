// Lambda: the template's functions built, and a pool of local instances per function running
// them (frozen between invocations, one invocation at a time, Lambda's CPU and memory for their
// MemorySize where cgroups allow), each with its own credentials and the environment that brings
// the AWS host names to the TLS front. A watchdog ends the instances if the gateway dies.
import type { AppModel, FunctionModel } from '../app-model.ts';
import { buildBundles, type BuiltFunction } from '../bundles.ts';
import { startLimits, type Limits } from '../cgroups.ts';
import type { EgressConfig } from '../egress.ts';
import { FunctionPool } from '../function-pool.ts';
import type { Identities } from '../iam/identities.ts';
import type { InvocationLedger } from '../invocations.ts';
import type { Logger } from '../log.ts';
import { startWorkerGuard } from '../worker-guard.ts';
import { egressVariable } from '../worker-protocol.ts';
import type { GatewayService } from './service.ts';

export interface EgressRefusal {
  functionName: string;
  instance: number;
  host: string;
  port: number;
  requestId?: string;
}

export interface LambdaService extends GatewayService {
  pools: Map<string, FunctionPool>;
  built: BuiltFunction[];
  limits: Limits | undefined;
  /** Rebuilds the bundles; new invocations run the new code on fresh instances. */
  rebuild(): Promise<BuiltFunction[]>;
}

export const startLambda = async (options: {
  model: AppModel;
  template: string;
  outdir: string;
  region: string;
  caFile: string;
  egress: EgressConfig;
  useLimits: boolean;
  cgroupRoot?: string;
  maxInstances: number;
  ledger: InvocationLedger;
  identities: Identities;
  log: Logger;
  onEgressRefused: (refusal: EgressRefusal) => void;
}): Promise<LambdaService> => {
  const { log } = options;
  const cleanups: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  // Once: the WebSocket API's stop ends the pools too (so closing never waits on a running handler).
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    })());
  try {
    let limits: Limits | undefined;
    if (options.useLimits) {
      const result = startLimits({ root: options.cgroupRoot });
      if (result.limits) {
        limits = result.limits;
        cleanups.push(() => limits!.stop().catch((error: Error) => log.warn(`cgroups not removed: ${error.message}`)));
      } else {
        log.warn(`CPU and memory limits are off: ${result.reason}. Functions run with the whole machine (--no-limits silences this).`);
      }
    }
    let built = await buildBundles({ template: options.template, outdir: options.outdir, say: (line) => log.info(line) });
    const env = {
      AWS_REGION: options.region,
      AWS_DEFAULT_REGION: options.region,
      AWS_SAM_LOCAL: 'true',
      NODE_EXTRA_CA_CERTS: options.caFile,
      [egressVariable]: JSON.stringify(options.egress),
    };
    // Workers are frozen between invocations and cannot notice this process dying: the guard's
    // watchdog kills them if it ends without stop() (a crash, SIGKILL), and removes the cgroups.
    const guard = startWorkerGuard({ log });
    cleanups.push(() => guard.stop());
    for (const root of limits?.roots ?? []) guard.cleanUp(root);
    const pools = new Map<string, FunctionPool>();
    const poolFor = (fn: FunctionModel, codeFile: string) =>
      new FunctionPool({
        fn,
        codeFile,
        env,
        ledger: options.ledger,
        log,
        guard,
        identities: options.identities,
        limits,
        onEgressRefused: options.onEgressRefused,
        maxInstances: options.maxInstances,
      });
    for (const b of built) pools.set(b.logicalId, poolFor(options.model.functions.get(b.logicalId)!, b.outfile));
    // Stopping a pool ends its running invocations, so stopping never waits on a slow handler.
    cleanups.push(async () => {
      await Promise.all([...pools.values()].map((p) => p.stop()));
    });
    return {
      name: 'Lambda',
      pools,
      get built() {
        return built;
      },
      limits,
      async rebuild() {
        built = await buildBundles({ template: options.template, outdir: options.outdir, say: (line) => log.info(line) });
        for (const b of built) pools.get(b.logicalId)?.reload(b.outfile);
        return built;
      },
      async reload(next) {
        const nextBuilt = await buildBundles({ template: options.template, outdir: options.outdir, say: (line) => log.info(line) });
        for (const b of nextBuilt) {
          const fn = next.functions.get(b.logicalId)!;
          const pool = pools.get(b.logicalId);
          if (pool) pool.reload(b.outfile, fn);
          else pools.set(b.logicalId, poolFor(fn, b.outfile));
        }
        const removed = [...pools.keys()].filter((id) => !next.functions.has(id));
        const retired = removed.map((id) => pools.get(id)!);
        for (const id of removed) pools.delete(id);
        built = nextBuilt;
        // Removed functions: their running invocations end with the pool.
        await Promise.all(retired.map((p) => p.stop()));
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
};
