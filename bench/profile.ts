// Profiles one contender's broadcast with --cpu-prof and prints where the CPU went: self time by
// package (node_modules/<pkg>, node: internals, our src/) and the top functions.
// Usage: node bench/profile.ts --contender naive --n 5000 [--top 25]
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runChild } from './lib/child.ts';
import { startSink } from './lib/sink-process.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({
  options: {
    contender: { type: 'string' },
    n: { type: 'string', default: '5000' },
    top: { type: 'string', default: '25' },
    'delay-ms': { type: 'string', default: '0' },
  },
});

/** Groups a script URL into the package (or area) that owns it. */
export const ownerOf = (url: string): string => {
  if (!url) return '(native/gc/idle)';
  if (url.startsWith('node:internal/')) return url.split('/').slice(0, 2).join('/');
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    // @smithy/core and @aws-sdk/core are split into submodules; name them, they are the story.
    const sub = rest.indexOf('submodules');
    return sub >= 0 ? `${pkg}/${rest[sub + 1]}` : pkg;
  }
  const src = url.indexOf('/work/main/');
  return src >= 0
    ? url
        .slice(src + 11)
        .split('/')
        .slice(0, 2)
        .join('/')
    : url;
};

export const summarize = (profile: Profile, top: number) => {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of self) {
    const { callFrame } = byNode.get(id)!;
    const owner = callFrame.functionName === '(idle)' ? '(idle)' : ownerOf(callFrame.url);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
    const fn = `${callFrame.functionName || '(anonymous)'} ${ownerOf(callFrame.url)}:${callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1)} %`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: Math.round(total / 1000),
    byOwner: sorted(byOwner)
      .slice(0, top)
      .map(([k, v]) => `${pct(v).padStart(7)}  ${k}`),
    byFunction: sorted(byFunction)
      .slice(0, top)
      .map(([k, v]) => `${pct(v).padStart(7)}  ${k}`),
  };
};

if (values.contender) {
  const sink = await startSink();
  await sink.configure({ delayMs: Number(values['delay-ms']), goneShare: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-prof-'));
  Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK', AWS_SECRET_ACCESS_KEY: 'bench-secret' });
  const outcome = await runChild('worker.ts', ['--contender', values.contender, '--n', values.n!], {
    nodeFlags: ['--expose-gc', '--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'],
    env: { AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint },
  });
  await sink.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
  const summary = summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile, Number(values.top));
  process.stdout.write(
    `${[
      `${values.contender} n=${values.n}: ${JSON.stringify(outcome.result)}`,
      `profile ${join(dir, file)} (${summary.totalMs} ms sampled, warm-up included)`,
      '-- self time by owner',
      ...summary.byOwner,
      '-- self time by function',
      ...summary.byFunction,
    ].join('\n')}\n`,
  );
}
