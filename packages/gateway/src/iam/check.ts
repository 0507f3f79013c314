// The IAM check the gateway's DynamoDB and @connections fronts run on each request: who signed it
// (identities.ts), and whether that function's statements (policies.ts) allow the action on the
// resource (evaluate.ts). A denial is logged with the function, its route, the action and the
// statement it lacks, and answered by the front as that service answers it.
//
// A request signed with a key the gateway did not issue comes from outside the functions (a test,
// the AWS CLI, a developer's script) and is not checked. One that carries a worker's invocation
// stamp but no key the gateway issued was made by a function without its credentials (an unsigned
// fetch, say): AWS refuses those too.
import type { IncomingMessage } from 'node:http';
import type { InvocationLedger } from '../invocations.ts';
import type { Logger } from '../log.ts';
import { invocationHeader } from '../worker-protocol.ts';
import { decide } from './evaluate.ts';
import { accessKeyOf, principalOf, type Identities, type Identity } from './identities.ts';
import type { FunctionPolicy } from './policies.ts';

export type IamVerdict =
  | { kind: 'allowed' }
  /** Signed by a function whose statements do not allow it. */
  | { kind: 'denied'; identity: Identity; action: string; resource: string; explicit: boolean; message: string }
  /** Made by a function, without credentials the gateway issued. */
  | { kind: 'unsigned'; functionName: string; signed: boolean };

export interface IamCheckOptions {
  enabled: boolean;
  identities: Identities;
  /** The current policy of a function (it changes when the template does). */
  policyOf: (logicalId: string) => FunctionPolicy | undefined;
  accountId: string;
  ledger: InvocationLedger;
  log: Pick<Logger, 'error'>;
}

export type IamCheck = (req: IncomingMessage, action: string, resources: string[]) => IamVerdict;

export const createIamCheck = (opts: IamCheckOptions): IamCheck => (req, action, resources) => {
  if (!opts.enabled) return { kind: 'allowed' };
  const identity = opts.identities.get(accessKeyOf(req.headers, req.url));
  const stamp = req.headers[invocationHeader];
  const invocation = typeof stamp === 'string' ? opts.ledger.get(stamp) : undefined;
  if (!identity) {
    if (invocation === undefined) return { kind: 'allowed' };
    opts.log.error(`IAM: ${invocation.functionName} (route ${invocation.route ?? '-'}) called ${action} without the credentials of its role `
      + '(an unsigned request, or keys of its own): AWS refuses it. Sign with the default credential chain (the SDK does).');
    return { kind: 'unsigned', functionName: invocation.functionName, signed: accessKeyOf(req.headers, req.url) !== undefined };
  }
  const statements = opts.policyOf(identity.logicalId)?.statements ?? [];
  for (const resource of resources) {
    const decision = decide(statements, action, resource);
    if (decision.allowed) continue;
    const principal = principalOf(identity, opts.accountId);
    const reason = decision.explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
    const route = invocation?.route ?? '-';
    opts.log.error([
      `IAM: ${identity.functionName} (route ${route}) may not ${action} on ${resource}${decision.explicit ? ' (an explicit Deny)' : ''}.`,
      decision.explicit
        ? '  A Deny statement in its policies matches; remove or narrow it.'
        : `  Missing statement in its Policies:  - Statement: [{ Effect: Allow, Action: ${action}, Resource: ${resource} }]`,
    ].join('\n'));
    return {
      kind: 'denied', identity, action, resource, explicit: decision.explicit,
      message: `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} ${reason}`,
    };
  }
  return { kind: 'allowed' };
};
