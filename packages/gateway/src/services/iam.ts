// IAM: every DynamoDB, SQS and @connections call of a function is checked against the policies
// its template gives it (SAM policy templates expanded as the translator does), with the
// function's own credentials telling the caller. Not a process: the fronts ask it per request.
import type { AppModel } from '../app-model.ts';
import { createIamCheck, type IamCheck } from '../iam/check.ts';
import type { Identities } from '../iam/identities.ts';
import { functionPolicy, type FunctionPolicy } from '../iam/policies.ts';
import type { InvocationLedger } from '../invocations.ts';
import type { Logger } from '../log.ts';
import type { GatewayService } from './service.ts';

export interface IamService extends GatewayService {
  check: IamCheck;
  /** Resolves every function's policy from the model (again after a reload); warns once per load for what cannot be checked. */
  load(model: AppModel): void;
}

export const createIam = (options: { enabled: boolean; identities: Identities; accountId: string; ledger: InvocationLedger; log: Logger }): IamService => {
  let policies = new Map<string, FunctionPolicy>();
  const load = (model: AppModel) => {
    policies = new Map([...model.functions.values()].map((fn) => [fn.logicalId, functionPolicy(fn, model.template, model.refs)]));
    if (!options.enabled) return;
    for (const [id, policy] of policies) for (const line of policy.unknown) options.log.warn(`IAM: ${id}: ${line}`);
  };
  return {
    name: 'IAM',
    check: createIamCheck({ ...options, policyOf: (id) => policies.get(id) }),
    load,
    reload: (next) => load(next),
    stop: async () => {},
  };
};
