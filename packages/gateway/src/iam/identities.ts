// Fake credentials per function instance, as Lambda gives each execution environment its role's
// own temporary credentials: the gateway's fronts tell which function made a request from the
// access key in its SigV4 Authorization header (or X-Amz-Credential, for presigned URLs). The
// keys look like STS ones (ASIA…) and are worthless anywhere but here.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface Identity {
  logicalId: string;
  functionName: string;
  instanceId: number;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

const base32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const keyId = (): string => `ASIA${[...randomBytes(16)].map((b) => base32[b % 32]).join('')}`;

export class Identities {
  readonly #byKey = new Map<string, Identity>();

  /** New credentials for one instance of a function. */
  issue(logicalId: string, functionName: string, instanceId: number): Identity {
    const identity: Identity = {
      logicalId,
      functionName,
      instanceId,
      accessKeyId: keyId(),
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(96).toString('base64'),
    };
    this.#byKey.set(identity.accessKeyId, identity);
    return identity;
  }

  revoke(accessKeyId: string): void {
    this.#byKey.delete(accessKeyId);
  }

  get(accessKeyId: string | undefined): Identity | undefined {
    return accessKeyId === undefined ? undefined : this.#byKey.get(accessKeyId);
  }
}

/** The access key a request was signed with: `Credential=<key>/<date>/…` in Authorization, or X-Amz-Credential in the query. */
export const accessKeyOf = (headers: IncomingHttpHeaders, url = ''): string | undefined => {
  const authorization = headers.authorization;
  const fromHeader = typeof authorization === 'string' ? /Credential=([^/,\s]+)\//.exec(authorization)?.[1] : undefined;
  if (fromHeader !== undefined) return fromHeader;
  const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('X-Amz-Credential') : null;
  return query?.split('/')[0] || undefined;
};

/** The role session a function's calls run as, as AWS names it in its errors. */
export const principalOf = (identity: Pick<Identity, 'logicalId' | 'functionName'>, accountId: string): string =>
  `arn:aws:sts::${accountId}:assumed-role/${identity.logicalId}Role/${identity.functionName}`;
