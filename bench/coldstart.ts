// npm run bench -- --coldstart [--reps 7] [--only send,sdk-app]: cold starts as a WebSocket user
// waits for them. Each contender is bundled the way the functions are shipped (esbuild, ESM,
// minified: the gateway's build options), then, for every sample, a fresh Node process:
//   init              `await import(bundle)` at full CPU (Lambda runs init with burst CPU)
//   first invocation  the handler's first call, under the CPU share of a 256 MB function
//                     (cgroup v1/v2 quota, 14.5 % of a vCPU; full CPU where cgroups are missing,
//                     which the output says), and again in a second process at full CPU
//   warm              a second call under the same share, for reference
// against loopback stubs (cold/stubs.ts) for DynamoDB, @connections and the issuer's keys.
// Contenders: our built functions (send, $connect, the authorizer, the fan-out worker), and three
// apps doing a `send`'s essential work (one DynamoDB read, one PostToConnection): a plain AWS
// SDK v3 app, an aws-lite app, and the same on ws-outbox's own lean clients without the outbox. Samples interleave (contender after contender, repetition
// after repetition), so drift in machine load spreads over all of them; the figures are medians.
// With --profile <contender>, one more sample runs its first invocation under the share inside
// the CPU profiler, on an unminified bundle, and the bench prints where the time went.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { startLimits, type Limits } from '../packages/gateway/src/cgroups.ts';
import { bundle as bundleBench } from './lib/bundle.ts';
import { median, round } from './lib/stats.ts';
import { coldEvents } from './cold/events.ts';
import { summarizeColdProfile } from './cold/profile.ts';
import { audience, startStubs, type Stubs } from './cold/stubs.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const coldDefaults = { reps: 7, memoryMb: 256 };

// `split`: as template.yaml builds our functions (Metadata Splitting: dynamic imports in chunks/);
// the reference apps as most apps are bundled (sam build's esbuild): one file, and the plain SDK
// app split as well, to show what splitting costs a function whose first call needs its chunks.
export const coldContenders = [
  { name: 'send', entry: 'handlers/send.ts', event: 'message', ours: true, split: true },
  { name: '$connect', entry: 'handlers/connect.ts', event: 'connect', ours: true, split: true },
  { name: 'authorizer', entry: 'handlers/authorize.ts', event: 'authorize', ours: true, split: true },
  { name: 'fan-out worker', entry: 'handlers/fanout.ts', event: 'fanout', ours: true, split: true },
  { name: 'sdk-app', entry: 'bench/cold/sdk-app.ts', event: 'message', ours: false, split: false },
  { name: 'sdk-app (split)', entry: 'bench/cold/sdk-app.ts', event: 'message', ours: false, split: true },
  { name: 'lite-app', entry: 'bench/cold/lite-app.ts', event: 'message', ours: false, split: false },
  { name: 'own-app', entry: 'bench/cold/own-app.ts', event: 'message', ours: false, split: true },
] as const;
type Contender = { name: string; entry: string; event: string; ours: boolean; split: boolean; root?: string };

// The gateway's `ws-outbox build` options (esbuild, ESM, node24, minified, the SDK's ES module
// builds, a require() for bundled CommonJS, chunks/ for split functions), without the
// source map: a file beside the bundle that Node reads only with --enable-source-maps, which
// every contender would pay alike.
const shippedOptions = async (split: boolean): Promise<BuildOptions> => {
  try {
    const { esbuildOptions, splittingOptions } = (await import('../build.mjs')) as { esbuildOptions: BuildOptions; splittingOptions: BuildOptions };
    return { ...esbuildOptions, ...(split ? splittingOptions : { splitting: false }), sourcemap: false, metafile: false };
  } catch {
    // The build's module did not load (the gateway's files moving): the same options, inline.
    return {
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      minify: true,
      mainFields: ['module', 'main'],
      legalComments: 'none',
      logLevel: 'silent',
      conditions: ['module', 'ws-outbox-source'],
      splitting: split,
      chunkNames: 'chunks/[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      banner: { js: "import { createRequire as __wsOutboxCreateRequire } from 'node:module'; const require = __wsOutboxCreateRequire(import.meta.url);" },
    };
  }
};

const bundleAll = async (dir: string, contenders: readonly Contender[], minify = true) => {
  const files = new Map<string, string>();
  for (const c of contenders) {
    const options = await shippedOptions(c.split);
    const outdir = join(dir, c.name.replace(/\W+/g, '-'));
    const tree = c.root ?? root;
    await build({
      ...options,
      chunkNames: 'chunks/[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      minify,
      entryPoints: [join(tree, c.entry)],
      outdir,
      entryNames: 'index',
      absWorkingDir: tree,
    });
    files.set(c.name, join(outdir, 'index.mjs'));
  }
  return files;
};

interface Step {
  ms: number;
  cpuMs: number;
  error?: string;
  result?: unknown;
}
export interface ColdSample {
  init: Step;
  invoke: Step;
  warm: Step;
  requests: Record<string, number>;
  limited: boolean;
}

/** The environment Lambda gives a function (credentials, region, name, memory), pointed at the stubs. */
const lambdaEnv = (stubs: Stubs, home: string, name: string, memoryMb: number): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: home,
  LANG: 'en_US.UTF-8',
  TZ: ':UTC',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_ACCESS_KEY_ID: 'ASIACOLDSTARTBENCH',
  AWS_SECRET_ACCESS_KEY: 'cold-secret',
  AWS_SESSION_TOKEN: 'cold-session-token',
  AWS_LAMBDA_FUNCTION_NAME: `cold-${name.replace(/\W+/g, '-')}`,
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  TABLE_NAME: 'cold',
  AWS_ENDPOINT_URL_DYNAMODB: stubs.endpoint,
  AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: stubs.connectionsEndpoint,
  ISSUER_URL: stubs.issuer,
  AUDIENCE: audience,
});

let sampleId = 0;
/** One cold start in a fresh process: init at full CPU, then the first and a warm invocation, under the share if `limits`. */
const sample = async (
  runner: string,
  bundle: string,
  event: unknown,
  env: NodeJS.ProcessEnv,
  limits: Limits | undefined,
  memoryMb: number,
  stubs: Stubs,
): Promise<ColdSample> => {
  stubs.take();
  const child = spawn(process.execPath, [runner, bundle, JSON.stringify(event)], { env, stdio: ['pipe', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
  });
  const cgroup = limits?.attach(child.pid!, `cold-${process.pid}-${++sampleId}`, memoryMb);
  const replies: string[] = [];
  let waiting: (() => void) | undefined;
  let buffered = '';
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => {
    buffered += c.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      replies.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    waiting?.();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      waiting?.();
      resolve(code);
    }),
  );
  let closed = false;
  void exited.then(() => {
    closed = true;
  });
  const ask = async (word: string): Promise<Step> => {
    child.stdin!.write(`${word}\n`);
    while (replies.length === 0) {
      if (closed) throw new Error(`the cold process died during ${word}: ${stderr.slice(-600)}`);
      await new Promise<void>((resolve) => {
        waiting = resolve;
        setTimeout(resolve, 1000);
      });
    }
    return JSON.parse(replies.shift()!) as Step;
  };
  try {
    const init = await ask('init');
    cgroup?.limitCpu();
    const invoke = await ask('invoke');
    const warm = await ask('warm');
    child.stdin!.end('exit\n');
    await exited;
    return { init, invoke, warm, requests: stubs.take(), limited: cgroup !== undefined };
  } finally {
    if (!closed) child.kill('SIGKILL');
    await exited;
    await cgroup?.remove();
  }
};

/** KiB of the bundle and the chunks it imports statically (what init loads), and of everything shipped. */
const sizesOf = (file: string): { initKiB: number; totalKiB: number } => {
  const dir = join(file, '..');
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const code = readFileSync(path, 'utf8');
    // esbuild's static chunk imports: import{…}from"./chunks/x.mjs" (dynamic ones are import("…")).
    for (const m of code.matchAll(/(?:^|[;}\s])import\s*(?:[\w{},*\s$]*from\s*)?["'](\.{1,2}\/[^"']+)["']/g)) visit(join(path, '..', m[1]!));
  };
  visit(file);
  const kib = (files: string[]) => Math.round(files.reduce((n, f) => n + statSync(f).size, 0) / 1024);
  const chunks = existsSync(join(dir, 'chunks'))
    ? readdirSync(join(dir, 'chunks'))
        .filter((name) => name.endsWith('.mjs'))
        .map((name) => join(dir, 'chunks', name))
    : [];
  return { initKiB: kib([...seen]), totalKiB: kib([file, ...chunks]) };
};

export interface ColdRow {
  contender: string;
  ours: boolean;
  bundleKiB: number;
  initKiB: number;
  samples: number;
  initMs: number;
  firstShareMs: number;
  totalShareMs: number;
  firstFullMs: number;
  warmShareMs: number;
  firstShareCpuMs: number;
  requests: string;
  vsSdk?: number;
  vsLite?: number;
}

/**
 * `baseline`: another checkout of the project (its own node_modules) whose functions run as extra
 * contenders, "<name> (baseline)", one file each as its build made them: before and after in one
 * interleaved run.
 */
export const measureColdStart = async (options: { reps?: number; only?: string[]; profile?: string; baseline?: string; log?: (text: string) => void } = {}) => {
  const reps = options.reps ?? coldDefaults.reps;
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const mine: Contender[] = coldContenders.filter((c) => !options.only || options.only.includes(c.name) || c.name === 'sdk-app');
  const baseline: Contender[] =
    options.baseline === undefined ? [] : mine.filter((c) => c.ours).map((c) => ({ ...c, name: `${c.name} (baseline)`, split: false, root: options.baseline }));
  const contenders = [...mine, ...baseline];
  const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-cold-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  const started = startLimits({ name: `ws-outbox-cold-${process.pid}` });
  const limits = started.limits;
  const cpuNote = limits
    ? `first invocation under a ${coldDefaults.memoryMb} MB CPU share (cgroup v${limits.version}, ${round((coldDefaults.memoryMb / 1769) * 100, 1)} % of a vCPU)`
    : `NO CPU SHARE: ${(started as { reason: string }).reason}; every invocation ran at full CPU`;
  log(`cold start: ${cpuNote}`);
  const stubs = await startStubs();
  try {
    const runner = await bundleBench('cold/runner.ts');
    const bundles = await bundleAll(join(dir, 'min'), contenders);
    const events = coldEvents(stubs);
    const samples = new Map<string, { share: ColdSample[]; full: ColdSample[] }>(contenders.map((c) => [c.name, { share: [], full: [] }]));
    for (let rep = 0; rep < reps; rep++) {
      for (const c of contenders) {
        const env = lambdaEnv(stubs, home, c.name, coldDefaults.memoryMb);
        const bundle = bundles.get(c.name)!;
        for (const mode of ['share', 'full'] as const) {
          const s = await sample(runner, bundle, events[c.event], env, mode === 'share' ? limits : undefined, coldDefaults.memoryMb, stubs);
          const failure =
            s.invoke.error ?? s.warm.error ?? (s.requests.unsigned || s.requests.unknown ? `unexpected requests ${JSON.stringify(s.requests)}` : undefined);
          if (failure) throw new Error(`${c.name}: ${failure}`);
          samples.get(c.name)![mode].push(s);
          if (mode === 'share')
            log(
              `  ${rep + 1}/${reps} ${c.name.padEnd(15)} init ${s.init.ms.toFixed(1)} ms, first ${s.invoke.ms.toFixed(1)} ms (${s.invoke.cpuMs.toFixed(1)} ms CPU), warm ${s.warm.ms.toFixed(1)} ms`,
            );
        }
      }
    }
    const rows: ColdRow[] = contenders.map((c) => {
      const { share, full } = samples.get(c.name)!;
      const requests = Object.entries(share[0]!.requests)
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      return {
        contender: c.name,
        ours: c.ours,
        bundleKiB: sizesOf(bundles.get(c.name)!).totalKiB,
        initKiB: sizesOf(bundles.get(c.name)!).initKiB,
        samples: share.length,
        initMs: round(median(share.map((s) => s.init.ms)), 1),
        firstShareMs: round(median(share.map((s) => s.invoke.ms)), 1),
        totalShareMs: round(median(share.map((s) => s.init.ms + s.invoke.ms)), 1),
        firstFullMs: round(median(full.map((s) => s.invoke.ms)), 1),
        warmShareMs: round(median(share.map((s) => s.warm.ms)), 1),
        firstShareCpuMs: round(median(share.map((s) => s.invoke.cpuMs)), 1),
        requests,
      };
    });
    const sdk = rows.find((r) => r.contender === 'sdk-app');
    const lite = rows.find((r) => r.contender === 'lite-app');
    for (const r of rows) {
      if (sdk) r.vsSdk = round(r.totalShareMs / sdk.totalShareMs, 2);
      if (lite) r.vsLite = round(r.totalShareMs / lite.totalShareMs, 2);
    }
    let profile: string | undefined;
    if (options.profile) {
      const c = contenders.find((x) => x.name === options.profile);
      if (!c) throw new Error(`--profile: no contender ${options.profile} (one of ${contenders.map((x) => x.name).join(', ')})`);
      const plain = await bundleAll(join(dir, 'plain'), [c], false);
      const profileDir = join(dir, 'profile');
      mkdirSync(profileDir);
      const s = await sample(
        runner,
        plain.get(c.name)!,
        events[c.event],
        { ...lambdaEnv(stubs, home, c.name, coldDefaults.memoryMb), PROFILE_DIR: profileDir },
        limits,
        coldDefaults.memoryMb,
        stubs,
      );
      const read = (step: string) => JSON.parse(readFileSync(join(profileDir, `${step}.cpuprofile`), 'utf8'));
      profile = [
        summarizeColdProfile(read('init'), { step: 'init (full CPU, unminified)', wallMs: s.init.ms, cpuMs: s.init.cpuMs, contender: c.name }),
        summarizeColdProfile(read('invoke'), {
          step: `first invocation (${limits ? 'under the share' : 'full CPU'})`,
          wallMs: s.invoke.ms,
          cpuMs: s.invoke.cpuMs,
          contender: c.name,
        }),
      ].join('\n\n');
    }
    return { cpu: cpuNote, limited: Boolean(limits), reps, node: process.version, rows, ...(profile ? { profile } : {}) };
  } finally {
    await stubs.stop();
    await limits?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};

export const renderColdTable = (cold: { cpu: string; rows: ColdRow[] }): string => {
  const head = [
    'contender',
    'KiB at init / shipped',
    'init ms (full CPU)',
    'first invocation ms (share)',
    '**init + first (share)**',
    '÷ plain SDK app',
    '÷ aws-lite app',
    'first invocation ms (full CPU)',
    'warm ms (share)',
    'first invocation CPU ms',
    'requests',
  ];
  const rows = cold.rows.map((r) => [
    r.contender,
    r.initKiB === undefined ? r.bundleKiB : `${r.initKiB} / ${r.bundleKiB}`,
    r.initMs,
    r.firstShareMs,
    `**${r.totalShareMs}**`,
    r.vsSdk ?? '–',
    r.vsLite ?? '–',
    r.firstFullMs,
    r.warmShareMs,
    r.firstShareCpuMs,
    r.requests,
  ]);
  return [
    `${cold.cpu}; medians of ${cold.rows[0]?.samples ?? 0} fresh processes each`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
};
