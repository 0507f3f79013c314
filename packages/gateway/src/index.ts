// The local gateway as a library, for tests of your own: `import { startGateway } from '@ws-outbox/gateway'`.
//
//   const gw = await startGateway({ template: 'template.yaml', port: 0, dynamodbPort: 0, quiet: true });
//   // gw.wsUrl, gw.managementEndpoint, gw.dynamodbEndpoint, gw.tableName, gw.events, await gw.stop()
export { startGateway, gatewayDefaults, type Gateway, type GatewayOptions } from './gateway.ts';
export type { InvocationReport } from './websocket-api.ts';
export type { Delivery } from './management-api.ts';
export type { LateSend } from './invocations.ts';
export { build, BuildError, esbuildOptions, sizeTable, splittingOptions, type BuildOptions, type BuiltFunction } from './build.ts';
export { runCli } from './cli.ts';
