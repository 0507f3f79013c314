// Testing helpers for app developers: `import { WsTestHarness } from 'ws-outbox/testing'`.
export { WsTestHarness, type Delivered, type InvokeResult, type HarnessOptions, type LambdaHandler } from './harness.ts';
export { makeWsEvent, newConnectionId, type WsEventSpec } from './events.ts';
