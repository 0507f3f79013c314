import { fanoutHandler } from '../src/index.ts';

/**
 * The fan-out worker (SQS event source on FanoutQueue): delivers the shards of a toAll or toRoom
 * that went past one invocation (see README "Fan-out past one invocation").
 */
export const handler = fanoutHandler();
