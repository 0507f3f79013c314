// 1,000,000 recipients, the same code as a real fan-out (the sender's wsHandler spilling past its
// threshold, the SQS queue, the event source mapping, fanoutHandler reading its shard page by page
// from dynalite, the engine, the prune), except the send itself: each PostToConnection is charged
// to the stand-in's accounting instead of going over HTTP. The accounting is API Gateway's token
// bucket run on a virtual clock (GCRA): a request offered at t is admitted at the first instant
// the bucket has a token for it. The last admission is where the fan-out would end at that rate.
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createTableInput, loadTemplate, tableOf } from '../packages/gateway/src/template.ts';
import { ConnectionStore, fanoutHandler, wsHandler, type DeliveryReport, type FanoutReport } from '../src/index.ts';
import type { Transport } from '../src/management/transport.ts';
import { SqsEventSource } from '../packages/gateway/src/event-sources.ts';
import { inProcessPool } from '../test/helpers/in-process-pool.ts';
import { loadConnections, quietLog, type Rig } from './lib/fanout-rig.ts';
import { round } from './lib/stats.ts';

/** API Gateway's throttle as a virtual schedule: rate per second, a tenth of a second of burst. */
export class Accounting {
  readonly #interval: number;
  readonly #tolerance: number;
  #tat = 0;
  admitted = 0;
  lastAdmit = 0;
  lastOffer = 0;
  readonly seen = new Set<string>();
  duplicates = 0;

  constructor(rate: number, burst = rate / 10) {
    this.#interval = 1000 / rate;
    this.#tolerance = burst * this.#interval;
  }

  /** Charges one request offered now; returns when the bucket would have let it through. */
  charge(id: string, offeredAt: number): number {
    const tat = Math.max(this.#tat, offeredAt);
    const admit = Math.max(offeredAt, tat - this.#tolerance);
    this.#tat = tat + this.#interval;
    this.admitted++;
    this.lastAdmit = Math.max(this.lastAdmit, admit);
    this.lastOffer = Math.max(this.lastOffer, offeredAt);
    if (this.seen.has(id)) this.duplicates++;
    else this.seen.add(id);
    return admit;
  }

  transport(): Transport {
    return {
      post: async (id) => {
        this.charge(id, performance.now());
      },
      delete: async () => undefined,
      destroy: () => undefined,
    };
  }
}

export interface MillionResult {
  n: number;
  rateLimit: number;
  workers: number;
  loadSeconds: number;
  /** Sender start to the last send offered: store reads, the engine, the queue; sends free. */
  simulatedMs: number;
  /** Sender start to the last admission of the token bucket at rateLimit. */
  projectedMs: number;
  floorMs: number;
  ratio: number;
  delivered: number;
  duplicates: number;
  spilled: number;
  workerInvocations: number;
}

export const simulateMillion = async (
  rig: Rig,
  options: { n: number; rateLimit: number; workers?: number; log: (text: string) => void },
): Promise<MillionResult> => {
  const { n, rateLimit, log } = options;
  const workers = options.workers ?? 8;
  // A fresh table with exactly n rows.
  await rig.documentClient.send(new DeleteTableCommand({ TableName: rig.tableName }));
  await rig.documentClient.send(
    new CreateTableCommand(createTableInput(tableOf(loadTemplate(new URL('../template.yaml', import.meta.url).pathname)), rig.tableName) as never),
  );
  const t0 = performance.now();
  await loadConnections(rig, n);
  const loadSeconds = round((performance.now() - t0) / 1000, 1);
  log(`  loaded ${n} connections in ${loadSeconds} s`);

  // This process plays the functions: their SQS client finds the embedded SQS as theirs do.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SQS: rig.sqs.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
  });
  const accounting = new Accounting(rateLimit);
  const store = new ConnectionStore({ tableName: rig.tableName, client: rig.documentClient });
  const queue = rig.sqs.queues.get('FanoutQueue')!;
  const transport = () => accounting.transport();
  let senderReport: DeliveryReport | undefined;
  const sender = wsHandler(
    async (_event, context) => {
      context.outbox.toAll({ type: 'message', text: 'one million' });
      return { statusCode: 200 };
    },
    {
      store,
      transport,
      fanout: { queueUrl: queue.url },
      logger: false,
      onReport: (r) => {
        senderReport = r;
      },
    },
  );
  const reports: FanoutReport[] = [];
  const worker = fanoutHandler({
    store,
    transport,
    endpoint: 'https://abcd123456.execute-api.us-east-1.amazonaws.com/bench',
    queueUrl: queue.url,
    logger: false,
    onReport: (r) => {
      reports.push(r);
    },
  });
  const source = new SqsEventSource({
    name: 'FanoutFunction/Shards',
    queueUrl: queue.url,
    queueArn: queue.arn,
    client: rig.sqs.client(),
    pool: inProcessPool('FanoutFunction', worker as never, { timeoutMs: 30_000 }),
    batchSize: 1,
    batchingWindowMs: 0,
    reportBatchItemFailures: true,
    concurrency: workers,
    region: 'us-east-1',
    log: quietLog,
  });
  source.start();
  const start = performance.now();
  await sender(
    { requestContext: { routeKey: 'send', eventType: 'MESSAGE', connectionId: 'conn-sender', apiId: 'abcd123456', stage: 'bench' }, body: '{}' } as never,
    { awsRequestId: 'million', getRemainingTimeInMillis: () => 29_000 } as never,
  );
  const deadline = Date.now() + 30 * 60_000;
  while (accounting.seen.size < n && Date.now() < deadline) {
    if (senderReport && senderReport.unresolved.length > 0)
      throw new Error(`the sender could not hand its shards over: ${JSON.stringify(senderReport.unresolved[0])}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await source.stop();
  const result: MillionResult = {
    n,
    rateLimit,
    workers,
    loadSeconds,
    simulatedMs: Math.round(accounting.lastOffer - start),
    projectedMs: Math.round(accounting.lastAdmit - start),
    floorMs: (n / rateLimit) * 1000,
    ratio: round((accounting.lastAdmit - start) / ((n / rateLimit) * 1000), 3),
    delivered: accounting.seen.size,
    duplicates: accounting.duplicates,
    spilled: senderReport?.spilled ?? 0,
    workerInvocations: reports.length,
  };
  log(
    `  simulated ${result.simulatedMs} ms (sends free), projected ${result.projectedMs} ms at ${rateLimit}/s (${result.ratio} x floor), ${result.delivered}/${n} delivered, ${result.duplicates} twice`,
  );
  return result;
};
