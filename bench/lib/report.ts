// Renders the results object as the markdown tables printed by `npm run bench` and pasted into
// bench/README.md.
import { mib } from './stats.ts';
import { renderColdTable } from '../coldstart.ts';

type Row = Record<string, unknown>;
const table = (header: string[], rows: unknown[][]) =>
  [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export const renderTables = (results: Row): string => {
  const parts: string[] = [];
  const m = results.machine as Row;
  parts.push(`Node ${m.node}, ${m.cpu} (${m.cores} cores), ${m.date}, mode ${results.mode}`);
  if (Array.isArray(results.throughput)) {
    parts.push('### Throughput\n' + table(
      ['N', 'delay', 'contender', 'runs', 'wall ms', 'msg/s', 'CPU µs/msg', 'peak RSS MiB', 'peak heap MiB', 'sent'],
      (results.throughput as Row[]).map((r) => [r.n, `${r.delayMs} ms`, r.contender, r.runs, r.wallMs, r.msgPerSec, r.cpuUsPerMsg, mib(r.peakRss as number), mib(r.peakHeap as number), r.sent]),
    ));
  }
  if (Array.isArray(results.ratios) && results.ratios.length) {
    parts.push('### Ratios (same run; < 1 is better for the contender)\n' + table(
      ['N', 'delay', 'contender', 'wall / naive', 'CPU / naive', 'wall / raw', 'CPU / raw', 'CPU / raw-socket'],
      (results.ratios as Row[]).map((r) => [r.n, `${r.delayMs} ms`, r.contender, r.wallVsNaive, r.cpuVsNaive, r.wallVsRaw, r.cpuVsRaw, r.cpuVsRawSocket ?? '–']),
    ));
  }
  if (Array.isArray(results.sweep) && results.sweep.length) {
    parts.push('### Concurrency sweep (outbox-signed, N = 10,000, 20 ms)\n' + table(
      ['concurrency', 'wall ms', 'msg/s', 'CPU µs/msg', 'peak RSS MiB', 'sink peak in flight'],
      (results.sweep as Row[]).map((r) => [r.concurrency, r.wallMs, r.msgPerSec, r.cpuUsPerMsg, mib(r.peakRss as number), r.sinkPeakInFlight]),
    ));
  }
  const gone = results.gone as Row | undefined;
  if (gone && gone.requests) {
    const requests = gone.requests as Record<string, number>;
    parts.push('### Gone (1,000 room members, ~30 % gone, dynalite)\n' + table(
      ['sent', 'gone', 'pruned', 'items deleted', 'Query', 'BatchGetItem', 'BatchWriteItem', 'ceil(items / 25)', 'other requests', 'room / connections left (expected)'],
      [[gone.sent, gone.gone, gone.pruned, gone.itemsDeleted, requests.Query ?? 0, requests.BatchGetItem ?? 0, requests.BatchWriteItem ?? 0, gone.batchWriteBound,
        Object.entries(requests).filter(([op]) => !['Query', 'BatchGetItem', 'BatchWriteItem'].includes(op)).map(([op, c]) => `${op} ${c}`).join(', ') || 'none',
        `${gone.roomMembersAfter} / ${gone.connectionsAfter} (${gone.expectedAfter})`]],
    ));
  } else if (gone) parts.push('### Gone\n```json\n' + JSON.stringify(gone, null, 2) + '\n```');
  if (Array.isArray(results.memory)) {
    parts.push('### Memory (20 ms sink, no warm-up)\n' + table(
      ['node flags', 'N', 'contender', 'result', 'wall ms', 'peak RSS MiB', 'RSS ≤ 128 MiB', 'peak heap MiB'],
      (results.memory as Row[]).map((r) => [`\`${r.flags ?? '--max-old-space-size=96'}\``, r.n, r.contender, r.status, r.wallMs ?? '–', r.peakRss ? mib(r.peakRss as number) : '–',
        r.rssWithinLimit === null || r.rssWithinLimit === undefined ? '–' : r.rssWithinLimit ? 'yes' : 'no', r.peakHeap ? mib(r.peakHeap as number) : '–']),
    ));
  }
  if (Array.isArray(results.share)) {
    parts.push('### A warm broadcast under a 256 MB CPU share (cgroup, 14.5 % of a vCPU)\n' + table(
      ['N', 'sink delay', 'contender', 'runs', 'ms per recipient', 'CPU µs/msg', 'per recipient / raw-socket'],
      (results.share as Row[]).map((r) => [r.n, `${r.delayMs} ms`, r.contender, r.runs, r.msPerRecipient, r.cpuUsPerMsg, r.vsRawSocket ?? '–']),
    ));
  } else if (results.share) parts.push(`### Broadcast under a CPU share\n${JSON.stringify(results.share)}`);
  const cold = results.coldstart as Parameters<typeof renderColdTable>[0] | undefined;
  if (cold) parts.push(`### Cold start: init at full CPU, then the first invocation\n${renderColdTable(cold)}`);
  parts.push(...fanoutTables(results));
  return parts.join('\n\n') + '\n';
};

const fanoutTables = (results: Row): string[] => {
  const parts: string[] = [];
  if (Array.isArray(results.shards)) {
    parts.push('### Shards: all() with K shards, 10 ms a Query (readConcurrency 4)\n' + table(
      ['K', 'connections', 'all() ms', 'Queries'],
      (results.shards as Row[]).map((r) => [r.shards, r.n, r.readMs, r.queries]),
    ));
  }
  if (Array.isArray(results.spill)) {
    const runs = results.spill as Row[];
    const n = runs[0]?.n as number;
    const limit = runs[0]?.rateLimit as number;
    parts.push(`### Fan-out: N = ${n.toLocaleString('en')}, ${limit.toLocaleString('en')} requests/s (floor ${(n / limit).toFixed(0)} s)\n` + table(
      ['path', 'workers', 'wall s', 'wall / floor', 'CPU µs/msg', 'sender sent', 'shards spilled', 'worker invocations', '429s', 'delivered', 'twice', 'first 200 after (ms)'],
      runs.map((r) => [r.path === 'single' ? 'single invocation' : 'spill', r.path === 'single' ? '–' : r.workers, ((r.wallMs as number) / 1000).toFixed(2), r.ratio, r.cpuUsPerMessage,
        r.senderSent, r.spilled, r.workerInvocations, r.throttled, r.delivered, r.duplicates, r.firstDeliveryMs]),
    ));
  }
  if (Array.isArray(results.threshold)) {
    parts.push('### Spill threshold: one invocation against spilling everything to 8 workers, no rate limit\n' + table(
      ['N', 'single invocation ms', 'spill ms', 'spill: first 200 after (ms)', 'single CPU µs/msg', 'spill CPU µs/msg'],
      (results.threshold as Row[]).map((r) => [r.n, r.singleMs, r.spillMs, r.spillFirstMs, r.singleCpuUs, r.spillCpuUs]),
    ));
  }
  const million = results.million as Row | undefined;
  if (million) {
    parts.push(`### 1,000,000 recipients, sends charged to the stand-in's accounting, projected at ${(million.rateLimit as number).toLocaleString('en')} requests/s\n` + table(
      ['workers', 'load s', 'reads + engine + queue (sends free) s', 'projected s', 'floor s', 'projected / floor', 'shards spilled', 'worker invocations', 'delivered', 'twice'],
      [[million.workers, million.loadSeconds, ((million.simulatedMs as number) / 1000).toFixed(1), ((million.projectedMs as number) / 1000).toFixed(1),
        ((million.floorMs as number) / 1000).toFixed(0), million.ratio, million.spilled, million.workerInvocations, million.delivered, million.duplicates]],
    ));
  }
  return parts;
};
