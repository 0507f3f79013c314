// Which Host names the gateway's plain ports answer. A page on another origin can point a name it
// owns at 127.0.0.1 (DNS rebinding) and then talk to the gateway as if it were that origin: get a
// dev token, open a socket, post to and delete anyone's connection, read the tables. The browser
// still sends the page's own name in Host, so a server that answers only the names it is meant to
// be reached by is out of that page's reach, as dev servers (webpack-dev-server, Vite) do since
// their DNS-rebinding fixes. The names: loopback (localhost and its subdomains, 127.0.0.0/8, ::1),
// the emulated AWS hosts (the functions' plain calls name them), the address the gateway listens
// on, and any the user adds.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';

/** The Host header's name, lower case, without port, brackets or a trailing dot; '' when absent. */
export const hostNameOf = (req: Pick<IncomingMessage, 'headers'>): string => {
  const host = String(req.headers.host ?? '')
    .trim()
    .toLowerCase();
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']') === -1 ? undefined : host.indexOf(']')) : host.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
};

/** Names that resolve to this machine only, whatever DNS says. */
export const isLoopbackName = (name: string): boolean => {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name === '0:0:0:0:0:0:0:1';
  return false;
};

export interface HostCheck {
  /** True when the request's Host may be answered. */
  allows(req: Pick<IncomingMessage, 'headers'>): boolean;
  /** True when the request's Host is a loopback name (the dev issuer serves tokens only then). */
  loopback(req: Pick<IncomingMessage, 'headers'>): boolean;
}

export const createHostCheck = (extra: readonly unknown[]): HostCheck => {
  for (const name of extra) if (typeof name !== 'string') throw new TypeError(`startGateway allowedHosts must be host names; got ${String(name)}`);
  const names = new Set(
    (extra as string[])
      .map((h) =>
        h
          .toLowerCase()
          .replace(/^\[|\]$/g, '')
          .replace(/\.$/, ''),
      )
      .filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::'),
  );
  return {
    allows: (req) => {
      const name = hostNameOf(req);
      return isLoopbackName(name) || names.has(name);
    },
    loopback: (req) => isLoopbackName(hostNameOf(req)),
  };
};

export const refusedHostMessage = (req: Pick<IncomingMessage, 'headers'>): string =>
  `Invalid Host header ${JSON.stringify(String(req.headers.host ?? ''))}: the local gateway answers loopback names (localhost, 127.0.0.1, [::1]) ` +
  'and the AWS host names it emulates only (a defence against DNS rebinding). Reaching it by another name? Add it with --allowed-host.';

/** Answers a request whose Host is not allowed (or not for this path: `why`): 403, nothing else done. */
export const refuseHost = (req: IncomingMessage, res: ServerResponse, why?: string): void => {
  req.resume();
  const text = JSON.stringify({
    message: why === undefined ? refusedHostMessage(req) : `Forbidden for Host ${JSON.stringify(String(req.headers.host ?? ''))}: ${why}`,
  });
  res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
};
