// npm run bench -- --fanout [--quick]: fan-out past one invocation (bench/README.md, "Fan-out").
//   shards     all() of 100,000 rows with K = 1 … 64 shards, 10 ms a DynamoDB request (proxy)
//   spill      N = 100,000, a 5,000 requests/s limit: the single-invocation path, then the spill
//              path with 1, 2, 4 and 8 workers: wall against the floor N / limit, CPU per message
//   threshold  no limit, N = 2,000 … 20,000: single invocation against spilling everything to
//              8 workers, for where the spill threshold should be
//   million    1,000,000 recipients, sends replaced by the stand-in's accounting, projected at
//              10,000 requests/s (fanout-sim.ts)
//   roomlog    the room log's cost per toRoom message (DynamoDB requests, wall, CPU) against no
//              log, interleaved in the same run (room-log.ts)
// --quick: N = 10,000 at 1,000 requests/s, the single path and the spill path with 4 workers;
// exits 1 unless the spill path is within 1.25 x the floor and everyone got it exactly once.
import { runChild } from './lib/child.ts';
import { ConnectionStore } from '../src/store/connection-store.ts';
import { defaultSpillThreshold } from '../middleware/outbox.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchWriteCommand } from '../src/store/dynamodb/document-client.ts';
import { forEachBounded } from '../src/bounded.ts';
import { connectionKey } from '../src/store/keys.ts';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { createTableInput, loadTemplate, tableOf } from '../packages/gateway/src/template.ts';
import { localCredentials } from '../packages/gateway/src/dynamodb.ts';
import { startDynamoProxy } from './lib/dynamo-proxy.ts';
import { loadConnections, runFanout, startRig, type FanoutRun, type Rig } from './lib/fanout-rig.ts';
import { benchIds } from './lib/gone.ts';
import { round } from './lib/stats.ts';
import { simulateMillion } from './fanout-sim.ts';

const log = (text: string) => process.stderr.write(`${text}\n`);

export interface FanoutPlan {
  n: number;
  rateLimit: number;
  workers: number[];
  /** The spill path's sender threshold (the outbox default). */
  threshold: number;
  sections: Set<string>;
  /** The bar for the quick run: the best spill run within this many floors. */
  bar: number;
  /** Longest a run may take before what is missing counts as lost. */
  runTimeoutMs: number;
  quick: boolean;
}

export const fanoutPlan = (quick: boolean, only?: string): FanoutPlan => ({
  n: quick ? 10_000 : 100_000,
  rateLimit: quick ? 1_000 : 5_000,
  workers: quick ? [4] : [1, 2, 4, 8],
  // The sender runs with 1,769 MB here, as FanoutFunction does.
  threshold: defaultSpillThreshold({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769' }),
  sections: new Set((only ?? (quick ? 'spill,roomlog' : 'shards,spill,threshold,roomlog,million')).split(',')),
  bar: 1.25,
  runTimeoutMs: quick ? 60_000 : 600_000,
  quick,
});

const describe = (r: FanoutRun) =>
  `${r.path === 'single' ? 'single invocation' : `spill, ${r.workers} worker(s)`}: ${r.wallMs} ms (${r.ratio} x floor ${r.floorMs} ms), ` +
  `${r.delivered}/${r.n} delivered, ${r.duplicates} twice, ${r.throttled} 429s, ${r.cpuUsPerMessage} µs CPU/msg, sender sent ${r.senderSent}, spilled ${r.spilled}, ` +
  `sender failures ${JSON.stringify(r.senderFailures)}, worker outcomes ${JSON.stringify(r.outcomes)}, worker failures ${JSON.stringify(r.workerFailures)}`;

/** all() of N rows for several K, each Query 10 ms slower, as DynamoDB's round trip. */
const shardsSection = async (rig: Rig, n: number) => {
  const rows = [];
  const proxy = await startDynamoProxy(rig.dynamo.endpoint, { delayMs: 10 });
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: localCredentials }));
  const table = tableOf(loadTemplate(new URL('../template.yaml', import.meta.url).pathname));
  try {
    for (const shards of [1, 4, 16, 64]) {
      const tableName = `shards-${shards}`;
      await rig.documentClient.send(new CreateTableCommand(createTableInput(table, tableName) as never));
      const writer = new ConnectionStore({ tableName, client: rig.documentClient, shards });
      await loadInto(writer, n);
      for (const small of [false, true]) {
        const store = new ConnectionStore({ tableName: small ? `${tableName}-small` : tableName, client, shards });
        if (small) {
          await rig.documentClient.send(new CreateTableCommand(createTableInput(table, `${tableName}-small`) as never));
          await loadInto(new ConnectionStore({ tableName: `${tableName}-small`, client: rig.documentClient, shards }), 10);
        }
        proxy.start();
        const t0 = performance.now();
        let read = 0;
        for await (const _ of store.all()) read++;
        const ms = performance.now() - t0;
        const queries = proxy.stop().Query ?? 0;
        rows.push({ shards, n: small ? 10 : n, readMs: round(ms, 0), queries, read });
        log(`  shards K=${shards} N=${small ? 10 : n}: all() in ${ms.toFixed(0)} ms, ${queries} Queries`);
      }
    }
  } finally {
    client.destroy();
    proxy.close();
  }
  return rows;
};

const loadInto = async (store: ConnectionStore, n: number) => {
  const ttl = Math.floor(Date.now() / 1000) + 7200;
  const batches: string[][] = [];
  for (let i = 0, ids = benchIds(n); i < ids.length; i += 25) batches.push(ids.slice(i, i + 25));
  await forEachBounded(batches, 8, async (batch) => {
    await store.client.send(
      new BatchWriteCommand({
        RequestItems: { [store.tableName]: batch.map((id) => ({ PutRequest: { Item: { ...connectionKey(id, store.shards), ttl, connectedAt: 0 } } })) },
      }),
    );
  });
};

export const runFanoutBench = async (plan: FanoutPlan, problem: (text: string) => void): Promise<Record<string, unknown>> => {
  const results: Record<string, unknown> = { fanoutPlan: { ...plan, sections: [...plan.sections] } };
  const rig = await startRig();
  try {
    if (plan.sections.has('shards')) {
      log('fanout: shards');
      results.shards = await shardsSection(rig, 100_000);
    }
    if (plan.sections.has('spill')) {
      log(`fanout: loading ${plan.n} connections`);
      const t0 = performance.now();
      await loadConnections(rig, plan.n);
      log(`  loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const runs: FanoutRun[] = [];
      const single = await runFanout(rig, { n: plan.n, rateLimit: plan.rateLimit, threshold: 'off', workers: 0, timeoutMs: plan.runTimeoutMs });
      log(`  ${describe(single)}`);
      runs.push(single);
      for (const workers of plan.workers) {
        const run = await runFanout(rig, { n: plan.n, rateLimit: plan.rateLimit, threshold: plan.threshold, workers, timeoutMs: plan.runTimeoutMs });
        log(`  ${describe(run)}`);
        runs.push(run);
      }
      for (const r of runs) {
        // The spill path loses nobody (the sender hands over whom it could not reach). One
        // invocation alone reports what it could not deliver after maxAttempts: a figure, not a fault.
        if (r.delivered !== r.n && r.path === 'spill') problem(`fanout ${r.path} ${r.workers}: ${r.delivered}/${r.n} delivered`);
        // At least once: a request cut off by its timeout may have landed and is sent again. More
        // than 1 % twice is not that any more.
        if (r.duplicates > r.n / 100) problem(`fanout ${r.path} ${r.workers}: ${r.duplicates} delivered twice`);
      }
      const best = runs.filter((r) => r.path === 'spill').sort((a, b) => a.ratio - b.ratio)[0];
      if (best && best.ratio > plan.bar)
        problem(`fanout: the spill path took ${best.ratio} x the floor (bar ${plan.bar} x), best with ${best.workers} workers`);
      results.spill = runs;
    }
    if (plan.sections.has('threshold')) {
      log('fanout: threshold (no rate limit)');
      const rows = [];
      let loaded = plan.sections.has('spill') ? plan.n : 0;
      for (const n of [2_000, 5_000, 10_000, 20_000]) {
        if (loaded !== n) {
          // A fresh table of exactly n rows.
          await rig.documentClient.send(new (await import('@aws-sdk/client-dynamodb')).DeleteTableCommand({ TableName: rig.tableName }));
          await rig.documentClient.send(
            new CreateTableCommand(createTableInput(tableOf(loadTemplate(new URL('../template.yaml', import.meta.url).pathname)), rig.tableName) as never),
          );
          await loadConnections(rig, n);
          loaded = n;
        }
        const single = await runFanout(rig, { n, rateLimit: 0, threshold: 'off', workers: 0 });
        const spill = await runFanout(rig, { n, rateLimit: 0, threshold: 0, workers: 8 });
        log(`  N=${n}: single ${single.wallMs} ms, spill (8 workers) ${spill.wallMs} ms`);
        rows.push({
          n,
          singleMs: single.wallMs,
          spillMs: spill.wallMs,
          spillFirstMs: spill.firstDeliveryMs,
          singleCpuUs: single.cpuUsPerMessage,
          spillCpuUs: spill.cpuUsPerMessage,
        });
      }
      results.threshold = rows;
    }
    if (plan.sections.has('roomlog')) {
      // The room log's cost per message against no log, same run (room-log.ts, its own processes).
      log('fanout: roomlog (sessions off vs on, interleaved)');
      const out = await runChild<Record<string, unknown>>('room-log.ts', plan.quick ? ['--quick'] : [], {
        nodeFlags: process.execArgv.filter((flag) => flag.startsWith('--conditions')),
      });
      if (!out.ok) problem(`fanout roomlog: ${out.stderrTail || `exit ${out.code}`}`);
      results.roomLog = out.result;
    }
    if (plan.sections.has('million')) {
      log('fanout: 1,000,000 recipients, sends by accounting');
      results.million = await simulateMillion(rig, { n: 1_000_000, rateLimit: 10_000, log });
    }
  } finally {
    await rig.stop();
  }
  return results;
};

export type { FanoutRun };
