// gateway.rebuild() (what `npm run dev` calls when a source file changes): the next invocation
// runs the new code on a fresh instance, while the gateway and its connections stay up.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { TestClient, webSocketTemplate } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'gw-rebuild-'));
let gateway: Gateway;

// No imports, so it bundles from a temporary folder: fetch to the API's own host (the gateway
// serves it to its workers) with a SigV4-shaped header, which the gateway asks for as API Gateway
// does; the IAM check is off, so its value is not checked (AWS would refuse it).
const handlerSource = (version: string) => `
export const handler = async (event) => {
  const { apiId, stage, connectionId } = event.requestContext;
  const url = 'https://' + apiId + '.execute-api.' + process.env.AWS_REGION + '.amazonaws.com/' + stage + '/@connections/' + encodeURIComponent(connectionId);
  const headers = { authorization: 'AWS4-HMAC-SHA256 Credential=LOCAL/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00', 'x-amz-date': '20260101T000000Z' };
  await fetch(url, { method: 'POST', headers, body: '${version}' });
  return { statusCode: 200 };
};
`;

beforeAll(async () => {
  writeFileSync(join(dir, 'reply.mjs'), handlerSource('v1'));
  writeFileSync(
    join(dir, 'template.yaml'),
    webSocketTemplate({
      globals: '{ Runtime: nodejs24.x, Handler: index.handler, Timeout: 8 }',
      routes: { $default: 'ReplyFunction' },
      resources: `  ReplyFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildEntry: reply.mjs }
    Properties: { CodeUri: dist/reply/ }
`,
    }),
  );
  gateway = await startGateway({
    template: join(dir, 'template.yaml'),
    port: 0,
    dynamodbPort: 0,
    quiet: process.env.GATEWAY_LOG === undefined,
    outdir: join(dir, 'dist'),
    iam: false,
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('after a rebuild, new invocations run the new code; the connection stays open', async () => {
  const client = await TestClient.open(gateway.wsUrl);
  client.send('hello');
  await client.waitFor((d) => d === 'v1');
  writeFileSync(join(dir, 'reply.mjs'), handlerSource('v2'));
  await gateway.rebuild();
  client.send('hello again');
  await client.waitFor((d) => d === 'v2');
  expect(client.received.map((r) => r.data)).toEqual(['v1', 'v2']);
  await client.close();
});
