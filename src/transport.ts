// `ws-outbox/transport`: the @connections clients behind the outbox, for apps that tune or replace
// them (a TransportFactory), close them (destroyTransports), or build the endpoint themselves.
export { managementEndpoint } from './management/endpoint.ts';
export { destroyTransports, type TransportKind, type TransportFactory } from './management/clients.ts';
export { TransportError, type Transport, type FailureKind, type DeliveryFailure } from './management/transport.ts';
export type { TransportOptions } from './management/sdk-transport.ts';
