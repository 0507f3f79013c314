// CPU and memory per function instance as Lambda sizes them (packages/gateway/src/cgroups.ts): the quota and
// limit an instance's cgroup holds, an instance over its memory ended as Lambda ends it, every
// cgroup removed when the gateway stops, and --no-limits. The files cgroup v1 and v2 take are
// also checked on a folder laid out like each (any machine); the real ones where this runs as
// root on Linux with cgroups.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { describeWhen } from '../../../../test/helpers/skip.ts';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuQuotaUs, startLimits } from '../../src/cgroups.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/log.ts';
import type { InvocationReport } from '../../src/websocket-api.ts';
import { TestClient, eventually, webSocketTemplate } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'gw-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the cgroup files (on folders laid out like cgroupfs)', () => {
  test('MemorySize / 1769 of a vCPU, MemorySize of memory', () => {
    expect(cpuQuotaUs(1769)).toBe(100_000);
    expect(cpuQuotaUs(256)).toBe(14_471);
    expect(cpuQuotaUs(128)).toBe(7_236);
    expect(cpuQuotaUs(10_240)).toBe(578_858);
  });

  test('v1: cpu and memory controllers; the quota from the end of init on', async () => {
    const root = join(dir, 'v1');
    for (const [controller, file] of [
      ['cpu', 'cpu.cfs_quota_us'],
      ['memory', 'memory.limit_in_bytes'],
    ] as const) {
      mkdirSync(join(root, controller), { recursive: true });
      writeFileSync(join(root, controller, file), '-1');
    }
    const result = startLimits({ root, name: 'gw' });
    expect(result.limits?.version).toBe(1);
    const cgroup = result.limits!.attach(4242, 'EchoFunction-1', 256);
    const cpu = join(root, 'cpu/gw/EchoFunction-1');
    const memory = join(root, 'memory/gw/EchoFunction-1');
    expect(readFileSync(join(cpu, 'cpu.cfs_period_us'), 'utf8')).toBe('100000');
    expect(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8')).toBe('-1');
    cgroup.limitCpu();
    expect(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8')).toBe('14471');
    expect(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8')).toBe(String(256 * 1024 * 1024));
    expect(readFileSync(join(cpu, 'cgroup.procs'), 'utf8')).toBe('4242');
    expect(readFileSync(join(memory, 'cgroup.procs'), 'utf8')).toBe('4242');
  });

  test("v2: one folder per instance under the gateway's, controllers delegated", () => {
    const root = join(dir, 'v2');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids');
    const result = startLimits({ root, name: 'gw' });
    expect(result.limits?.version).toBe(2);
    expect(readFileSync(join(root, 'gw/cgroup.subtree_control'), 'utf8')).toBe('+cpu +memory');
    const cgroup = result.limits!.attach(4243, 'EchoFunction-1', 512);
    const instance = join(root, 'gw/EchoFunction-1');
    cgroup.limitCpu();
    expect(readFileSync(join(instance, 'cpu.max'), 'utf8')).toBe(`${cpuQuotaUs(512)} 100000`);
    expect(readFileSync(join(instance, 'memory.max'), 'utf8')).toBe(String(512 * 1024 * 1024));
    expect(readFileSync(join(instance, 'memory.swap.max'), 'utf8')).toBe('0');
    expect(readFileSync(join(instance, 'cgroup.procs'), 'utf8')).toBe('4243');
  });

  test('no cgroups: a reason, and no limits', () => {
    const result = startLimits({ root: join(dir, 'nothing-here') });
    expect(result.limits).toBeUndefined();
    expect(result).toMatchObject({ reason: expect.stringMatching(/no cgroup v2 and no cgroup v1 cpu and memory controllers/) });
  });
});

const realCgroups = process.getuid?.() === 0 && startLimits({ name: `ws-outbox-probe-${process.pid}` });
// biome-ignore lint/complexity/useOptionalChain: realCgroups may be false, which ?. does not narrow away
if (realCgroups && realCgroups.limits) await realCgroups.limits.stop();
const haveCgroups = realCgroups !== false && realCgroups.limits !== undefined;

describeWhen(
  haveCgroups,
  'packages/gateway/test/gateway/limits.test.ts, real cgroups',
  `no writable cgroups here (${realCgroups === false ? 'not root' : 'reason' in realCgroups ? realCgroups.reason : ''}): run the tests as root on Linux to check the CPU and memory limits`,
)('real cgroups (root on Linux)', () => {
  let gateway: Gateway;
  const reports: InvocationReport[] = [];
  const pids: number[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    writeFileSync(
      join(dir, 'hog.mjs'),
      `
export const handler = async (event) => {
  const body = JSON.parse(event.body ?? '{}');
  if (body.mb) {
    // Off the V8 heap, touched page by page: only the cgroup's limit stops this.
    const held = [];
    for (let i = 0; i < body.mb; i++) held.push(Buffer.alloc(1024 * 1024, 1));
    globalThis.held = held;
  }
  return { statusCode: 200, body: String(process.pid) };
};
`,
    );
    writeFileSync(
      join(dir, 'template.yaml'),
      webSocketTemplate({
        routes: { $default: 'HogFunction' },
        resources: `  HogFunction:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: ./, Handler: hog.handler, Runtime: nodejs24.x, MemorySize: 128, Timeout: 20 }
`,
      }),
    );
    gateway = await startGateway({
      template: join(dir, 'template.yaml'),
      port: 0,
      dynamodbPort: 0,
      quiet: true,
      outdir: join(dir, 'dist'),
      logger: createLogger({
        write: (text) => {
          lines.push(text);
        },
      }),
    });
    gateway.events.on('invocation', (r: InvocationReport) => reports.push(r));
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
  });

  const cgroupOf = (pid: number, controller: string) => {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.split(':')[1]!.split(',').includes(controller))!;
    return join('/sys/fs/cgroup', controller, line.split(':')[2]!);
  };

  test('an instance runs in a cgroup with 128 / 1769 of a vCPU and 128 MB', async () => {
    expect(gateway.limits?.version).toBe(1);
    const client = await TestClient.open(gateway.wsUrl);
    client.send({});
    await eventually(() => reports.length === 1, 'the invocation');
    const worker = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .find((pid) => {
        try {
          return readFileSync(`/proc/${pid}/environ`, 'utf8').includes('AWS_LAMBDA_FUNCTION_NAME=HogFunction');
        } catch {
          return false;
        }
      })!;
    pids.push(worker);
    const cpu = cgroupOf(worker, 'cpu');
    expect(cpu).toMatch(new RegExp(`/ws-outbox-${process.pid}/HogFunction-\\d+$`));
    expect(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe(String(cpuQuotaUs(128)));
    expect(readFileSync(join(cpu, 'cpu.cfs_period_us'), 'utf8').trim()).toBe('100000');
    expect(readFileSync(join(cgroupOf(worker, 'memory'), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(128 * 1024 * 1024));
    await client.close();
  });

  test('an instance over its MemorySize is ended as Lambda ends it: Runtime exited, the invocation fails', async () => {
    const client = await TestClient.open(gateway.wsUrl);
    client.send({ mb: 400 });
    await eventually(() => reports.length === 2, 'the invocation', 20_000);
    expect(reports[1]).toMatchObject({ status: 'error' });
    const log = lines.join('');
    expect(log).toMatch(/HogFunction#\d+: \S+ out of memory: the instance went over its MemorySize of 128 MB during the invocation/);
    expect(log).toMatch(/Runtime\.ExitError: RequestId: \S+ Error: Runtime exited with error: signal: killed/);
    await client.waitFor((d) => d?.message === 'Internal server error');
    await client.close();
  }, 30_000);

  test('stop() removes every cgroup the gateway made', async () => {
    const mine = ['cpu', 'memory'].map((c) => `/sys/fs/cgroup/${c}/ws-outbox-${process.pid}`);
    expect(mine.every((path) => existsSync(path))).toBe(true);
    await gateway.stop();
    expect(mine.filter((path) => existsSync(path))).toEqual([]);
  });
});

test('--no-limits (limits: false): no cgroup at all', async () => {
  writeFileSync(
    join(dir, 'plain.yaml'),
    `
Transform: AWS::Serverless-2016-10-31
Resources:
  PlainFunction:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: ./, Handler: plain.handler, Runtime: nodejs24.x }
`,
  );
  writeFileSync(join(dir, 'plain.mjs'), 'export const handler = async () => ({});\n');
  const gateway = await startGateway({
    template: join(dir, 'plain.yaml'),
    port: 0,
    dynamodbPort: 0,
    quiet: true,
    outdir: join(dir, 'dist-plain'),
    limits: false,
  });
  expect(gateway.limits).toBeUndefined();
  expect(existsSync(`/sys/fs/cgroup/cpu/ws-outbox-${process.pid}`)).toBe(false);
  await gateway.stop();
}, 60_000);
