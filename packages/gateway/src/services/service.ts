// The lifecycle every emulated service of the gateway implements (the WebSocket API, the Lambda
// pool, DynamoDB, SQS, the TLS front, the event sources): started by a `start…` function of its
// own module, then
//   hosts   the AWS host names it answers for the functions (behind the TLS front), with the
//           loopback port plain-HTTP callers use;
//   reload  takes a reloaded template; what it cannot change live it names first, in
//           restartReason, so that no service changes anything when one of them needs a restart;
//   stop    ends it and frees what it holds (ports, processes, folders). Called once.
// startGateway composes them: adding a service is one module and one line there.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppModel } from '../app-model.ts';
import { RestartRequired } from '../errors.ts';
import type { Logger } from '../log.ts';

export type HostHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface ServedHost {
  host: string;
  handler: HostHandler;
  /** The loopback port where the same API answers plain HTTP. */
  plainPort: number;
}

export interface GatewayService {
  readonly name: string;
  readonly hosts?: readonly ServedHost[];
  /** Why `next` cannot be applied without a restart, or undefined. */
  restartReason?(next: AppModel, previous: AppModel): string | undefined;
  reload?(next: AppModel, previous: AppModel): Promise<void> | void;
  stop(): Promise<void>;
}

/**
 * The services of one gateway, in start order. `start` records a started service, so that a
 * failed start-up and stop() both end every started one, in reverse, exactly once.
 */
export class ServiceSet {
  readonly #started: GatewayService[] = [];
  #stopping: Promise<void> | undefined;
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  async start<T extends GatewayService>(starting: Promise<T>): Promise<T> {
    const service = await starting;
    this.#started.push(service);
    return service;
  }

  /** A clean-up that is not a service of its own (a temporary folder), run in its place in the order. */
  onStop(name: string, stop: () => Promise<void> | void): void {
    this.#started.push({ name, stop: async () => stop() });
  }

  hosts(): ServedHost[] {
    return this.#started.flatMap((service) => service.hosts ?? []);
  }

  /** Applies `next` to every service, or throws RestartRequired (and changes nothing) if one cannot take it. */
  async reload(next: AppModel, previous: AppModel): Promise<void> {
    for (const service of this.#started) {
      const why = service.restartReason?.(next, previous);
      if (why !== undefined) throw new RestartRequired(why);
    }
    for (const service of this.#started) await service.reload?.(next, previous);
  }

  /** Stops every started service, newest first; one that fails to stop is logged, the rest still stop. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const service of [...this.#started].reverse()) {
        await service.stop().catch((error: Error) => this.#log.warn(`${service.name} did not stop cleanly: ${error.message}`));
      }
    })();
    return this.#stopping;
  }
}
