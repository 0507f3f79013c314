// What the fan-out worker checks before it posts anything a queue message asks for. A queue
// message is input: anyone who may SendMessage to the queue (a bug, a misconfigured sibling
// stack, an attacker with a leaked key) can write one. The worker's own credentials sign every
// POST it makes, so the message must never choose where they go, how big a payload is, or who
// gets it beyond what the store lists.
import { partition } from '@aws-sdk/core/client';
import { regionOf } from '../management/endpoint.ts';
import { maxPayloadBytes } from '../outbox/serialize.ts';
import type { Store } from '../store/store.ts';
import { BadFanoutMessage, type FanoutMessage } from './message.ts';

export interface PinnedEndpoint {
  /** Where the worker posts: `endpoint` (an option), else AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, else `api`. */
  postTo: string;
  /** The API's own AWS endpoint, built from WEBSOCKET_API_ID and WEBSOCKET_STAGE when given. */
  api: string | undefined;
}

/**
 * The one @connections endpoint this worker posts to, from its configuration only: `endpoint` (an
 * option), else AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI, else built from WEBSOCKET_API_ID and
 * WEBSOCKET_STAGE (the template gives the function `!Ref WebSocketApi` and the stage), as the
 * senders build theirs from the event. Undefined when none is configured: every message is refused.
 */
export const pinnedEndpoint = (endpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): PinnedEndpoint | undefined => {
  const apiId = env.WEBSOCKET_API_ID;
  const stage = env.WEBSOCKET_STAGE;
  const region = regionOf(env);
  const api = apiId && stage ? `https://${apiId}.execute-api.${region}.${partition(region).dnsSuffix}/${stage}` : undefined;
  const given = endpoint || env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI;
  const postTo = given ? normalised(given) : api;
  return postTo === undefined ? undefined : { postTo, api };
};

const normalised = (url: string): string => url.replace(/\/+$/, '');

export const noEndpointMessage =
  "the fan-out worker does not know its API's @connections endpoint, so it posts nowhere: " +
  'set WEBSOCKET_API_ID and WEBSOCKET_STAGE (!Ref of the WebSocket API and its stage) or AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI ' +
  'on the function, or pass fanoutHandler({ endpoint })';

/**
 * Refuses (throws BadFanoutMessage) a message that names an endpoint other than this worker's (the
 * one it posts to, or its API's own AWS endpoint, which a sender with the override variable unset
 * writes), or whose payload is over API Gateway's 128 KB: the sender never writes either, so it is
 * not ours. Whatever a message names, the worker posts to `postTo` only.
 */
export const checkFanoutMessage = (message: FanoutMessage, payload: Uint8Array, endpoint: PinnedEndpoint | undefined): void => {
  if (endpoint === undefined) throw new BadFanoutMessage(noEndpointMessage);
  const named = normalised(message.endpoint);
  if (named !== endpoint.postTo && named !== endpoint.api) {
    throw new BadFanoutMessage(`it names the endpoint ${JSON.stringify(message.endpoint)}, not this worker's ${endpoint.postTo}: refused, nothing posted`);
  }
  if (payload.byteLength > maxPayloadBytes) {
    throw new BadFanoutMessage(`its payload is ${payload.byteLength} bytes, over API Gateway's ${maxPayloadBytes}-byte limit: refused, nothing posted`);
  }
};

/** Lookups in flight at once when carried ids are checked. */
const lookupsAtOnce = 25;

export interface ListedIds {
  /** Carried ids the store lists (a live connection; for a room, a member of it), in the message's order. */
  listed: string[];
  /** Carried ids the store does not list so (never posted). */
  unlisted: string[];
  /** Ids not checked (the read budget ended, or the store failed): carried on, never posted unchecked. */
  unchecked: string[];
}

/**
 * A message's `ids` (recipients a sender or an earlier worker could not reach yet) are posted only
 * if the store still lists them: a live connection for a toAll (the sender's hand-over carries ids
 * of every shard in one message), a member of the room for a toRoom. Pages the worker reads itself come from the store; these come from the message, and a
 * forged one could name anyone (or 5,000 made-up ids). A connection that left the room or went
 * meanwhile is rightly skipped too.
 */
export const listedIds = async (store: Store, message: FanoutMessage, signal: AbortSignal): Promise<ListedIds> => {
  const ids = [...new Set(message.ids ?? [])];
  const result: ListedIds = { listed: [], unlisted: [], unchecked: [] };
  for (let i = 0; i < ids.length; i += lookupsAtOnce) {
    const chunk = ids.slice(i, i + lookupsAtOnce);
    if (signal.aborted) {
      result.unchecked.push(...ids.slice(i));
      break;
    }
    const found = await Promise.all(chunk.map((id) => store.get(id).catch(() => 'error' as const)));
    chunk.forEach((id, k) => {
      const row = found[k];
      if (row === 'error') result.unchecked.push(id);
      else if (row === undefined) result.unlisted.push(id);
      else if (message.target === 'all' || row.rooms.includes(message.room!)) result.listed.push(id);
      else result.unlisted.push(id);
    });
  }
  return result;
};
