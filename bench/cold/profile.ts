// Where a cold start's CPU goes: CPU profiles of init and of the handler's first call (under the
// CPU share), on an unminified bundle, attributed to the module each sampled line belongs to.
// Under a cgroup quota the wall clock between two samples includes the time the process was
// throttled, so samples are counted (each is one sampling interval of running code) and scaled
// to the CPU time the process measured, not weighted by their time deltas.
// esbuild's unminified output starts every module with a `// <path>` comment, so a line number
// is enough to name the npm package or our own file.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The bundle's module headers, as [first line (0-based), path], in line order. */
const modulesOf = (source: string): [number, string][] => {
  const out: [number, string][] = [];
  source.split('\n').forEach((line, i) => {
    const m = /^\/\/ (\S+\.[cm]?[jt]s)$/.exec(line);
    if (!m) return;
    // Paths are relative to the build's working folder: node_modules may sit further up.
    const path = m[1]!;
    const nm = path.lastIndexOf('node_modules/');
    if (nm >= 0) out.push([i, path.slice(nm)]);
    else if (/^(src|middleware|handlers|bench)\//.test(path)) out.push([i, path]);
  });
  return out;
};

const ownerOfPath = (path: string): string => {
  if (path.startsWith('node_modules/')) {
    const rest = path.slice(13).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    const sub = rest.indexOf('submodules');
    return sub >= 0 ? `${pkg}/${rest[sub + 1]}` : pkg;
  }
  const parts = path.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/${parts.at(-1)}` : path;
};

/** What the issue asks to account for, from the owner of the sampled code. */
export const phaseOf = (owner: string, functionName: string): string => {
  if (owner === '(garbage collector)' || owner === '(program)' || owner === '(idle)') return owner;
  if (/credential-provider|token-providers|nested-clients/.test(owner)) return 'credential resolution';
  if (/endpoints?|util-endpoints|region-config|partition/.test(owner)) return 'endpoint resolution';
  if (/^node:internal\/(modules|bootstrap|deps|webstreams)|^\(bundle prelude\)/.test(owner))
    return "module loading: compile, evaluation (esbuild's module wrappers), Node internals loaded on first use (undici via node:http)";
  if (/signature-v4|sigv4|aws4|node:internal\/crypto/.test(owner)) return 'signing';
  if (/^node:|node-http-handler|http1-pool|http1-response|fetch-http/.test(owner)) return 'HTTP and sockets (Node, HTTP client)';
  if (/@aws-sdk|@smithy|@aws-lite/.test(owner)) return 'AWS client (commands, middleware, serde)';
  if (/^(src|middleware|handlers)\//.test(owner) || /^(src|middleware|handlers)\//.test(functionName)) return 'our own code';
  return 'other libraries';
};

export const summarizeColdProfile = (profile: CpuProfile, info: { step: string; wallMs: number; cpuMs: number; contender: string }, top = 14): string => {
  // The bundle and its chunks, each with its own module headers.
  const headers = new Map<string, [number, string][]>();
  const modulesIn = (url: string) => {
    let found = headers.get(url);
    if (!found) headers.set(url, (found = modulesOf(readFileSync(fileURLToPath(url), 'utf8'))));
    return found;
  };
  const moduleAt = (url: string, line: number): string => {
    const modules = modulesIn(url);
    let lo = 0,
      hi = modules.length - 1,
      found = '(bundle prelude)';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (modules[mid]![0] <= line) {
        found = modules[mid]![1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const ownerOf = (node: ProfileNode): string => {
    const { url, functionName, lineNumber } = node.callFrame;
    if (functionName === '(garbage collector)' || functionName === '(program)' || functionName === '(idle)') return functionName;
    if (url.endsWith('.mjs') && url.includes('ws-outbox-cold-')) return ownerOfPath(moduleAt(url, lineNumber));
    if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
    if (!url) return `(native) ${functionName}`;
    return url.includes('runner') ? '(bench runner)' : url;
  };
  // Samples of the idle loop (waiting for a socket) are not CPU: left out, the rest share the CPU time.
  const busy = profile.samples.filter((id) => byId.get(id)!.callFrame.functionName !== '(idle)');
  const self = new Map<number, number>();
  const perSample = (info.cpuMs * 1000) / Math.max(1, busy.length);
  for (const id of busy) self.set(id, (self.get(id) ?? 0) + perSample);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byOwner = new Map<string, number>();
  const byPhase = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const owner = ownerOf(node);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
    const phase = owner.startsWith('(native)') ? 'native (V8 builtins, compile)' : phaseOf(owner, '');
    byPhase.set(phase, (byPhase.get(phase) ?? 0) + us);
    const fn = `${node.callFrame.functionName || '(anonymous)'} [${owner}]`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  // Module evaluation: time under esbuild's lazy module initialisers (init_x / __esm), inclusive.
  const inclusive = (id: number): number => (self.get(id) ?? 0) + (byId.get(id)!.children ?? []).reduce((a, c) => a + inclusive(c), 0);
  let evaluation = 0;
  const visit = (id: number, inside: boolean) => {
    const node = byId.get(id)!;
    // esbuild wraps a lazily evaluated module as __esm({ "<path>"() { … } }): the method is named for the path.
    const isInit = /^(node_modules|src|middleware|handlers)\//.test(node.callFrame.functionName);
    if (isInit && !inside) {
      evaluation += inclusive(id);
      return;
    }
    for (const c of node.children ?? []) visit(c, inside || isInit);
  };
  visit(profile.nodes[0]!.id, false);
  const ms = (us: number) => (us / 1000).toFixed(1).padStart(6);
  const share = (us: number) => `${((us / total) * 100).toFixed(0).padStart(3)} %`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return [
    `${info.step} of ${info.contender}: ${info.wallMs.toFixed(1)} ms wall, ${info.cpuMs.toFixed(1)} ms CPU (profiler on, so slower than unprofiled), ${busy.length} busy samples scaled to that CPU`,
    `evaluation of lazily loaded modules (inclusive): ${ms(evaluation).trim()} ms`,
    '-- self time by phase',
    ...sorted(byPhase).map(([k, v]) => `${ms(v)} ms ${share(v)}  ${k}`),
    '-- self time by owner',
    ...sorted(byOwner)
      .slice(0, top)
      .map(([k, v]) => `${ms(v)} ms ${share(v)}  ${k}`),
    '-- self time by function',
    ...sorted(byFunction)
      .slice(0, top)
      .map(([k, v]) => `${ms(v)} ms ${share(v)}  ${k}`),
  ].join('\n');
};
