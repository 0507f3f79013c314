import type { DeliveryReport } from '../types.ts';
import type { DeliveryOutcome } from './deliver.ts';

export const buildReport = (outcome: Pick<DeliveryOutcome, 'queued' | 'sent' | 'gone' | 'failed'>, pruned: number, durationMs: number): DeliveryReport => ({
  queued: outcome.queued,
  sent: outcome.sent,
  gone: outcome.gone,
  failed: outcome.failed,
  pruned,
  durationMs,
});

/** Lists longer than this are cut in the log line (the full report still goes to onReport). */
const maxListedInLog = 50;

/** One structured JSON line per invocation, so that CloudWatch Logs Insights can aggregate it. */
export const logReport = (
  log: (line: string) => void,
  report: DeliveryReport,
  request: { event: { requestContext?: { routeKey?: string; connectionId?: string } }; context: { awsRequestId?: string } },
  extra: { pruneError?: unknown; sourceError?: unknown } = {},
): void => {
  const { gone, failed, ...counts } = report;
  log(
    JSON.stringify({
      level: failed.length > 0 || extra.pruneError || extra.sourceError ? 'warn' : 'info',
      msg: 'ws-outbox delivery report',
      requestId: request.context.awsRequestId,
      routeKey: request.event.requestContext?.routeKey,
      ...counts,
      goneCount: gone.length,
      failedCount: failed.length,
      gone: gone.slice(0, maxListedInLog),
      failed: failed.slice(0, maxListedInLog),
      truncated: gone.length > maxListedInLog || failed.length > maxListedInLog || undefined,
      pruneError: extra.pruneError ? String(extra.pruneError) : undefined,
      sourceError: extra.sourceError ? String(extra.sourceError) : undefined,
    }),
  );
};
