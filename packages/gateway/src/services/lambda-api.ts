// The Lambda API (Invoke, lambda-front.ts): for the functions at Lambda's AWS host name, behind
// the TLS front, and for outside callers on a loopback port of its own (LAMBDA_PORT, a free one
// by default). It starts before the functions (the TLS front needs its host first) and invokes
// them once `attach` hands it their pools.
import type { AppModel } from '../app-model.ts';
import type { FunctionPool } from '../function-pool.ts';
import { createLambdaFront, type InvokeTargets, type LambdaFrontOptions } from '../lambda-front.ts';
import type { FrontedServiceOptions } from './fronted.ts';
import { closeServer, listen, serverFor } from './http.ts';
import type { GatewayService } from './service.ts';

export interface LambdaApiService extends GatewayService {
  /** http://host:port, for tools and tests (any SigV4 keys; not IAM-checked). */
  endpoint: string;
  /** The functions it invokes, from now on. */
  attach(pools: ReadonlyMap<string, FunctionPool>, model: AppModel): void;
}

export const startLambdaApi = async (
  options: Omit<FrontedServiceOptions, 'model'> & Omit<LambdaFrontOptions, 'targets' | 'async'>,
): Promise<LambdaApiService> => {
  let targets: InvokeTargets | undefined;
  const front = createLambdaFront({ ...options, targets: () => targets });
  const server = serverFor('Lambda API', front.handle, options.log, options.hostCheck);
  const port = await listen(server, options.port, options.host, 'LAMBDA_PORT', 'Lambda API port');
  return {
    name: 'Lambda API',
    endpoint: `http://${options.host}:${port}`,
    hosts: [{ host: options.awsHost, handler: front.handle, plainPort: port }],
    attach(pools, model) {
      targets = { pools, model };
    },
    // Names follow the template (a function added, a FunctionName changed).
    reload(next) {
      if (targets) targets = { ...targets, model: next };
    },
    stop: async () => {
      front.close();
      await closeServer(server);
    },
  };
};
