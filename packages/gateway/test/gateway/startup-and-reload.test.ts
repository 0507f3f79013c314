// Start-up never leaves a client hanging (held until ready, or 503), and a running `ws-outbox dev`
// takes template edits: a new route and function work without a restart, and an edit it cannot
// apply in place restarts the gateway, saying so.
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startGateway } from '../../src/gateway.ts';
import { TestClient, eventually } from './support.ts';

const root = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'gw-startup-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const freePort = (): Promise<number> =>
  new Promise((resolvePort) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });

// Plain handlers: no imports, so they bundle from the temporary folder.
const files = {
  'hello.mjs': 'export const handler = async () => ({ statusCode: 200 });\n',
  'shout.mjs': `export const handler = async (event) => {
  const { apiId, stage, connectionId } = event.requestContext;
  const url = 'https://' + apiId + '.execute-api.' + process.env.AWS_REGION + '.amazonaws.com/' + stage + '/@connections/' + encodeURIComponent(connectionId);
  // A SigV4-shaped header: the gateway asks for a signature as API Gateway does, and --no-iam
  // (below) leaves its value and the keys unchecked.
  const headers = { authorization: 'AWS4-HMAC-SHA256 Credential=LOCAL/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00', 'x-amz-date': '20260101T000000Z' };
  await fetch(url, { method: 'POST', headers, body: (process.env.WORD ?? '?') + '!' });
  return { statusCode: 200 };
};\n`,
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);

const template = (extra: { route?: boolean; word?: string; stage?: string } = {}) => `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: { Runtime: nodejs24.x, Timeout: 8, CodeUri: ./ }
Resources:
  Api:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      ${extra.stage ? `StageName: ${extra.stage}` : ''}
      RouteSelectionExpression: $request.body.action
      Routes:
        $connect: { FunctionArn: !GetAtt HelloFunction.Arn }
${extra.route ? '        shout: { FunctionArn: !GetAtt ShoutFunction.Arn }\n' : ''}
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties: { Handler: hello.handler }
${
  extra.route
    ? `  ShoutFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: shout.handler
      Environment: { Variables: { WORD: ${extra.word ?? 'hey'} } }
`
    : ''
}`;

describe('start-up', () => {
  test('a connection made while the gateway builds is held and opens once it is ready', async () => {
    const path = join(dir, 'startup.yaml');
    writeFileSync(path, template());
    const port = await freePort();
    let ready = false;
    const starting = startGateway({ template: path, port, dynamodbPort: 0, quiet: true, outdir: join(dir, 'dist-startup') }).then((gw) => {
      ready = true;
      return gw;
    });
    // Connect as soon as the port accepts connections: before the build has finished.
    let ws: WebSocket | undefined;
    let startedWhileStarting: boolean | undefined;
    const opened = new Promise<void>((resolveOpen, reject) => {
      const attempt = () => {
        const startedAt = !ready;
        const socket = new WebSocket(`ws://127.0.0.1:${port}`);
        socket.once('error', () => (ready ? reject(new Error('refused after ready')) : setTimeout(attempt, 5)));
        socket.once('open', () => {
          ws = socket;
          startedWhileStarting = startedAt;
          resolveOpen();
        });
        socket.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
      };
      attempt();
    });
    await opened;
    const gateway = await starting;
    expect(ws!.readyState).toBe(WebSocket.OPEN);
    // The attempt that opened was made while the gateway was still starting: it was held, not refused.
    expect(startedWhileStarting).toBe(true);
    ws!.close();
    await gateway.stop();
  }, 60_000);

  test('start-up that fails answers the held client 503, never leaving it hanging', async () => {
    const path = join(dir, 'broken.yaml');
    writeFileSync(path, template().replace('hello.handler', 'missing.handler'));
    const port = await freePort();
    const starting = startGateway({ template: path, port, dynamodbPort: 0, quiet: true, outdir: join(dir, 'dist-broken') }).catch((e: Error) => e);
    const status = await new Promise<number | string>((resolveStatus) => {
      const attempt = () => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}`);
        socket.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNREFUSED' ? setTimeout(attempt, 5) : resolveStatus(error.message)));
        socket.once('unexpected-response', (_req, res) => resolveStatus(res.statusCode!));
        socket.once('open', () => resolveStatus('open'));
      };
      attempt();
    });
    expect(status).toBe(503);
    expect(String(await starting)).toMatch(/HelloFunction: no handler file/);
  }, 60_000);
});

describe('a live template (ws-outbox dev)', () => {
  test('a route and function added while it runs answer at once; a new stage restarts the gateway and says so', async () => {
    const path = join(dir, 'live.yaml');
    writeFileSync(path, template());
    const { NODE_OPTIONS: _jest, ...env } = process.env;
    // --no-iam: the handler posts with a fetch whose signature is only SigV4-shaped (AWS would refuse it; not what this tests).
    const child = spawn(
      process.execPath,
      ['--conditions=ws-outbox-source', 'packages/gateway/src/cli.ts', 'dev', '--template', path, '--no-limits', '--no-iam'],
      {
        cwd: root,
        env: { ...env, PORT: '0', DYNAMODB_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c));
    child.stderr!.on('data', (c: Buffer) => (out += c));
    await eventually(() => /WebSocket API\s+ws:\/\/127\.0\.0\.1:\d+/.test(out), 'the banner', 30_000);
    const wsUrl = /WebSocket API\s+(ws:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    const client = await TestClient.open(wsUrl);
    client.send({ action: 'shout' });
    await client.waitFor((d) => d?.message === 'Forbidden'); // no such route yet, no $default

    writeFileSync(path, template({ route: true, word: 'hey' }));
    await eventually(() => /template reloaded: .*route shout → ShoutFunction added/.test(out), 'the reload', 30_000);
    client.send({ action: 'shout' });
    // On failure, the gateway's own log says why (an invocation's error, a timeout).
    await client
      .waitFor((d) => d === 'hey!')
      .catch((error: Error) => {
        throw new Error(`${error.message}\n--- ws-outbox dev said:\n${out}`);
      });

    // The environment changes in place too; the connection stays open throughout.
    writeFileSync(path, template({ route: true, word: 'ho' }));
    await eventually(() => /template reloaded: .*ShoutFunction environment/.test(out), 'the second reload', 30_000);
    client.send({ action: 'shout' });
    await client.waitFor((d) => d === 'ho!');

    writeFileSync(path, template({ route: true, word: 'ho', stage: 'beta' }));
    await eventually(() => /the stage changed from local to beta, which needs a restart: restarting the gateway/.test(out), 'the restart notice', 30_000);
    await eventually(() => out.split('ready in').length === 3, 'the restarted banner', 30_000);
    await client.closed; // the restart closed it
    const again = await TestClient.open(`${wsUrl}/beta`);
    again.send({ action: 'shout' });
    await again.waitFor((d) => d === 'ho!');
    await again.close();
    child.kill('SIGTERM');
    await eventually(() => child.exitCode !== null, 'dev stopped', 15_000);
    expect(readFileSync(path, 'utf8')).toContain('beta');
  }, 120_000);
});
