// The IAM check the gateway's DynamoDB and @connections fronts run on each request: who signed it
// (identities.ts), and whether that function's statements (policies.ts) allow the action on the
// resource (evaluate.ts). A denial is logged with the function, its route, the action and the
// statement it lacks, and answered by the front as that service answers it.
//
// A request signed with a key the gateway did not issue, on the plain ports (DYNAMODB_PORT,
// SQS_PORT, PORT), comes from outside the functions (a test, the AWS CLI, a developer's script) and
// is not checked. One that carries a worker's invocation stamp but no key the gateway issued was
// made by a function without its credentials (an unsigned fetch, say): AWS refuses those too. So is
// any request on the TLS front without a key the gateway issued, stamp or not: only the functions'
// connections to the AWS host names reach it (egress.ts), and a raw socket there (no stamp, keys
// made up) must not pass for an outside tool.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
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

export interface IamCheck {
  /**
   * Every resource must be allowed; with `anyOf`, one is enough: the resources are names of one
   * thing (a function's local names), and an explicit Deny on any of them still denies.
   */
  (req: IncomingMessage, action: string, resources: string[], anyOf?: boolean): IamVerdict;
  /**
   * A request a front cannot read as its server would (an unknown operation, a path it does not
   * serve, a body that does not parse): refused, with a line naming the function that made it.
   * False when IAM is off (`--no-iam`): then the front passes it on as it is.
   */
  refuse(req: IncomingMessage, service: string, why: string): boolean;
}

/** True for a request that came through the TLS front: the functions' own connections to AWS host names. */
export const viaTlsFront = (req: IncomingMessage): boolean => (req.socket as TLSSocket | undefined)?.encrypted === true;

/** Who made a request, as the log names it: the function of its key or of its invocation stamp. */
const callerOf = (opts: IamCheckOptions, req: IncomingMessage): string => {
  const identity = opts.identities.get(accessKeyOf(req.headers, req.url));
  const stamp = req.headers[invocationHeader];
  const invocation = typeof stamp === 'string' ? opts.ledger.get(stamp) : undefined;
  const name = identity?.functionName ?? invocation?.functionName;
  if (name !== undefined) return `${name} (route ${invocation?.route ?? '-'})`;
  return viaTlsFront(req) ? "a function (not signed with its role's credentials, no invocation stamp)" : 'a caller from outside the functions';
};

export const createIamCheck = (opts: IamCheckOptions): IamCheck =>
  Object.assign(
    (req: IncomingMessage, action: string, resources: string[], anyOf = false): IamVerdict => {
      if (!opts.enabled) return { kind: 'allowed' };
      const identity = opts.identities.get(accessKeyOf(req.headers, req.url));
      const stamp = req.headers[invocationHeader];
      const invocation = typeof stamp === 'string' ? opts.ledger.get(stamp) : undefined;
      if (!identity) {
        if (invocation === undefined && !viaTlsFront(req)) return { kind: 'allowed' };
        const functionName = invocation?.functionName ?? 'a function (no invocation stamp)';
        opts.log.error(
          `IAM: ${functionName} (route ${invocation?.route ?? '-'}) called ${action} without the credentials of its role ` +
            '(an unsigned request, or keys of its own): AWS refuses it. Sign with the default credential chain (the SDK does).',
        );
        return { kind: 'unsigned', functionName, signed: accessKeyOf(req.headers, req.url) !== undefined };
      }
      const statements = opts.policyOf(identity.logicalId)?.statements ?? [];
      const decisions = resources.map((resource) => ({ resource, decision: decide(statements, action, resource) }));
      const refused = anyOf
        ? (decisions.find((d) => !d.decision.allowed && d.decision.explicit) ?? (decisions.some((d) => d.decision.allowed) ? undefined : decisions[0]))
        : decisions.find((d) => !d.decision.allowed);
      if (refused !== undefined && !refused.decision.allowed) {
        const { resource, decision } = refused;
        const principal = principalOf(identity, opts.accountId);
        const reason = decision.explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
        const route = invocation?.route ?? '-';
        opts.log.error(
          [
            `IAM: ${identity.functionName} (route ${route}) may not ${action} on ${resource}${decision.explicit ? ' (an explicit Deny)' : ''}.`,
            decision.explicit
              ? '  A Deny statement in its policies matches; remove or narrow it.'
              : `  Missing statement in its Policies:  - Statement: [{ Effect: Allow, Action: ${action}, Resource: ${resource} }]`,
          ].join('\n'),
        );
        return {
          kind: 'denied',
          identity,
          action,
          resource,
          explicit: decision.explicit,
          message: `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} ${reason}`,
        };
      }
      return { kind: 'allowed' };
    },
    {
      refuse: (req: IncomingMessage, service: string, why: string): boolean => {
        if (!opts.enabled) return false;
        opts.log.error(`IAM: ${callerOf(opts, req)} sent ${service} a request it cannot check (${why}): refused. ` + `${req.method ?? '?'} ${req.url ?? ''}`);
        return true;
      },
    },
  );
