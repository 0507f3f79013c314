// The names a template's intrinsics resolve to locally: pseudo parameters, parameter defaults,
// overrides, and the template's conditions, evaluated once.
import { conditionPrefix } from './intrinsics.ts';
import { evaluateCondition } from './conditions.ts';
import type { Template } from './types.ts';

/** Pseudo parameters as a local run sees them. */
export const pseudoParameters: Readonly<Record<string, string>> = {
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'ws-outbox-local',
};

/**
 * The names `!Ref`, `${…}` and `!GetAtt` resolve to locally: pseudo parameters, the template's
 * parameter defaults, then `overrides` (e.g. `{ Table: 'ws-outbox-local', Stage: 'local',
 * 'AWS::Region': 'eu-west-1', 'Table.Arn': 'arn:…' }`). A GetAtt is looked up as `Id.Attr`.
 */
export const localRefs = (template: Template, overrides: Record<string, string> = {}): Record<string, string> => {
  const refs: Record<string, string> = { ...pseudoParameters };
  // A resource with no local stand-in (a Cognito user pool, say) is referred to by its logical id.
  for (const id of Object.keys(template.Resources)) refs[id] = id;
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    if (parameter?.Default !== undefined) refs[name] = String(parameter.Default);
  }
  const resolved = { ...refs, ...overrides };
  // Conditions are evaluated once, from the parameters as they stand locally, and kept beside
  // them (as `Condition::<name>`), so Fn::If resolves with the refs alone.
  for (const name of Object.keys(template.Conditions ?? {})) {
    resolved[`${conditionPrefix}${name}`] = String(evaluateCondition(name, template.Conditions!, resolved, []));
  }
  return resolved;
};
