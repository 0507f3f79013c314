// One cold start, in a fresh process (bundled to plain JS by the bench, as a function is shipped).
// The parent drives it over stdin, one word a line, and reads its JSON lines on fd 3 (stdout and
// stderr stay the function's own, as CloudWatch would get them):
//   "init"    import the bundle (Lambda's init phase: the parent leaves the CPU unlimited)
//   "invoke"  call its handler once with the event (the parent has applied the CPU share by then)
//   "warm"    call it once more (for reference: what the same invocation costs once warm)
// With PROFILE_DIR set, init and the first invocation run under the inspector's CPU profiler,
// which writes init.cpuprofile and invoke.cpuprofile there.
import { writeFileSync, writeSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [bundle, eventJson] = [process.argv[2]!, process.argv[3]!];
const event = JSON.parse(eventJson) as unknown;
const report = (value: Record<string, unknown>) => writeSync(3, `${JSON.stringify(value)}\n`);
const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

let invocations = 0;
const context = () => {
  const deadline = Date.now() + 29_000;
  return {
    awsRequestId: `cold-${++invocations}`,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: '/aws/lambda/cold',
    logStreamName: 'cold',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
};

type Handler = (event: unknown, context: unknown) => Promise<unknown>;
let handler: Handler | undefined;

// The inspector's sampling profiler around one step, written to PROFILE_DIR/<step>.cpuprofile.
const profiled = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
  if (!process.env.PROFILE_DIR) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${process.env.PROFILE_DIR}/${step}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
};

const invoke = async () => {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let result: unknown;
  let error: string | undefined;
  try {
    result = await handler!(event, context());
  } catch (e) {
    error = String((e as Error)?.stack ?? e);
  }
  const ms = performance.now() - t0;
  return { ms, cpuMs: cpuMs(cpu), result, error };
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === 'init') {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const module = await profiled('init', () => import(pathToFileURL(bundle).href) as Promise<{ handler: Handler }>);
    handler = module.handler;
    report({ step: 'init', ms: performance.now() - t0, cpuMs: cpuMs(cpu) });
  } else if (line === 'invoke') {
    report({ step: 'invoke', ...(await profiled('invoke', invoke)) });
  } else if (line === 'warm') {
    report({ step: 'warm', ...(await invoke()) });
  } else if (line === 'exit') {
    break;
  }
}
process.exit(0);
