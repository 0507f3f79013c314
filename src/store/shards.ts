import { checkNumber } from '../options.ts';

// The connection index is spread over K partitions, `connections#<k>`, so that connects,
// disconnects, joins and prunes (every one of them writes the connection's row) and the reads of
// a toAll are spread over K DynamoDB partitions instead of one (about 1,000 WCU and 3,000 RCU a
// second each). k is a pure function of the connection id, so a row is found by its id alone:
// get(), join() and the prune's BatchGetItem build the key without reading anything first.

/** K when nothing says otherwise; measured in bench/README.md ("Shards"). */
export const defaultConnectionShards = 16;

/** One Query per shard per toAll, and one SQS message per shard per spill: more would only cost. */
export const maxConnectionShards = 1024;

/**
 * FNV-1a (32 bit) over the id's UTF-8 bytes: cheap, stable across processes and languages, and
 * well spread over API Gateway's connection ids. Another tool can compute the same shard.
 */
export const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return fnv1aBytes(new TextEncoder().encode(text));
    hash = Math.imul(hash ^ code, 0x01000193);
  }
  return hash >>> 0;
};

const fnv1aBytes = (bytes: Uint8Array): number => {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
};

/** The shard (0 … shards-1) a connection id lives in. */
export const shardOf = (connectionId: string, shards: number): number => fnv1a(connectionId) % shards;

/**
 * K for a store: the option, else CONNECTION_SHARDS (so every function of a stack can be given the
 * same K in one place), else the default. Every function that touches the table must use the same
 * K: a row is looked for in the shard its id hashes to under that K.
 */
export const connectionShards = (option?: number, env: NodeJS.ProcessEnv = process.env): number => {
  if (option !== undefined) return checkShards('ConnectionStore shards', option);
  const raw = env.CONNECTION_SHARDS;
  if (raw === undefined || raw === '') return defaultConnectionShards;
  return checkShards('CONNECTION_SHARDS', Number(raw), raw);
};

const checkShards = (name: string, value: number, raw: unknown = value): number => {
  checkNumber(name, Number.isNaN(value) ? raw : value, { min: 1, integer: true });
  if (value > maxConnectionShards) throw new TypeError(`${name} must be at most ${maxConnectionShards}; got ${String(raw)}`);
  return value;
};
