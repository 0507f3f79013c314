// The store on the SDK's DynamoDB document client, for those who want the SDK's (createDocumentClient
// as the store's `client`; passing any DynamoDBDocumentClient works too). The store's default is
// the lean client (document-client.ts). The SDK is imported on first use (sdk-document.ts), so that
// a function that never sends through it never evaluates it.
import { sdkDocumentClient, type DocumentClient } from './document-client.ts';

/**
 * A DocumentClient on the SDK's DynamoDBDocumentClient, configured as the store wants it: the SDK
 * sets no request timeout by default, so a hung socket could eat the invocation (the flush also
 * aborts its reads and the prune at its deadline, through the requests' abortSignal).
 */
export const createDocumentClient = (endpoint?: string): DocumentClient => {
  let client: Promise<DocumentClient> | undefined;
  let made: DocumentClient | undefined;
  const sdk = () => (client ??= import('./sdk-document.ts').then(({ sdkStoreClient }) => (made = sdkDocumentClient(sdkStoreClient(endpoint)))));
  return {
    send: async (command, options) => (await sdk()).send(command, options),
    destroy: () => made?.destroy(),
  };
};
