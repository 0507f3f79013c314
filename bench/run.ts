// npm run bench [-- --quick] : every section of bench/README.md, in one run, against one sink.
//   throughput  N x delay x contender, each run in a fresh worker process
//   sweep       outbox-signed at N = 10,000, 20 ms, concurrency 25..200 (full runs only)
//   gone        1,000 recipients, 30 % gone: DynamoDB requests used to prune (dynalite)
//   memory      10,000 / 50,000 recipients under --max-old-space-size=96: success or OOM
//   share       a 2,000-recipient broadcast under a 256 MB function's CPU share (cgroup), outbox-signed
//               against raw-socket, per recipient
//   coldstart   per function: init at full CPU + first invocation under a 256 MB CPU share, against a
//               plain SDK v3 app and an aws-lite app (coldstart.ts)
// --quick: N = 1,000 only, one repetition, no 20 ms sequential run; proves the harness works.
// --coldstart [--reps 7] [--only send,$connect] [--profile send] [--baseline ../other-checkout]: the
// cold-start bench alone (--baseline: that checkout's functions too, "send (baseline)", in the same run).
// --fanout [--quick]: fan-out past one invocation instead (fanout.ts): the sharded index, the
// spill path against a rate-limited @connections, the spill threshold, 1,000,000 projected.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runChild } from './lib/child.ts';
import { machine } from './lib/machine.ts';
import { startSink, type Sink } from './lib/sink-process.ts';
import { median, round } from './lib/stats.ts';
import { renderTables } from './lib/report.ts';
import { measureColdStart } from './coldstart.ts';
import { bundle } from './lib/bundle.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    fanout: { type: 'boolean', default: false },
    coldstart: { type: 'boolean', default: false },
    profile: { type: 'string' },
    baseline: { type: 'string' },
    only: { type: 'string' }, // comma list of sections
    reps: { type: 'string' },
    ns: { type: 'string' }, // throughput's N values, comma-separated
  },
});
const quick = values.quick;
const sections = new Set((values.only ?? 'throughput,sweep,gone,memory,share,coldstart').split(','));

const outboxReady = existsSync(new URL('../src/index.ts', import.meta.url));
const plan = {
  ns: values.ns ? values.ns.split(',').map(Number) : quick ? [1_000] : [1_000, 10_000],
  delays: [0, 20],
  reps: Number(values.reps ?? (quick ? 1 : 3)),
  // The *-transport contenders are diagnostics (transport alone, no engine); quick skips them.
  contenders: [
    'naive',
    'sequential',
    'raw',
    'raw-socket',
    ...(quick ? [] : ['sdk-transport', 'signed-transport']),
    ...(outboxReady ? ['outbox-sdk', 'outbox-signed'] : []),
  ],
  memory: {
    ns: quick ? [1_000] : [10_000, 50_000],
    contenders: ['naive', ...(outboxReady ? (quick ? ['outbox-signed'] : ['outbox-sdk', 'outbox-signed']) : [])],
    delayMs: 20,
    // The setting (old space only), and the same with the young generation capped as a
    // 128 MB Lambda's Node bootstrap also does: V8's default semi-spaces alone add ~40 MB of RSS.
    flagSets: quick ? [['--max-old-space-size=96']] : [['--max-old-space-size=96'], ['--max-old-space-size=96', '--max-semi-space-size=6']],
    rssLimitMiB: 128,
  },
  // Lambda's CPU share of a 256 MB function (cgroups, as the local gateway applies it), for a warm
  // broadcast: the bars are 0.8 ms a recipient here, and 60 µs of CPU a message at full CPU.
  share: {
    n: 2_000,
    delayMs: 20,
    memoryMb: 256,
    contenders: ['raw-socket', ...(outboxReady ? ['outbox-signed'] : [])],
    reps: Number(values.reps ?? (quick ? 1 : 3)),
  },
  bars: { cpuUsPerMessage: 60, shareMsPerRecipient: 0.8 },
};

// Fake credentials: the sink checks that requests are signed, not by whom.
const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK', AWS_SECRET_ACCESS_KEY: 'bench-secret', AWS_SESSION_TOKEN: '' };
Object.assign(process.env, env);
delete process.env.AWS_SESSION_TOKEN;

export interface WorkerResult {
  contender: string;
  n: number;
  wallMs: number;
  cpuUs: number;
  peakRss: number;
  peakHeap: number;
  sent: number;
  gone: number;
  failed: number;
}

const log = (text: string) => process.stderr.write(`${text}\n`);
// Anything that means the harness or a contender did not do its job; a quick run exits 1 on any.
const problems: string[] = [];
const problem = (text: string) => {
  problems.push(text);
  log(`! ${text}`);
};

const throughput = async (sink: Sink) => {
  const rows = [];
  for (const n of plan.ns) {
    for (const delayMs of plan.delays) {
      await sink.configure({ delayMs, goneShare: 0 });
      const runs = new Map<string, WorkerResult[]>();
      for (let rep = 0; rep < plan.reps; rep++) {
        // Contenders interleave within a repetition, so drift in machine load spreads over all.
        for (const label of [...plan.contenders, ...(baselineWorker ? ['outbox-signed (baseline)'] : [])]) {
          // --baseline <checkout>: that checkout's outbox, interleaved with ours.
          const contender = label === 'outbox-signed (baseline)' ? 'outbox-signed' : label;
          const slow = contender === 'sequential' && delayMs > 0;
          if (slow && (quick || rep > 0)) continue; // ~21 ms x N; one run says enough
          const outcome = await runChild<WorkerResult>(label === contender ? worker : baselineWorker!, ['--contender', contender, '--n', String(n)], {
            nodeFlags: ['--expose-gc'],
            env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint },
          });
          if (!outcome.ok || !outcome.result) {
            problem(`${label} n=${n} ${delayMs}ms failed: ${outcome.stderrTail}`);
            continue;
          }
          const r = outcome.result;
          if (r.sent !== n) problem(`${label} n=${n} ${delayMs}ms delivered ${r.sent}/${n}`);
          log(`  ${label.padEnd(16)} n=${n} ${delayMs}ms  ${r.wallMs.toFixed(0)} ms  ${(r.cpuUs / n).toFixed(0)} µs/msg`);
          runs.set(label, [...(runs.get(label) ?? []), r]);
        }
      }
      for (const [contender, rs] of runs) {
        const wallMs = median(rs.map((r) => r.wallMs));
        const cpuUsPerMsg = median(rs.map((r) => r.cpuUs / n));
        rows.push({
          n,
          delayMs,
          contender,
          runs: rs.length,
          wallMs: round(wallMs, 1),
          msgPerSec: Math.round(n / (wallMs / 1000)),
          cpuUsPerMsg: round(cpuUsPerMsg, 1),
          peakRss: Math.max(...rs.map((r) => r.peakRss)),
          peakHeap: Math.max(...rs.map((r) => r.peakHeap)),
          sent: Math.min(...rs.map((r) => r.sent)),
          failed: Math.max(...rs.map((r) => r.failed)),
        });
      }
    }
  }
  return rows;
};

const ratios = (rows: Awaited<ReturnType<typeof throughput>>) => {
  const out = [];
  for (const n of plan.ns)
    for (const delayMs of plan.delays) {
      const get = (c: string) => rows.find((r) => r.n === n && r.delayMs === delayMs && r.contender === c);
      const naive = get('naive'),
        raw = get('raw'),
        rawSocket = get('raw-socket');
      for (const c of ['outbox-sdk', 'outbox-signed', 'outbox-signed (baseline)', 'sdk-transport', 'signed-transport']) {
        const o = get(c);
        if (!o || !naive || !raw) continue;
        out.push({
          n,
          delayMs,
          contender: c,
          wallVsNaive: round(o.wallMs / naive.wallMs, 3),
          cpuVsNaive: round(o.cpuUsPerMsg / naive.cpuUsPerMsg, 3),
          wallVsRaw: round(o.wallMs / raw.wallMs, 3),
          cpuVsRaw: round(o.cpuUsPerMsg / raw.cpuUsPerMsg, 3),
          ...(rawSocket ? { cpuVsRawSocket: round(o.cpuUsPerMsg / rawSocket.cpuUsPerMsg, 3) } : {}),
        });
      }
    }
  return out;
};

// Does more in flight help? Only the network-bound case (20 ms) can tell; full runs only.
const sweep = async (sink: Sink) => {
  if (!outboxReady || quick) return [];
  await sink.configure({ delayMs: 20, goneShare: 0 });
  const rows = [];
  for (const concurrency of [25, 50, 100, 200]) {
    await sink.reset();
    const outcome = await runChild<WorkerResult>(worker, ['--contender', 'outbox-signed', '--n', '10000', '--concurrency', String(concurrency)], {
      nodeFlags: ['--expose-gc'],
      env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint },
    });
    const r = outcome.result;
    if (!outcome.ok || !r) {
      problem(`sweep c=${concurrency} failed`);
      continue;
    }
    const peakInFlight = (await sink.stats()).peakInFlight;
    log(`  sweep outbox-signed c=${concurrency}: ${r.wallMs.toFixed(0)} ms, sink saw ${peakInFlight} in flight`);
    rows.push({
      concurrency,
      wallMs: round(r.wallMs, 1),
      msgPerSec: Math.round(10000 / (r.wallMs / 1000)),
      cpuUsPerMsg: round(r.cpuUs / 10000, 1),
      peakRss: r.peakRss,
      sinkPeakInFlight: peakInFlight,
    });
  }
  return rows;
};

const gone = async (sink: Sink) => {
  if (!outboxReady) return { skipped: 'src/index.ts not present yet' };
  await sink.configure({ delayMs: 0, goneShare: 0.3 });
  await sink.reset();
  const outcome = await runChild<Record<string, unknown>>('gone.ts', ['--n', '1000'], { env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint } });
  const sinkStats = await sink.stats();
  // The price of confirming each 410 (GetConnection on a socket of its own): the same run without
  // it, alternated, the median of each.
  const durations = { confirm: [] as number[], noConfirm: [] as number[] };
  for (let rep = 0; rep < (quick ? 1 : 3); rep++) {
    for (const [key, args] of [
      ['noConfirm', ['--no-confirm']],
      ['confirm', []],
    ] as const) {
      await sink.reset();
      const run = await runChild<{ durationMs?: number }>('gone.ts', ['--n', '1000', ...args], {
        env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint },
      });
      if (run.ok && typeof run.result?.durationMs === 'number') durations[key].push(run.result.durationMs);
    }
  }
  const confirmation = {
    durationMs: median(durations.confirm),
    withoutMs: median(durations.noConfirm),
    ratio: round(median(durations.confirm) / median(durations.noConfirm), 2),
  };
  if (!outcome.ok) problem(`gone failed: ${outcome.stderrTail}`);
  else if (!(outcome.result as { batchWriteWithinBound?: boolean }).batchWriteWithinBound) problem('gone: more BatchWriteItem calls than ceil(items / 25)');
  else {
    const r = outcome.result as { roomMembersAfter?: number; connectionsAfter?: number; expectedAfter?: number };
    if (r.roomMembersAfter !== r.expectedAfter || r.connectionsAfter !== r.expectedAfter)
      problem(`gone: ${r.roomMembersAfter} room members and ${r.connectionsAfter} connections left, expected ${r.expectedAfter}`);
  }
  return { ...outcome.result, sinkStats, confirmation, ...(outcome.ok ? {} : { error: outcome.stderrTail }) };
};

const memory = async (sink: Sink) => {
  await sink.configure({ delayMs: plan.memory.delayMs, goneShare: 0 });
  const rows = [];
  for (const flags of plan.memory.flagSets)
    for (const n of plan.memory.ns)
      for (const contender of plan.memory.contenders) {
        // As in a 128 MB function: the outbox picks its default concurrency (50) from this variable.
        const outcome = await runChild<WorkerResult>(worker, ['--contender', contender, '--n', String(n), '--warmup', '0'], {
          nodeFlags: flags,
          env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' },
        });
        const r = outcome.result;
        const status = outcome.ok && r?.sent === n ? 'ok' : outcome.oom ? 'OOM' : `failed (exit ${outcome.code ?? outcome.signal}, sent ${r?.sent ?? '?'})`;
        log(`  memory ${contender.padEnd(14)} n=${n} ${flags.join(' ')}: ${status}`);
        // Naive is reported as it is; the outbox must complete.
        if (contender.startsWith('outbox') && status !== 'ok') problem(`memory: ${contender} n=${n} ${status}`);
        rows.push({
          flags: flags.join(' '),
          n,
          contender,
          status,
          rssWithinLimit: r ? r.peakRss <= plan.memory.rssLimitMiB * 1048576 : null,
          wallMs: r ? round(r.wallMs, 0) : null,
          peakRss: r?.peakRss ?? null,
          peakHeap: r?.peakHeap ?? null,
          ...(status === 'ok' ? {} : { stderrTail: outcome.stderrTail.slice(-300) }),
        });
      }
  return rows;
};

// A warm broadcast to 2,000 recipients in a process held to a 256 MB function's CPU share from
// its start (warm-up included, as a warm Lambda instance is), against the raw-socket floor.
const share = async (sink: Sink) => {
  const { startLimits } = await import('../packages/gateway/src/cgroups.ts');
  const started = startLimits({ name: `ws-outbox-bench-share-${process.pid}` });
  if (!started.limits) return { skipped: `no CPU share: ${started.reason}` };
  const limits = started.limits;
  const { n, delayMs, memoryMb, contenders, reps } = plan.share;
  await sink.configure({ delayMs, goneShare: 0 });
  const runs = new Map<string, WorkerResult[]>();
  // --baseline <checkout>: its outbox too, interleaved with ours.
  const runsOf = [
    ...contenders.map((c) => ({ label: c, contender: c, script: worker })),
    ...(baselineWorker ? [{ label: 'outbox-signed (baseline)', contender: 'outbox-signed', script: baselineWorker }] : []),
  ];
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const { label, contender, script } of runsOf) {
        let cgroup: ReturnType<typeof limits.attach> | undefined;
        const outcome = await runChild<WorkerResult>(script, ['--contender', contender, '--n', String(n)], {
          nodeFlags: ['--expose-gc'],
          env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb) },
          onSpawn: (pid) => {
            cgroup = limits.attach(pid, `share-${label.replace(/\W+/g, '-')}-${rep}`, memoryMb);
            cgroup.limitCpu();
          },
        });
        await cgroup?.remove();
        if (!outcome.ok || !outcome.result || outcome.result.sent !== n) {
          problem(`share ${label} failed: ${outcome.stderrTail}`);
          continue;
        }
        log(`  share ${label.padEnd(14)} n=${n}: ${(outcome.result.wallMs / n).toFixed(3)} ms/recipient, ${(outcome.result.cpuUs / n).toFixed(0)} µs CPU/msg`);
        runs.set(label, [...(runs.get(label) ?? []), outcome.result]);
      }
    }
  } finally {
    await limits.stop();
  }
  const rows = [...runs].map(([contender, rs]) => ({
    contender,
    n,
    delayMs,
    memoryMb,
    runs: rs.length,
    msPerRecipient: round(median(rs.map((r) => r.wallMs / n)), 3),
    cpuUsPerMsg: round(median(rs.map((r) => r.cpuUs / n)), 1),
  }));
  const floor = rows.find((r) => r.contender === 'raw-socket');
  return rows.map((r) => ({ ...r, vsRawSocket: floor ? round(r.msPerRecipient / floor.msPerRecipient, 3) : null }));
};

const started = performance.now();
const results: Record<string, unknown> = { mode: quick ? 'quick' : values.only ? `partial (${values.only})` : 'full', machine: machine(), plan };
if (values.fanout) {
  // The fan-out bench has its own rig (dynalite, SQS, workers); its results go to fanout-*.json.
  const { fanoutPlan, runFanoutBench } = await import('./fanout.ts');
  Object.assign(results, { plan: undefined }, await runFanoutBench(fanoutPlan(quick, values.only), problem));
  finish('fanout');
  process.exit(process.exitCode ?? 0);
}
if (values.coldstart) {
  const cold = await measureColdStart({
    reps: Number(values.reps ?? (quick ? 3 : 7)),
    only: values.only?.split(','),
    profile: values.profile,
    baseline: values.baseline,
    log,
  });
  results.coldstart = cold;
  finish('coldstart');
  process.exit(process.exitCode ?? 0);
}
// Measured processes run the bundled worker (plain JS, as deployed); see lib/bundle.ts.
const worker = await bundle('worker.ts');
// --baseline <checkout>: its outbox runs beside ours in the throughput and share sections.
const baselineWorker = values.baseline === undefined ? undefined : await bundle('worker.ts', values.baseline);
const sink = await startSink();
try {
  if (sections.has('throughput')) {
    log('throughput');
    const rows = await throughput(sink);
    results.throughput = rows;
    results.ratios = ratios(rows);
  }
  if (sections.has('sweep')) {
    log('sweep');
    results.sweep = await sweep(sink);
  }
  if (sections.has('gone')) {
    log('gone');
    results.gone = await gone(sink);
  }
  if (sections.has('memory')) {
    log('memory');
    results.memory = await memory(sink);
  }
  if (sections.has('share')) {
    log('share');
    results.share = await share(sink);
  }
  if (sections.has('coldstart')) {
    log('coldstart');
    results.coldstart = await measureColdStart({ reps: quick ? 3 : 7, log });
  }
} finally {
  await sink.stop();
}
finish('full');

function finish(kind: 'full' | 'fanout' | 'coldstart'): void {
  results.totalSeconds = round((performance.now() - started) / 1000, 1);
  results.problems = problems;
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  // Quick runs (CI) stay out of git; full runs are the record.
  const stamp = (results.machine as { date: string }).date.slice(0, 16).replace(/[:]/g, '');
  const prefix = kind === 'full' ? '' : `${kind}-`;
  const file = quick ? `${prefix}quick.tmp.json` : values.only ? `${prefix}partial-${stamp}.tmp.json` : `${kind}-${stamp}.json`;
  writeFileSync(new URL(file, dir), `${JSON.stringify(results, null, 2)}\n`);
  const cold = results.coldstart as { profile?: string } | undefined;
  const tables = renderTables(results) + (kind === 'coldstart' && cold?.profile ? `\n\`\`\`\n${cold.profile}\n\`\`\`\n` : '');
  if (!quick && !values.only) writeFileSync(new URL(`latest-${kind}.md`, dir), tables);
  process.stdout.write(`${tables}\nresults: bench/results/${file} (${results.totalSeconds} s)\n`);
  if (problems.length) {
    process.stderr.write(`${problems.length} problem(s):\n${problems.join('\n')}\n`);
    process.exitCode = 1;
  }
}
