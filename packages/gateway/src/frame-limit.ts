// API Gateway closes a connection with 1009 when a single frame exceeds 32 KB, even if the whole
// message is under the 128 KB message limit. `ws` only limits whole messages (maxPayload), so this
// reads the frame headers on the raw socket, ahead of `ws`, and reports the first oversize frame.
import type { Duplex } from 'node:stream';

interface FrameHeader {
  headerBytes: number;
  payloadBytes: number;
}

// RFC 6455 §5.2: 2 bytes, then a 16- or 64-bit extended length, then a 4-byte mask if masked.
const parseHeader = (buf: Buffer): FrameHeader | undefined => {
  if (buf.length < 2) return undefined;
  const len7 = buf[1]! & 0x7f;
  const masked = (buf[1]! & 0x80) !== 0;
  const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerBytes = 2 + extended + (masked ? 4 : 0);
  if (buf.length < headerBytes) return undefined;
  const payloadBytes = len7 < 126 ? len7 : len7 === 126 ? buf.readUInt16BE(2) : Number(buf.readBigUInt64BE(2));
  return { headerBytes, payloadBytes };
};

/**
 * Watches the client→server frames on `socket` (after the upgrade) and calls `onOversize` once
 * for the first frame whose payload is over `maxFrameBytes`. Listens first, so the flag it sets is
 * visible before `ws` emits the message that frame belongs to.
 */
export const watchFrameSizes = (socket: Duplex, maxFrameBytes: number, onOversize: (bytes: number) => void): void => {
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0;
  const onData = (chunk: Buffer) => {
    let offset = 0;
    while (offset < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - offset);
        skip -= n;
        offset += n;
        continue;
      }
      const had = pending.length;
      const take = chunk.subarray(offset, offset + 14 - had);
      const buf = had > 0 ? Buffer.concat([pending, take]) : take;
      const header = parseHeader(buf);
      if (!header) {
        pending = Buffer.from(buf);
        return;
      }
      pending = Buffer.alloc(0);
      offset += header.headerBytes - had;
      if (header.payloadBytes > maxFrameBytes) {
        socket.off('data', onData);
        onOversize(header.payloadBytes);
        return;
      }
      skip = header.payloadBytes;
    }
  };
  socket.prependListener('data', onData);
};
