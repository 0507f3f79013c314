// `ws-outbox/util`: what the library's packages share, as @middy/util is for Middy's: the options
// helpers and the error base class. The local gateway uses it too, so there is one way to merge
// and check options and one error class to catch across the project.
export { withDefaults, checkNumber } from './options.ts';
export { WsOutboxError } from './errors.ts';
export { checkOptions, pickRules, type Rule, type Schema } from './schema.ts';
