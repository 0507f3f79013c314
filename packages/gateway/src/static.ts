// Serves a static folder at `/` when asked (`ws-outbox dev --static demo`, `staticDir`): an app's
// demo page, say. Nothing is served by default, so an adopter's gateway never advertises a page
// that is not theirs. Only regular files inside the folder, by their decoded path; `/` and folders
// give their index.html. Read on every request, so edits show on reload without a restart.
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const notFound = (res: ServerResponse, path: string, why = 'Not found'): void => {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`${why}: ${path}\n`);
};

/** A handler that serves `dir`, or, with no dir, answers 404 saying how to serve one. */
export const createStaticHandler = (dir: string | undefined): StaticHandler => {
  const root = dir === undefined ? undefined : resolve(dir);
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://local').pathname);
    } catch {
      notFound(res, req.url ?? '/', 'Bad path');
      return;
    }
    if (root === undefined) {
      notFound(res, path, 'Nothing is served here (ws-outbox dev --static <folder> serves a folder at /)');
      return;
    }
    let file = resolve(join(root, path));
    // No way out of the folder: `..`, encoded or not, and NUL bytes are refused.
    if ((file !== root && !file.startsWith(root + sep)) || path.includes('\0')) {
      notFound(res, path);
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      const type = types[extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EISDIR') notFound(res, path);
      else throw error;
    }
  };
};
