import type { TransportOptions } from './sdk-transport.ts';
import type { Transport } from './transport.ts';

export type TransportKind = 'sdk' | 'signed';
export type TransportFactory = (options: TransportOptions) => Transport;

// Module scope survives warm invocations: one client, and so one pool of keep-alive sockets,
// per endpoint and settings, instead of a TLS handshake per invocation.
const cache = new Map<string, Transport>();

// Each loaded on demand, so that a function evaluates only the path it uses: the SDK's client is
// ~40 ms of a cold start's module evaluation on its own (bench/README.md, "Cold start").
const factories: Record<TransportKind, () => Promise<TransportFactory>> = {
  sdk: async () => (await import('./sdk-transport.ts')).createSdkTransport,
  signed: async () => (await import('./signed-transport.ts')).createSignedTransport,
};

// A custom factory is part of the key by identity, so two factories never share a client.
const factoryIds = new WeakMap<TransportFactory, number>();
let nextFactoryId = 0;
const idOf = (factory: TransportFactory): string => {
  if (!factoryIds.has(factory)) factoryIds.set(factory, nextFactoryId++);
  return `custom${factoryIds.get(factory)}`;
};

export const transportFor = async (kind: TransportKind | TransportFactory, options: TransportOptions): Promise<Transport> => {
  const key = `${typeof kind === 'string' ? kind : idOf(kind)}|${options.endpoint}|${options.region}|${options.requestTimeoutMs}|${options.connectionTimeoutMs}|${options.maxSockets}`;
  let transport = cache.get(key);
  if (transport === undefined) {
    const factory = typeof kind === 'string' ? await factories[kind]() : kind;
    transport = factory(options);
    cache.set(key, transport);
  }
  return transport;
};

/** Closes every cached client (tests and tools; Lambda never needs it). */
export const destroyTransports = (): void => {
  for (const transport of cache.values()) transport.destroy();
  cache.clear();
};
