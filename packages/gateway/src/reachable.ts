// Whether something listens at an http(s) URL's host and port: a TCP connect with a short timeout.
import { connect } from 'node:net';

export const reachable = (url: string, timeoutMs = 400): Promise<boolean> =>
  new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve(false);
    }
    const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
    const socket = connect({ host: target.hostname, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
