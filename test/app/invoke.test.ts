// `npm run invoke` with every event in events/, as a user runs it: a subprocess, the shipped
// template, the function its event's routeKey selects, an env file that names endpoints nothing
// listens on (so the CLI starts its embedded dynalite and @connections sink, and says so).
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAppModel } from '../../packages/gateway/src/app-model.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gw-invoke-'));
const envFile = join(dir, 'env.json');
const model = loadAppModel('template.yaml');
const routes = model.routes;
// SQS events (a `Records` list) go to the function whose event source reads that queue.
const queueFunctions = [...model.functions.values()].filter((f) => f.spec.sqsEvents.length > 0).map((f) => f.logicalId);
const events = readdirSync('events')
  .filter((f) => f.endsWith('.json'))
  .sort();

// What each route's handler answers for the sample event, and whether it posts anything.
const expected: Record<string, { statusCode: number; posts: boolean }> = {
  $connect: { statusCode: 200, posts: false },
  $disconnect: { statusCode: 200, posts: false },
  $default: { statusCode: 400, posts: true }, // an unknown action: the caller gets an error
  join: { statusCode: 200, posts: true },
  leave: { statusCode: 200, posts: true },
  // A fresh table has the caller in no room: a room send from a non-member is refused (403).
  send: { statusCode: 403, posts: true },
};

beforeAll(() => {
  // Port 1 (tcpmux) is never listening here: the CLI must fall back to its embedded services.
  writeFileSync(
    envFile,
    JSON.stringify({
      Parameters: {
        AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: 'http://host.docker.internal:1',
        AWS_ENDPOINT_URL_DYNAMODB: 'http://host.docker.internal:1',
        TABLE_NAME: 'Table',
        NOT_IN_THE_TEMPLATE: 'ignored',
      },
      // An issuer nothing serves and that the sample token does not name: refused before any fetch.
      AuthorizerFunction: { ISSUER_URL: 'https://issuer.invalid', AUDIENCE: 'ws-outbox-local' },
      // The API the sample fan-out message names (events/fanout.json), as env.json says: the worker
      // takes only messages for its own API.
      FanoutFunction: { WEBSOCKET_API_ID: 'a1b2c3d4e5', WEBSOCKET_STAGE: 'dev' },
    }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string) => JSON.parse(readFileSync(join('events', file), 'utf8'));
// WebSocket route events (a requestContext; authorize.json is the authorizer's) and SQS events (a Records list).
const wsEvents = events.filter((f) => f !== 'authorize.json' && read(f).requestContext !== undefined);
const sqsEvents = events.filter((f) => Array.isArray(read(f).Records));

test('events/ has a sample for every route of the example, none for a route the template lacks, and one SQS event for the fan-out worker', () => {
  const covered = wsEvents.map((f) => read(f).requestContext.routeKey as string);
  expect(covered).toEqual(expect.arrayContaining(Object.keys(expected)));
  for (const route of covered) expect([...routes.keys()]).toContain(route);
  expect(sqsEvents).toEqual(['fanout.json']);
  expect(queueFunctions).toEqual(['FanoutFunction']);
});

test('npm run invoke with events/authorize.json: the authorizer refuses the expired sample token', async () => {
  const { stdout } = await run(
    'npm',
    ['run', '--silent', 'invoke', '--', 'AuthorizerFunction', join('events', 'authorize.json'), '--env-vars', envFile, '--outdir', join(dir, 'dist')],
    { timeout: 60_000 },
  ).catch((error: { stdout: string }) => error);
  expect(stdout).toContain('invoke AuthorizerFunction:');
  expect(stdout).toMatch(/── error[\s\S]*"errorMessage": "Unauthorized"/);
});

test('npm run invoke with events/fanout.json: the worker delivers the lobby (empty in a fresh table) and reports the shard done', async () => {
  const { stdout } = await run(
    'npm',
    ['run', '--silent', 'invoke', '--', 'FanoutFunction', 'events/fanout.json', '--env-vars', envFile, '--outdir', join(dir, 'dist')],
    { timeout: 60_000 },
  );
  expect(stdout).toContain('invoke FanoutFunction:');
  expect(stdout).toContain('started an embedded dynalite');
  const response = /── response[^\n]*\n(\{[\s\S]*?\n\})/.exec(stdout);
  expect(JSON.parse(response![1]!)).toEqual({ batchItemFailures: [] });
  expect(stdout).toContain('"msg": "ws-outbox fanout report"');
  expect(stdout).toMatch(/"outcome": "done"/);
  expect(Number(/@connections requests \((\d+)\)/.exec(stdout)?.[1])).toBe(0);
}, 90_000);

// The example's samples; a sample you add for a route of your own is yours to test.
const exampleEvents = wsEvents.filter((f) => read(f).requestContext.routeKey in expected);

test.each(exampleEvents)(
  'npm run invoke with events/%s',
  async (file) => {
    const event = read(file);
    const route = event.requestContext.routeKey as string;
    const fn = routes.get(route)!;
    const { stdout } = await run('npm', ['run', '--silent', 'invoke', '--', fn, join('events', file), '--env-vars', envFile, '--outdir', join(dir, 'dist')], {
      timeout: 60_000,
    });
    expect(stdout).toContain(`invoke ${fn}:`);
    expect(stdout).toContain('host.docker.internal → 127.0.0.1');
    expect(stdout).toContain('ignored NOT_IN_THE_TEMPLATE');
    expect(stdout).toContain('started an embedded dynalite');
    expect(stdout).toContain('started a loopback sink');
    const response = /── response[^\n]*\n(\{[\s\S]*?\n\})/.exec(stdout);
    expect(response).not.toBeNull();
    expect(JSON.parse(response![1]!).statusCode).toBe(expected[route]!.statusCode);
    const requests = Number(/@connections requests \((\d+)\)/.exec(stdout)?.[1]);
    if (expected[route]!.posts) {
      expect(requests).toBeGreaterThan(0);
      expect(stdout).toMatch(/"sent": [1-9]/);
      expect(stdout).toContain(`POST   ${event.requestContext.connectionId}`);
    } else {
      expect(requests).toBe(0);
    }
  },
  90_000,
);
