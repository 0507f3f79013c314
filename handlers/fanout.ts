import { fanoutHandler } from 'ws-outbox';

/**
 * The fan-out worker (SQS event source on FanoutQueue): delivers the shards of a toAll or toRoom
 * that went past one invocation (see README "Fan-out past one invocation").
 */
export const handler = fanoutHandler();
