// The SQS event source mappings: pollers that invoke the functions with batches, as Lambda does
// (batch size and window, MaximumConcurrency, partial batch failures). They read the embedded SQS
// directly: Lambda polls with its own service role, not the function's.
import type { AppModel } from '../app-model.ts';
import { SqsEventSource, type BatchReport } from '../event-sources.ts';
import type { FunctionPool } from '../function-pool.ts';
import type { Logger } from '../log.ts';
import type { LocalSqs } from '../sqs.ts';
import type { GatewayService } from './service.ts';

export interface EventSourcesService extends GatewayService {
  /** Starts polling (once the gateway is open). */
  start(): void;
}

const sqsEventsOf = (m: AppModel) =>
  JSON.stringify([...m.functions.values()].filter((fn) => fn.spec.sqsEvents.length > 0).map((fn) => [fn.logicalId, fn.spec.sqsEvents]));

export const createEventSources = (options: {
  model: AppModel;
  sqs: LocalSqs | undefined;
  pools: Map<string, FunctionPool>;
  queueArns: Map<string, string>;
  maxInstances: number;
  region: string;
  log: Logger;
  onBatch: (report: BatchReport) => void;
}): EventSourcesService => {
  const sources: SqsEventSource[] = [];
  let stopping: Promise<void> | undefined;
  const { sqs } = options;
  for (const fn of options.model.functions.values()) {
    for (const source of fn.spec.sqsEvents) {
      const queue = sqs?.queues.get(source.queue);
      const pool = options.pools.get(fn.logicalId);
      if (!source.enabled || !queue || !pool || !sqs) continue;
      sources.push(
        new SqsEventSource({
          name: `${fn.logicalId}/${source.name}`,
          queueUrl: queue.url,
          queueArn: options.queueArns.get(source.queue) ?? queue.arn,
          client: sqs.client(),
          pool,
          batchSize: source.batchSize,
          batchingWindowMs: source.batchingWindowSeconds * 1000,
          reportBatchItemFailures: source.reportBatchItemFailures,
          concurrency: Math.min(source.maximumConcurrency ?? options.maxInstances, options.maxInstances),
          region: options.region,
          log: options.log,
          onBatch: options.onBatch,
        }),
      );
    }
  }
  return {
    name: 'SQS event sources',
    start: () => {
      for (const source of sources) source.start();
    },
    // Here rather than in the SQS service, which runs only when the template has queues: adding
    // the first queue needs a restart too.
    restartReason(next, previous) {
      if (JSON.stringify(next.queues) !== JSON.stringify(previous.queues)) return 'the queues changed';
      return sqsEventsOf(next) !== sqsEventsOf(previous) ? 'the SQS event sources changed' : undefined;
    },
    stop: () => (stopping ??= Promise.all(sources.map((source) => source.stop())).then(() => undefined)),
  };
};
