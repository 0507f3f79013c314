// Paths on the execute-api host as API Gateway reads them. The SDK joins an endpoint that ends in
// `/` (`https://…/stage/`) and the operation's path into `/stage//@connections/{id}`; API Gateway
// collapses the empty segment and serves it, so the gateway does too. A 403 on that host is
// logged with why, since the caller (a function's SDK) usually shows only "ForbiddenException".
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './log.ts';

/** The path with runs of `/` collapsed (the query string untouched). */
export const normalizeApiPath = (url: string | undefined): string | undefined => {
  if (url === undefined) return url;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return path.replace(/\/{2,}/g, '/') + (query < 0 ? '' : url.slice(query));
};

/** Normalises the request's path, and logs the request if it is answered 403. */
export const watchApiRequest = (req: IncomingMessage, res: ServerResponse, log: Pick<Logger, 'warn'>, host: string): void => {
  const written = req.url;
  req.url = normalizeApiPath(req.url);
  res.once('finish', () => {
    if (res.statusCode !== 403) return;
    const type = res.getHeader('x-amzn-ErrorType');
    log.warn(
      `${host}: ${req.method} ${written} → 403${type ? ` ${String(type)}` : ''}` +
        `${req.url?.includes('@connections') ? '' : ' (this host serves only /@connections/{id} and /{stage}/@connections/{id})'}`,
    );
  });
};
