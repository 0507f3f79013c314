// A fan-out worker's reports as CloudWatch metrics (EMF), through a Powertools `Metrics` instance,
// as the outbox does for the invocation that spilled: the same names, `route` = `$fanout`, plus
// where each shard stands. The worker's own work is done inside its handler, so by the time any
// after-middleware runs the metrics are in: a logMetrics the app adds with .use() publishes them,
// and without one the worker publishes them itself, once per invocation.
import type middy from '@middy/core';
import { addReportMetrics, powertoolsMetricsKey, publishMetrics, type ReportMetrics } from '../outbox/metrics.ts';
import type { FanoutReport } from './worker.ts';

const outcomeMetric = { done: 'ShardsDone', continued: 'ShardsContinued', retry: 'ShardsRetried' } as const;

/** One record's report: the delivery's metrics, Read (recipients read from the store) and ShardsDone/ShardsContinued/ShardsRetried. */
export const addFanoutMetrics = (metrics: ReportMetrics, report: FanoutReport): void => {
  try {
    const { fanout, ...delivery } = report;
    addReportMetrics(metrics, delivery, '$fanout');
    metrics.addMetric('Read', 'Count', fanout.read);
    metrics.addMetric(outcomeMetric[fanout.outcome], 'Count', 1);
  } catch (error) {
    console.error(JSON.stringify({ level: 'error', msg: 'ws-outbox: adding the fan-out metrics failed', error: String((error as Error)?.message ?? error) }));
  }
};

/** Publishes the invocation's metrics unless Powertools' logMetrics is in the stack (it publishes them). */
export const publishUnclaimedMetrics = (metrics: ReportMetrics): middy.MiddlewareObj => {
  const publishUnlessClaimed = async (request: middy.Request): Promise<void> => {
    if (!(powertoolsMetricsKey in request.internal)) publishMetrics(metrics);
  };
  return { after: publishUnlessClaimed, onError: publishUnlessClaimed };
};
