// Invokes one built bundle once, the way Lambda does, in this (fresh) process:
//   node invoke-bundle.mjs <bundle.mjs> <event.json> <result.json> <timeoutSeconds> <functionName>
// The handler gets the event and a Lambda-shaped context with a real deadline; its result is
// written to result.json. The process then exits at once, like Lambda freezing the environment
// when the handler's promise settles: work the handler did not await never happens.
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

const [bundle, eventPath, resultPath, timeoutSeconds, functionName] = process.argv.slice(2);
if (!bundle || !eventPath || !resultPath || !timeoutSeconds || !functionName) {
  console.error('usage: invoke-bundle.mjs <bundle.mjs> <event.json> <result.json> <timeoutSeconds> <functionName>');
  process.exit(2);
}
const region = process.env.AWS_REGION ?? 'us-east-1';
const { handler } = await import(pathToFileURL(bundle).href);
const event = JSON.parse(await readFile(eventPath, 'utf8'));
const deadline = Date.now() + Number(timeoutSeconds) * 1000;
const requestId = randomUUID();
const context = {
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:${functionName}`,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '256',
  awsRequestId: requestId,
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: `2026/11/27/[$LATEST]${requestId.replaceAll('-', '')}`,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
const timeout = new Promise((_, reject) =>
  setTimeout(() => reject(new Error(`Task timed out after ${timeoutSeconds} seconds`)), deadline - Date.now()).unref(),
);
try {
  const result = await Promise.race([handler(event, context), timeout]);
  await writeFile(resultPath, JSON.stringify({ ok: true, result: result ?? null }));
} catch (error) {
  await writeFile(resultPath, JSON.stringify({ ok: false, error: { name: error?.name, message: error?.message } }));
}
process.exit(0);
