// Starts bench/sink.ts as a child process and talks to its control endpoints.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface SinkConfig {
  delayMs: number;
  goneShare: number;
  /** Requests/s before it answers 429 (a token bucket, as API Gateway's account limit); 0 = none. */
  rateLimit: number;
  burst: number;
  /** Count 200s per id (GET /_ids), to check exactly-once delivery. */
  countIds: boolean;
}
export interface SinkStats {
  posts: number; deletes: number; gone: number; unsigned: number; bytes: number; peakInFlight: number;
  throttled: number; admitted: number; refused: number; ids: number; duplicates: number;
  /** Epoch ms of the first and the last 200. */
  firstAt: number; lastAt: number;
  /** 200s in each second since the first one. */
  perSecond: number[];
}

export const startSink = async () => {
  // stdin is a pipe the sink watches: it exits when this process goes, however it goes.
  const child = spawn(process.execPath, [new URL('../sink.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = await once(createInterface({ input: child.stdout }), 'line') as [string];
  const { port } = JSON.parse(line) as { port: number };
  const base = `http://127.0.0.1:${port}`;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(base + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return await res.json() as T;
  };
  return {
    port,
    /** The management endpoint a contender is pointed at; "/bench" plays the stage. */
    endpoint: `${base}/bench`,
    configure: (config: Partial<SinkConfig>) => call<SinkConfig>('PUT', '/_config', config),
    stats: () => call<SinkStats>('GET', '/_stats'),
    reset: () => call<SinkStats>('POST', '/_reset'),
    /** Times each id got a 200 since the last reset (with countIds on). */
    ids: () => call<Record<string, number> | null>('GET', '/_ids'),
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
};
export type Sink = Awaited<ReturnType<typeof startSink>>;
