// The gateway's service lifecycle (services/service.ts) and its static folder (static.ts).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import type { AppModel } from '../../src/app-model.ts';
import { RestartRequired } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { ServiceSet, type GatewayService } from '../../src/services/service.ts';
import { createStaticHandler } from '../../src/static.ts';

const log = createLogger({ quiet: true });
const model = (stage: string) => ({ stage }) as unknown as AppModel;

describe('ServiceSet', () => {
  const recording = (name: string, calls: string[], extra: Partial<GatewayService> = {}): GatewayService => ({
    name,
    stop: async () => {
      calls.push(`stop ${name}`);
    },
    ...extra,
  });

  it('stops the started services newest first, once, even if one fails to stop', async () => {
    const calls: string[] = [];
    const set = new ServiceSet(log);
    await set.start(Promise.resolve(recording('a', calls)));
    await set.start(
      Promise.resolve(
        recording('b', calls, {
          stop: async () => {
            calls.push('stop b');
            throw new Error('stuck');
          },
        }),
      ),
    );
    set.onStop('folder', () => {
      calls.push('stop folder');
    });
    await set.start(Promise.resolve(recording('c', calls)));
    await Promise.all([set.stop(), set.stop()]);
    await set.stop();
    expect(calls).toEqual(['stop c', 'stop folder', 'stop b', 'stop a']);
  });

  it('a service whose start fails is not stopped by the set (it cleans up itself); the others are', async () => {
    const calls: string[] = [];
    const set = new ServiceSet(log);
    await set.start(Promise.resolve(recording('a', calls)));
    await expect(set.start(Promise.reject(new Error('port in use')))).rejects.toThrow('port in use');
    await set.stop();
    expect(calls).toEqual(['stop a']);
  });

  it("collects every started service's hosts", async () => {
    const set = new ServiceSet(log);
    const handler = async () => {};
    await set.start(Promise.resolve({ name: 'x', hosts: [{ host: 'x.amazonaws.com', handler, plainPort: 1 }], stop: async () => {} }));
    await set.start(Promise.resolve({ name: 'y', stop: async () => {} }));
    await set.start(Promise.resolve({ name: 'z', hosts: [{ host: 'z.amazonaws.com', handler, plainPort: 2 }], stop: async () => {} }));
    expect(set.hosts().map((h) => h.host)).toEqual(['x.amazonaws.com', 'z.amazonaws.com']);
  });

  it('reload asks every service for a restart reason before any of them changes', async () => {
    const calls: string[] = [];
    const set = new ServiceSet(log);
    await set.start(
      Promise.resolve(
        recording('early', calls, {
          reload: (next) => {
            calls.push(`reload early ${next.stage}`);
          },
        }),
      ),
    );
    await set.start(
      Promise.resolve(
        recording('late', calls, {
          restartReason: (next, previous) => (next.stage !== previous.stage ? 'the stage changed' : undefined),
          reload: (next) => {
            calls.push(`reload late ${next.stage}`);
          },
        }),
      ),
    );
    await expect(set.reload(model('prod'), model('dev'))).rejects.toThrow(new RestartRequired('the stage changed'));
    expect(calls).toEqual([]);
    await set.reload(model('dev'), model('dev'));
    expect(calls).toEqual(['reload early dev', 'reload late dev']);
  });
});

describe('the static folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-static-'));
  mkdirSync(join(dir, 'site/sub'), { recursive: true });
  writeFileSync(join(dir, 'site/index.html'), '<h1>home</h1>');
  writeFileSync(join(dir, 'site/app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'site/sub/index.html'), 'sub');
  writeFileSync(join(dir, 'secret.txt'), 'outside');
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });
  const serve = async (folder: string | undefined): Promise<string> => {
    const handle = createStaticHandler(folder);
    const server = createServer((req, res) => void handle(req, res));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it('serves the folder it is given, index.html for folders, with content types', async () => {
    const base = await serve(join(dir, 'site'));
    const home = await fetch(`${base}/`);
    expect([home.status, home.headers.get('content-type'), await home.text()]).toEqual([200, 'text/html; charset=utf-8', '<h1>home</h1>']);
    const js = await fetch(`${base}/app.js`);
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(await (await fetch(`${base}/sub/`)).text()).toBe('sub');
    expect((await fetch(`${base}/nope.html`)).status).toBe(404);
    expect((await fetch(`${base}/app.js`, { method: 'POST' })).status).toBe(405);
  });

  it('never leaves the folder, encoded or not', async () => {
    const base = await serve(join(dir, 'site'));
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/%2E%2E/%2E%2E/secret.txt', '/..%2fsecret.txt']) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status, await res.text()]).not.toEqual([path, 200, 'outside']);
    }
  });

  it('serves nothing when no folder was asked for, and says how to serve one', async () => {
    const base = await serve(undefined);
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('--static <folder>');
  });
});
