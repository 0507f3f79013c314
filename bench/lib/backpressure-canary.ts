// The backpressure canary: one member of a room stops reading its socket while the room is flooded
// (8 KB messages through the example chat's `send` route, through the local gateway, the real
// handlers and the outbox), and another member's messages are timed from its send until a third
// member has them. The gateway answers 429 for the stuck connection as API Gateway does; what is
// measured is whether everyone else waits for it. `stuck: false` is the control run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startGateway } from '../../packages/gateway/src/gateway.ts';

export interface CanaryOptions {
  /** One member never reads (the run); false: that member reads like the others (the control, same work). */
  stuck: boolean;
  /** Messages of `bytes` sent to the room by the flooders. */
  messages: number;
  bytes: number;
  /** Offered rate of the flood, messages/s (spread over the flooders). */
  rate: number;
  flooders: number;
  /** A probe every this many ms, from the flood's start until `tailMs` after its end. */
  probeEveryMs: number;
  tailMs: number;
  /** A probe not seen after this long counts as this long (and as lost). */
  probeTimeoutMs: number;
  /** Lambda-sized CPU and memory for the functions (cgroups, where they can be written). */
  limits: boolean;
}

export const canaryDefaults: CanaryOptions = {
  stuck: true, messages: 2_500, bytes: 8_000, rate: 150, flooders: 2, probeEveryMs: 100, tailMs: 2_000, probeTimeoutMs: 15_000, limits: false,
};

export interface CanaryResult {
  /** Probe latencies (ms), sorted; a lost probe counts as probeTimeoutMs. */
  latencies: number[];
  lost: number;
  p50: number;
  p99: number;
  max: number;
  /** The slowest probes: when they were sent (ms after the flood's start) and their latency. */
  worst: { at: number; latency: number }[];
  /** The p99 of the send invocations' durations (ms), and their p50, p90 and max. */
  sendP99Ms: number;
  send: { count: number; p50: number; p90: number; max: number };
  floodMs: number;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;

const open = async (wsUrl: string, name: string): Promise<WebSocket> => {
  const res = await fetch(new URL(`/dev/token?name=${name}`, wsUrl.replace(/^ws/, 'http')));
  const { token } = (await res.json()) as { token: string };
  const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  return ws;
};

const joinRoom = (ws: WebSocket, room: string) => new Promise<void>((resolve) => {
  const onMessage = (raw: Buffer) => {
    const m = JSON.parse(raw.toString());
    if (m.type === 'joined' && m.room === room) {
      ws.off('message', onMessage);
      resolve();
    }
  };
  ws.on('message', onMessage);
  ws.send(JSON.stringify({ action: 'join', room }));
});

export const runCanary = async (over: Partial<CanaryOptions> = {}): Promise<CanaryResult> => {
  const o = { ...canaryDefaults, ...over };
  const outdir = mkdtempSync(join(tmpdir(), 'ws-outbox-canary-'));
  const gateway = await startGateway({ template: 'test/fixtures/template.yaml', port: 0, dynamodbPort: 0, quiet: true, limits: o.limits, outdir });
  const clients: WebSocket[] = [];
  try {
    const sendDurations: number[] = [];
    gateway.events.on('invocation', (r: { route?: string; durationMs?: number }) => { if (r.route === 'send' && typeof r.durationMs === 'number') sendDurations.push(r.durationMs); });
    const room = 'canary';
    // The same members in both runs, so that only its reading differs.
    const member = await open(gateway.wsUrl, 'stuck');
    const flooders = await Promise.all(Array.from({ length: o.flooders }, (_, i) => open(gateway.wsUrl, `flooder${i}`)));
    const prober = await open(gateway.wsUrl, 'prober');
    const observer = await open(gateway.wsUrl, 'observer');
    clients.push(member, ...flooders, prober, observer);
    for (const ws of clients) await joinRoom(ws, room);
    // Warm-up: instances of the send function started (as many as a burst makes), so that cold
    // starts are not what the probes measure.
    await new Promise<void>((resolve) => {
      let seen = 0;
      const warm = 40;
      const onMessage = (raw: Buffer) => { if (raw.toString().includes('"warm-') && ++seen === warm) { observer.off('message', onMessage); resolve(); } };
      observer.on('message', onMessage);
      for (let i = 0; i < warm; i++) flooders[i % flooders.length]!.send(JSON.stringify({ action: 'send', room, text: `warm-${i}` }));
    });
    // Stop reading: what the gateway writes to it piles up in the kernel's buffers, then in its own (429 past 1 MiB).
    if (o.stuck) (member as unknown as { _socket: { pause(): void } })._socket.pause();

    const sentAt = new Map<string, number>();
    const seenAt = new Map<string, number>();
    observer.on('message', (raw: Buffer) => {
      const text = raw.toString();
      if (!text.includes('"probe-')) return;
      const m = JSON.parse(text) as { text?: string };
      if (m.text?.startsWith('probe-') && !seenAt.has(m.text)) seenAt.set(m.text, performance.now());
    });
    const filler = 'x'.repeat(o.bytes);
    const started = performance.now();
    const floodDone = (async () => {
      for (let i = 0; i < o.messages; i++) {
        const due = started + (i * 1000) / o.rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        flooders[i % flooders.length]!.send(JSON.stringify({ action: 'send', room, text: filler }));
      }
      return performance.now() - started;
    })();
    let probe = 0;
    while (performance.now() < started + (o.messages * 1000) / o.rate + o.tailMs) {
      const id = `probe-${probe++}`;
      sentAt.set(id, performance.now());
      prober.send(JSON.stringify({ action: 'send', room, text: id }));
      await new Promise((resolve) => setTimeout(resolve, o.probeEveryMs));
    }
    const floodMs = await floodDone;
    const lastSent = Math.max(...sentAt.values());
    while (seenAt.size < sentAt.size && performance.now() < lastSent + o.probeTimeoutMs) await new Promise((resolve) => setTimeout(resolve, 50));
    const latencies = [...sentAt].map(([id, at]) => (seenAt.has(id) ? seenAt.get(id)! - at : o.probeTimeoutMs)).sort((a, b) => a - b);
    const worst = [...sentAt].map(([id, at]) => ({ at: Math.round(at - started), latency: Math.round(seenAt.has(id) ? seenAt.get(id)! - at : o.probeTimeoutMs) }))
      .sort((a, b) => b.latency - a.latency).slice(0, 5);
    sendDurations.sort((a, b) => a - b);
    return {
      latencies, lost: sentAt.size - seenAt.size, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? NaN,
      worst, sendP99Ms: quantile(sendDurations, 0.99), floodMs,
      send: { count: sendDurations.length, p50: quantile(sendDurations, 0.5), p90: quantile(sendDurations, 0.9), max: sendDurations.at(-1) ?? NaN },
    };
  } finally {
    for (const ws of clients) ws.terminate();
    await gateway.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
};
