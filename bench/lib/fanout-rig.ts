// What the fan-out bench runs on, all on loopback: dynalite with the template's table, the
// embedded SQS with the template's fan-out queues, the rate-limited @connections stand-in
// (sink.ts, its own process), the sender (bench/fanout-sender.ts) and FanoutFunction's bundle in
// frozen worker processes (the local gateway's FunctionPool), and the gateway's SQS event source
// mapping between the queue and the workers.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { build as esbuild } from 'esbuild';
import { esbuildOptions } from '../../build.mjs';
import { forEachBounded } from '../../src/bounded.ts';
import { loadAppModel, type FunctionModel } from '../../packages/gateway/src/app-model.ts';
import { buildBundles } from '../../packages/gateway/src/bundles.ts';
import { localCredentials, startDynamo, type LocalDynamo } from '../../packages/gateway/src/dynamodb.ts';
import { SqsEventSource } from '../../packages/gateway/src/event-sources.ts';
import { FunctionPool } from '../../packages/gateway/src/function-pool.ts';
import { InvocationLedger } from '../../packages/gateway/src/invocations.ts';
import { startSqs, type LocalSqs } from '../../packages/gateway/src/sqs.ts';
import { startWorkerGuard, type WorkerGuard } from '../../packages/gateway/src/worker-guard.ts';
import type { Logger } from '../../packages/gateway/src/log.ts';
import { connectionKey } from '../../src/store/keys.ts';
import { benchIds } from './gone.ts';
import { startSink, type Sink } from './sink-process.ts';

const template = new URL('../../template.yaml', import.meta.url).pathname;
const region = 'us-east-1';

/** CPU seconds a process has used (user + system), from /proc (Linux). */
export const cpuSecondsOf = (pid: number): number => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
};

export interface Rig {
  sink: Sink;
  dynamo: LocalDynamo;
  sqs: LocalSqs;
  tableName: string;
  documentClient: DynamoDBDocumentClient;
  fanoutFunction: FunctionModel;
  fanoutBundle: string;
  senderBundle: string;
  guard: WorkerGuard;
  stop(): Promise<void>;
}

export const startRig = async (): Promise<Rig> => {
  const base = loadAppModel(template, { region });
  const dynamo = await startDynamo({ port: 0, tables: base.tables, region });
  const sqs = await startSqs({ port: 0, queues: base.queues, region });
  const model = loadAppModel(template, { region, queues: sqs.queues });
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-fanout-bench-'));
  const [fanout] = await buildBundles({ template, functions: ['FanoutFunction'], outdir: join(dir, 'dist') });
  const senderBundle = join(dir, 'sender', 'index.mjs');
  await esbuild({ ...(esbuildOptions as object), entryPoints: [new URL('../fanout-sender.ts', import.meta.url).pathname], outfile: senderBundle });
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region, credentials: localCredentials });
  const guard = startWorkerGuard({ log: quietLog });
  return {
    sink, dynamo, sqs,
    tableName: model.tables[0]!.tableName,
    documentClient: DynamoDBDocumentClient.from(client),
    fanoutFunction: model.functions.get('FanoutFunction')!,
    fanoutBundle: fanout!.outfile,
    senderBundle,
    guard,
    stop: async () => {
      client.destroy();
      await guard.stop();
      await Promise.all([sink.stop(), sqs.stop(), dynamo.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

export const quietLog: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined, fn: () => undefined, loud: () => undefined };

/** N connection rows, as $connect writes them, connected a minute ago (past the $connect grace). */
export const loadConnections = async (rig: Rig, n: number): Promise<void> => {
  const ttl = Math.floor(Date.now() / 1000) + 7200;
  const connectedAt = Date.now() - 60_000;
  const ids = benchIds(n);
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += 25) batches.push(ids.slice(i, i + 25));
  await forEachBounded(batches, 8, async (batch) => {
    await rig.documentClient.send(new BatchWriteCommand({
      RequestItems: { [rig.tableName]: batch.map((id) => ({ PutRequest: { Item: { ...connectionKey(id), ttl, connectedAt } } })) },
    }));
  });
};

/** Variables every bench function gets, as the gateway gives its functions. */
const envOf = (rig: Rig): Record<string, string> => ({
  AWS_REGION: region, AWS_DEFAULT_REGION: region,
  AWS_ACCESS_KEY_ID: localCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
  AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: rig.sink.endpoint,
  AWS_ENDPOINT_URL_DYNAMODB: rig.dynamo.endpoint,
  AWS_ENDPOINT_URL_SQS: rig.sqs.endpoint,
  OUTBOX_LOG_LEVEL: 'info',
});

export interface FanoutRun {
  /** 'single' (one invocation sends everything) or the number of workers. */
  path: 'single' | 'spill';
  workers: number;
  n: number;
  rateLimit: number;
  /** From the sender's invocation to the last 200 at the stand-in. */
  wallMs: number;
  floorMs: number;
  ratio: number;
  delivered: number;
  duplicates: number;
  throttled: number;
  /** CPU of the sender and the workers, cold starts included, per recipient. */
  cpuUsPerMessage: number;
  senderSent: number;
  spilled: number;
  workerInvocations: number;
  senderDurationMs: number;
  /** The first time the sink saw a 200 after the sender started. */
  firstDeliveryMs: number;
  /** 200s per second at the stand-in. */
  perSecond: number[];
  /** What the sender reported failed (handed to the queue when it spilled), by reason. */
  senderFailures: Record<string, number>;
  /** What the workers reported failed (and carried on, or gave up on), by reason. */
  workerFailures: Record<string, number>;
  /** Worker invocations by outcome: done, continued, retry. */
  outcomes: Record<string, number>;
}

/**
 * One toAll to the N connections loaded: the sender in its own frozen process, spilling past
 * `threshold` (or not at all), `workers` instances of FanoutFunction behind the event source
 * mapping. Resolves once every connection got it (or the time ran out).
 */
export const runFanout = async (rig: Rig, options: { n: number; rateLimit: number; threshold: number | 'off'; workers: number; timeoutMs?: number }): Promise<FanoutRun> => {
  const { n, rateLimit, threshold, workers } = options;
  await rig.sink.configure({ delayMs: 0, goneShare: 0, rateLimit, countIds: true });
  await rig.sink.reset();
  const queue = rig.sqs.queues.get('FanoutQueue')!;
  const ledger = new InvocationLedger();
  const lines: string[] = [];
  const debug = process.env.BENCH_DEBUG ? (text: string) => process.stderr.write(`${text}\n`) : () => undefined;
  const log: Logger = {
    ...quietLog,
    fn: (prefix, line) => { lines.push(line); debug(`[${prefix}] ${line.slice(0, 300)}`); },
    error: (m) => { lines.push(m); debug(`error: ${m}`); },
    warn: (m) => debug(`warn: ${m}`),
  };
  const fanoutPool = new FunctionPool({ fn: rig.fanoutFunction, codeFile: rig.fanoutBundle, env: envOf(rig), ledger, log, guard: rig.guard, maxInstances: Math.max(1, workers) });
  const senderFn: FunctionModel = {
    ...rig.fanoutFunction, logicalId: 'BenchSender', functionName: 'BenchSender', memoryMb: 1769,
    // Long enough to measure the single path however long it takes; the report says whether it fits in 29 s.
    timeoutSeconds: 900,
    environment: { ...rig.fanoutFunction.environment, BENCH_THRESHOLD: String(threshold) },
  };
  const senderPool = new FunctionPool({ fn: senderFn, codeFile: rig.senderBundle, env: envOf(rig), ledger, log, guard: rig.guard, maxInstances: 1 });
  let invocations = 0;
  const source = workers > 0 ? new SqsEventSource({
    name: 'FanoutFunction/Shards', queueUrl: queue.url, queueArn: queue.arn, client: rig.sqs.client(), pool: fanoutPool,
    batchSize: 1, batchingWindowMs: 0, reportBatchItemFailures: true, concurrency: workers, region, log,
    onBatch: () => { invocations++; },
  }) : undefined;
  source?.start();
  const event = (action: string) => ({
    requestContext: { routeKey: 'send', eventType: 'MESSAGE', connectionId: 'conn-sender', apiId: 'abcd123456', stage: 'bench', requestId: 'bench', domainName: 'abcd123456.execute-api.us-east-1.amazonaws.com' },
    body: JSON.stringify({ action }), isBase64Encoded: false,
  });
  // The sender starts warm, as a route's function usually does; the workers start cold.
  await senderPool.invoke(event('warm'), { route: 'send' });
  const senderCpu0 = senderPool.pids.reduce((total, pid) => total + cpuSecondsOf(pid), 0);
  const t0 = Date.now();
  let senderDone = false;
  const sending = senderPool.invoke(event('send'), { route: 'send' }).finally(() => { senderDone = true; });
  let pids: number[] = [];
  const deadline = t0 + (options.timeoutMs ?? 600_000);
  let stats = await rig.sink.stats();
  // Without workers, nothing more arrives once the sender has returned (what it could not send is in its report).
  while (stats.ids < n && Date.now() < deadline && !(workers === 0 && senderDone)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    pids = [...new Set([...pids, ...senderPool.pids, ...fanoutPool.pids])];
    stats = await rig.sink.stats();
  }
  const sent = await sending;
  pids = [...new Set([...pids, ...senderPool.pids, ...fanoutPool.pids])];
  // The workers' processes are fresh: all their CPU is this run's, cold start included.
  const cpu = pids.reduce((total, pid) => total + cpuSecondsOf(pid), 0) - senderCpu0;
  // The queue serves the next run: let the pollers' last long polls finish rather than cut them.
  await source?.stop({ drain: true });
  await Promise.all([fanoutPool.stop(), senderPool.stop()]);
  stats = await rig.sink.stats();
  const reports = lines.flatMap((line) => { try { return [JSON.parse(line)]; } catch { return []; } });
  const senderReport = reports.find((r) => r.msg === 'ws-outbox delivery report') ?? {};
  const workerReports = reports.filter((r) => r.msg === 'ws-outbox fanout report');
  const workerFailures: Record<string, number> = {};
  for (const r of workerReports) {
    // The log line lists at most 50 failures; scale their reasons up to failedCount.
    const listed = (r.failed ?? []) as { reason: string }[];
    for (const f of listed) workerFailures[f.reason] = (workerFailures[f.reason] ?? 0) + r.failedCount / listed.length;
  }
  const outcomes: Record<string, number> = {};
  for (const r of workerReports) outcomes[r.fanout.outcome] = (outcomes[r.fanout.outcome] ?? 0) + 1;
  const wallMs = stats.lastAt - t0;
  const floorMs = (n / rateLimit) * 1000;
  return {
    path: threshold === 'off' ? 'single' : 'spill', workers, n, rateLimit,
    wallMs, floorMs, ratio: Number((wallMs / floorMs).toFixed(3)),
    delivered: stats.ids, duplicates: stats.duplicates, throttled: stats.throttled,
    cpuUsPerMessage: Math.round((cpu * 1e6) / n),
    senderSent: senderReport.sent ?? 0, spilled: senderReport.spilled ?? 0, workerInvocations: invocations,
    senderDurationMs: Math.round(sent.durationMs),
    firstDeliveryMs: stats.firstAt - t0,
    perSecond: stats.perSecond,
    senderFailures: Object.fromEntries(((senderReport.failed ?? []) as { reason: string }[]).reduce((m, f) => m.set(f.reason, (m.get(f.reason) ?? 0) + 1), new Map<string, number>())),
    workerFailures: Object.fromEntries(Object.entries(workerFailures).map(([k, v]) => [k, Math.round(v)])),
    outcomes,
  };
};
