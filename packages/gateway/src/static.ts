// Serves the demo page (src/local/demo/) at `/`. Only the files in that folder, by exact name.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

const demoDir = new URL('./demo/', import.meta.url);
const files: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/demo.css': { file: 'demo.css', type: 'text/css; charset=utf-8' },
  '/demo.js': { file: 'demo.js', type: 'text/javascript; charset=utf-8' },
  // ws-outbox/client, bundled for the page (the example's `npm run build:demo-client`).
  '/client.js': { file: 'client.js', type: 'text/javascript; charset=utf-8' },
};

export const serveDemo = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = new URL(req.url ?? '/', 'http://local').pathname;
  const entry = files[path];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (!entry) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`Not found: ${path}\n`);
    return;
  }
  // Read on every request: edits to the page show on reload, no restart.
  const body = await readFile(new URL(entry.file, demoDir));
  res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
};
