// Where a function worker's outgoing connections go (runs inside the worker, before the handler's
// module loads). A function reaches AWS by host name, unmodified: the app's
// `<apiId>.execute-api.<region>.amazonaws.com` (whatever URL idiom built it) and
// `dynamodb.<region>.amazonaws.com`, `sqs.…` and `lambda.…` (Invoke). Those connections are sent to the gateway's own servers on
// loopback: TLS ones to its TLS front (whose certificate the worker trusts through
// NODE_EXTRA_CA_CERTS), plain ones to its HTTP servers. Any other AWS host is refused, loudly:
// locally nothing answers for it, and a real call from a local run is never what was meant.
//
// Every TCP client in Node (node:http and https, undici's fetch, the outbox's own HTTP client,
// http2, tls.connect) ends in net.Socket.prototype.connect, so one patch there sees them all. The
// TLS layer keeps the host name it was given for SNI and the certificate check.
import net from 'node:net';

export interface EgressRoute {
  /** Port of the gateway's TLS front for this host (connections to :443). */
  tls: number;
  /** Port of the plain HTTP server for this host (connections to :80). */
  plain: number;
}

export interface EgressConfig {
  /** Lower-case host name → where its connections go, on 127.0.0.1. */
  routes: Record<string, EgressRoute>;
}

/** DNS suffixes of the AWS partitions: hosts under them are AWS endpoints. */
const awsSuffixes = ['.amazonaws.com', '.amazonaws.com.cn', '.api.aws', '.c2s.ic.gov', '.sc2s.sgov.gov', '.cloud.adc-e.uk', '.csp.hci.ic.gov'];

export const isAwsHost = (host: string): boolean => awsSuffixes.some((suffix) => host === suffix.slice(1) || host.endsWith(suffix));

const normalizeHost = (host: unknown): string =>
  String(host ?? '')
    .toLowerCase()
    .replace(/\.$/, '');

/** The error a refused connection fails with: ECONNREFUSED, as when nothing listens. */
export const refusedError = (host: string, port: number): NodeJS.ErrnoException =>
  Object.assign(
    new Error(
      `connect ECONNREFUSED ${host}:${port} (ws-outbox local gateway: only the app's execute-api, DynamoDB, SQS and Lambda endpoints are served locally; this call would reach real AWS)`,
    ),
    { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: host, port },
  );

/**
 * Patches net.Socket.prototype.connect for this process. `onRefused` hears of every connection to
 * an AWS host that has no local route (it then fails with ECONNREFUSED).
 */
export const installEgress = (config: EgressConfig, onRefused: (host: string, port: number) => void): void => {
  const original = net.Socket.prototype.connect;
  const routes = new Map(Object.entries(config.routes).map(([host, route]) => [normalizeHost(host), route]));
  net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
    // net.connect() passes its already normalized [options, callback]; others pass (options[, cb])
    // or (port[, host][, cb]). A path (IPC) is never AWS.
    const [first, ...rest] = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
    let options: net.TcpNetConnectOpts | undefined;
    let callback: unknown;
    if (first !== null && typeof first === 'object') {
      options = first as net.TcpNetConnectOpts;
      callback = rest[0];
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      const host = typeof rest[0] === 'string' ? rest[0] : 'localhost';
      options = { port: Number(first), host };
      callback = typeof rest[0] === 'string' ? rest[1] : rest[0];
    }
    const host = normalizeHost(options?.host);
    if (!options || options.port === undefined || !isAwsHost(host)) return Reflect.apply(original, this, args) as net.Socket;
    const port = Number(options.port);
    const route = routes.get(host);
    if (route === undefined) {
      onRefused(host, port);
      const error = refusedError(host, port);
      process.nextTick(() => this.destroy(error));
      return this;
    }
    const local = { ...options, host: '127.0.0.1', port: port === 80 ? route.plain : route.tls };
    delete (local as { lookup?: unknown }).lookup;
    return Reflect.apply(original, this, callback === undefined ? [local] : [local, callback]) as net.Socket;
  } as typeof net.Socket.prototype.connect;
};
