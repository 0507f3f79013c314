// The floor: keep-alive node:http requests, each signed with SigV4 by @smithy/signature-v4 (with
// the SDK's native SHA-256), bounded concurrency, no retries, no classification beyond the status.
// Bench-only; not shipped.
import http from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { forEachBounded } from '../lib/pool.ts';
import type { Contender, ContenderOptions } from './types.ts';

export const createRaw = ({ endpoint, region, concurrency }: ContenderOptions): Contender => {
  const url = new URL(endpoint);
  const basePath = url.pathname.replace(/\/+$/, '');
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const signer = new SignatureV4({
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '' },
    region,
    service: 'execute-api',
    sha256: Sha256,
  });
  const post = async (id: string, body: Uint8Array): Promise<number> => {
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: `${basePath}/@connections/${encodeURIComponent(id)}`,
        headers: { host: url.host, 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) },
        body,
      }),
    );
    return new Promise((resolve, reject) => {
      const req = http.request({ agent, host: url.hostname, port: url.port, method: 'POST', path: signed.path, headers: signed.headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
  };
  return {
    async broadcast(ids, body) {
      let sent = 0,
        gone = 0,
        failed = 0;
      await forEachBounded(ids, concurrency, async (id) => {
        const status = await post(id, body).catch(() => 0);
        if (status === 200) sent++;
        else if (status === 410) gone++;
        else failed++;
      });
      return { sent, gone, failed };
    },
    close: () => agent.destroy(),
  };
};
