// Powertools interop, in a real Node 24 process with Powertools' own Logger, Metrics and Middy
// middlewares (test/fixtures/powertools): the report line goes through the Logger with the Lambda
// context injectLambdaContext added; the report's metrics (Sent, Gone, Failed and FailedThrottled,
// Pruned, DurationMs, route) are in the one EMF blob logMetrics prints for the invocation, next to
// the app's own metric, whichever way the stack is built; nothing leaks into the next invocation;
// and the signed transport forwards the X-Ray trace header.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { join } from 'node:path';
import { repoRoot, runNode } from '../../helpers/node.ts';
import { startManagementServer, type ManagementServer } from '../../helpers/management-server.ts';
import { holdPublish } from '../../../src/outbox/metrics.ts';

const traceId = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
let server: ManagementServer;

beforeAll(async () => {
  server = await startManagementServer(
    ({ connectionId }) =>
      connectionId === 'busy='
        ? { status: 429, errorType: 'LimitExceededException' }
        : connectionId === 'ghost='
          ? { status: 410, errorType: 'GoneException' }
          : { status: 200 },
    'test',
  );
});
afterAll(async () => {
  await server?.stop();
});

/** Runs invocations ("name:stack[:fail]") in one process; returns each one's stdout lines, parsed. */
const invocations = async (...steps: string[]): Promise<Record<string, any[]>> => {
  const { NODE_OPTIONS: _jest, ...env } = process.env;
  const run = await runNode([join(repoRoot, 'test/fixtures/powertools/run.ts'), ...steps], {
    env: {
      ...env,
      AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: server.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_LAMBDA_FUNCTION_NAME: 'chat-send',
      _X_AMZN_TRACE_ID: traceId,
      POWERTOOLS_DEV: '',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      OUTBOX_LOG_LEVEL: 'info',
    },
  });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  const byInvocation: Record<string, any[]> = {};
  let current: any[] = [];
  for (const line of run.stdout.trim().split('\n')) {
    const parsed = JSON.parse(line);
    if (parsed.invocation) byInvocation[parsed.invocation] = current = [];
    else current.push(parsed);
  }
  return byInvocation;
};

const emf = (lines: any[]) => lines.filter((l) => l._aws && l.Sent !== undefined);
const metricNames = (blob: any): string[] => blob._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
const reportLine = (lines: any[]) => lines.find((l) => l.message === 'ws-outbox delivery report');

describe('wsHandler(fn, { logger, metrics }).use(injectLambdaContext(logger)).use(logMetrics(metrics))', () => {
  let out: Record<string, any[]>;
  beforeAll(async () => {
    out = await invocations('first:wrapped', 'failing:wrapped:fail', 'second:wrapped');
  }, 30_000);

  it("puts the report's metrics in the EMF blob logMetrics prints, with the app's own metric and the route", () => {
    const blobs = out.first!.filter((l) => l._aws && !metricNames(l).includes('ColdStart'));
    expect(blobs).toHaveLength(1); // one blob: logMetrics' publish, held until the report was in
    const [blob] = blobs;
    expect(blob).toMatchObject({ service: 'chat', route: 'send', MessagesHandled: 1, Sent: 1, Gone: 1, Failed: 1, FailedThrottled: 1, Pruned: 1 });
    expect(typeof blob.DurationMs).toBe('number');
    expect(blob._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'ws-outbox-test', Dimensions: [['service', 'route']] });
    expect(blob._aws.CloudWatchMetrics[0].Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'Sent', Unit: 'Count' },
        { Name: 'FailedThrottled', Unit: 'Count' },
        { Name: 'DurationMs', Unit: 'Milliseconds' },
      ]),
    );
  });

  it('logs the report through the Logger, with the Lambda context, before the blob is printed', () => {
    const line = reportLine(out.first!);
    expect(line).toMatchObject({ level: 'WARN', service: 'chat', function_name: 'chat-send', routeKey: 'send', sent: 1, goneCount: 1, failedCount: 1 });
    expect(line.function_request_id).toBe(line.requestId);
    expect(out.first!.indexOf(line)).toBeLessThan(out.first!.indexOf(emf(out.first!)[0]));
  });

  it('on the error path too (logMetrics onError also runs before the outbox): discarded and the error reply in the blob', () => {
    const [blob] = emf(out.failing!);
    expect(blob).toMatchObject({ route: 'send', MessagesHandled: 1, Sent: 1, Discarded: 1, Failed: 0 }); // one instruction: the send to three ids
    expect(reportLine(out.failing!)).toMatchObject({ discarded: 1, sent: 1 });
    expect(out.failing!.find((l) => l.message === 'ws-outbox handler error')).toMatchObject({ level: 'ERROR', service: 'chat', statusCode: 500 });
  });

  it('leaves nothing for the next invocation: each one publishes exactly its own metrics, once', () => {
    for (const name of ['first', 'failing', 'second']) expect({ name, blobs: emf(out[name]!).length }).toEqual({ name, blobs: 1 });
    expect(emf(out.second!)[0]).toMatchObject({ MessagesHandled: 1, Sent: 1 });
    expect(out.second!.filter((l) => l._aws && metricNames(l).includes('ColdStart'))).toEqual([]);
  });

  it('posts with the X-Ray trace header of the invocation (the signed transport)', () => {
    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts.length).toBeGreaterThan(0);
    for (const post of posts) expect(post.headers['x-amzn-trace-id']).toBe(traceId);
  });
});

describe('other stacks', () => {
  it('outbox() inside logMetrics (registered after it): the same single blob, nothing held', async () => {
    const out = await invocations('inside:inside');
    expect(emf(out.inside!)).toHaveLength(1);
    expect(emf(out.inside!)[0]).toMatchObject({ route: 'send', MessagesHandled: 1, Sent: 1, Gone: 1, FailedThrottled: 1 });
    expect(reportLine(out.inside!)).toMatchObject({ function_name: 'chat-send', sent: 1 });
  }, 30_000);

  it('metrics without logMetrics: the outbox publishes them itself, once per invocation', async () => {
    const out = await invocations('one:alone', 'two:alone');
    for (const name of ['one', 'two']) {
      expect(emf(out[name]!)).toHaveLength(1);
      expect(emf(out[name]!)[0]).toMatchObject({ route: 'send', MessagesHandled: 1, Sent: 1 });
    }
  }, 30_000);
});

describe('fanoutHandler({ metrics })', () => {
  const shardBlob = { route: '$fanout', Sent: 1, Gone: 1, Pruned: 1, Read: 2, ShardsDone: 1 };

  it("with logMetrics: each shard's report is in the one blob logMetrics prints, once per invocation", async () => {
    const out = await invocations('one:fanout', 'two:fanout');
    for (const name of ['one', 'two']) {
      expect({ name, blobs: emf(out[name]!) }).toEqual({ name, blobs: [expect.objectContaining(shardBlob)] });
      expect(out[name]!.find((l) => l.message === 'ws-outbox fanout report')).toMatchObject({
        function_name: 'chat-send',
        sent: 1,
        fanout: { outcome: 'done', read: 2 },
      });
    }
    expect(metricNames(emf(out.one!)[0])).toEqual(expect.arrayContaining(['Sent', 'Read', 'ShardsDone', 'DurationMs']));
  }, 30_000);

  it('without logMetrics: the worker publishes them itself, once per invocation', async () => {
    const out = await invocations('one:fanoutAlone', 'two:fanoutAlone');
    for (const name of ['one', 'two']) expect({ name, blobs: emf(out[name]!) }).toEqual({ name, blobs: [expect.objectContaining(shardBlob)] });
  }, 30_000);
});

describe('holding the publish', () => {
  it('releases a hold an earlier invocation never settled (its publish done) when the next one arms, and restores the method', () => {
    const published: string[] = [];
    const metrics = { addMetric: () => undefined, addDimension: () => undefined, publishStoredMetrics: () => void published.push('published') };
    const own = metrics.publishStoredMetrics;
    holdPublish(metrics);
    metrics.publishStoredMetrics();
    expect(published).toEqual([]); // held
    const next = holdPublish(metrics); // the first invocation never settled
    expect(published).toEqual(['published']);
    metrics.publishStoredMetrics();
    next.release({ unclaimed: false });
    expect(published).toEqual(['published', 'published']);
    expect(metrics.publishStoredMetrics).toBe(own);
  });

  it('logs a publish that throws (throwOnEmptyMetrics) instead of raising it from the flush', () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const metrics = {
        addMetric: () => undefined,
        addDimension: () => undefined,
        publishStoredMetrics: () => {
          throw new RangeError('The number of metrics recorded must be higher than zero');
        },
      };
      const hold = holdPublish(metrics);
      metrics.publishStoredMetrics();
      expect(() => hold.release({ unclaimed: false })).not.toThrow();
      expect(String(errors.mock.calls[0]?.[0])).toContain('publishing the metrics failed');
    } finally {
      errors.mockRestore();
    }
  });
});
