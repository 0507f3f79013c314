// RFC 6455's checks on a WebSocket opening handshake, made before $connect runs: API Gateway
// answers a malformed upgrade itself, and the app's $connect never hears of it (no row written,
// no $disconnect owed). The same checks `ws` makes, so a request that passes here is one `ws`
// accepts.
import type { IncomingMessage } from 'node:http';

export interface HandshakeError {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

// 16 random bytes in base64: 22 characters and the padding.
const keyPattern = /^[+/0-9A-Za-z]{22}==$/;
// An RFC 7230 token.
const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const handshakeError = (req: IncomingMessage): HandshakeError | undefined => {
  if (req.method !== 'GET') return { status: 405, message: 'Invalid HTTP method', headers: { Allow: 'GET' } };
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return { status: 400, message: 'Invalid Upgrade header' };
  const connection = String(req.headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
  if (!connection.includes('upgrade')) return { status: 400, message: 'Invalid Connection header' };
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !keyPattern.test(key)) return { status: 400, message: 'Missing or invalid Sec-WebSocket-Key header' };
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    return { status: 400, message: 'Missing or invalid Sec-WebSocket-Version header', headers: { 'Sec-WebSocket-Version': '13, 8' } };
  }
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    const offered = protocols.split(',').map((p) => p.trim());
    if (offered.some((p) => !tokenPattern.test(p)) || new Set(offered).size !== offered.length) {
      return { status: 400, message: 'Invalid Sec-WebSocket-Protocol header' };
    }
  }
  return undefined;
};
