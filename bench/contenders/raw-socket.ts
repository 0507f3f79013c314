// The floor of the floor: the bytes of a signed PostToConnection written to keep-alive TCP
// sockets with net.Socket, and each answer counted by its framing. No signing (the request
// carries a fixed Authorization of the right shape, which is all the sink checks), no HTTP
// library, no retries, no classification: what any sender pays per message on this machine in
// syscalls and framing. CPU per delivered message is quoted against it (bench/README.md).
// Bench-only; not shipped.
import net from 'node:net';
import type { Contender, ContenderOptions } from './types.ts';

const headEnd = Buffer.from('\r\n\r\n');

export const createRawSocket = ({ endpoint, concurrency }: ContenderOptions): Contender => {
  const url = new URL(endpoint);
  const basePath = url.pathname.replace(/\/+$/, '');
  const sockets: net.Socket[] = [];
  const fixed =
    `host: ${url.host}\r\ncontent-type: application/octet-stream\r\nx-amz-date: 20261127T000000Z\r\n` +
    `authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/20261127/us-east-1/execute-api/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date, Signature=${'0'.repeat(64)}\r\n`;

  /** Sends `ids` one after another on one socket; resolves with the status of each. */
  const lane = (socket: net.Socket, next: () => string | undefined, body: Uint8Array, count: (status: number) => void) =>
    new Promise<void>((resolve, reject) => {
      let pending: Buffer = Buffer.alloc(0);
      const send = () => {
        const id = next();
        if (id === undefined) {
          socket.off('data', onData);
          return resolve();
        }
        const head = `POST ${basePath}/@connections/${encodeURIComponent(id)} HTTP/1.1\r\n${fixed}content-length: ${body.byteLength}\r\n\r\n`;
        socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]) as Buffer);
      };
      const onData = (chunk: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        for (;;) {
          const end = pending.indexOf(headEnd);
          if (end < 0) return;
          const head = pending.toString('latin1', 0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (pending.length < end + 4 + length) return;
          count(Number(head.slice(9, 12)));
          pending = pending.subarray(end + 4 + length);
          send();
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
      send();
    });

  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true }, () => resolve(socket));
      socket.once('error', reject);
    });

  return {
    async broadcast(ids, body) {
      while (sockets.length < Math.min(concurrency, ids.length)) sockets.push(await connect());
      let i = 0;
      let sent = 0,
        gone = 0,
        failed = 0;
      const next = () => (i < ids.length ? ids[i++] : undefined);
      const count = (status: number) => {
        if (status === 200) sent++;
        else if (status === 410) gone++;
        else failed++;
      };
      await Promise.all(sockets.map((socket) => lane(socket, next, body, count)));
      return { sent, gone, failed };
    },
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
};
