// A function's permissions as IAM would hold them, from its template: `Policies` (inline
// statements, SAM policy templates, managed policy names) or the `Role` it names (that role's
// inline policies, managed policy ARNs, and AWS::IAM::Policy resources attached to it), with every
// Ref, Sub and GetAtt resolved to local values. What cannot be known locally is named once in
// `unknown` (a managed policy not in managed-policies.ts, an unknown policy template, a
// statement whose intrinsics do not resolve) and grants nothing.
import type { FunctionModel } from '../app-model.ts';
import { resolveIntrinsics, type Template } from '../template.ts';
import { managedPolicy } from './managed-policies.ts';
import { expandPolicyTemplate } from './sam-policy-templates.ts';

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string[];
  NotAction?: string[];
  Resource?: string[];
  NotResource?: string[];
  /** Kept to say that it is not evaluated. */
  Condition?: unknown;
}

export interface FunctionPolicy {
  statements: Statement[];
  /** What could not be read, one line each, for a warning. */
  unknown: string[];
}

const list = (value: unknown): string[] | undefined => (value === undefined ? undefined : (Array.isArray(value) ? value : [value]).map(String));

const normalize = (raw: unknown): Statement | undefined => {
  if (raw === null || typeof raw !== 'object') return undefined;
  const s = raw as Record<string, unknown>;
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') return undefined;
  return {
    ...(typeof s.Sid === 'string' ? { Sid: s.Sid } : {}),
    Effect: s.Effect,
    Action: list(s.Action),
    NotAction: list(s.NotAction),
    Resource: list(s.Resource),
    NotResource: list(s.NotResource),
    ...(s.Condition !== undefined ? { Condition: s.Condition } : {}),
  };
};

const statementsOfDocument = (document: unknown): unknown[] => {
  const statement = (document as { Statement?: unknown } | null)?.Statement;
  return statement === undefined ? [] : Array.isArray(statement) ? statement : [statement];
};

/** The logical id a `Role` value points at (`!GetAtt R.Arn`, `!Ref R`, `!Sub ${R.Arn}`), if it is a role of the template. */
const roleId = (template: Template, role: unknown): string | undefined => {
  const text = JSON.stringify(role ?? '');
  const id = /"Fn::GetAtt":\["([A-Za-z0-9]+)"|"Ref":"([A-Za-z0-9]+)"|\$\{([A-Za-z0-9]+)\.Arn\}/.exec(text)?.slice(1).find(Boolean);
  return id !== undefined && template.Resources[id]?.Type === 'AWS::IAM::Role' ? id : undefined;
};

/** Everything attached to the role: inline policies, managed ARNs, AWS::IAM::Policy and ManagedPolicy resources that name it. */
const roleEntries = (template: Template, id: string): unknown[] => {
  const p = template.Resources[id]!.Properties ?? {};
  const attached = Object.values(template.Resources)
    .filter(
      (r) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && JSON.stringify(r.Properties?.Roles ?? []).includes(`"Ref":"${id}"`),
    )
    .map((r) => r.Properties?.PolicyDocument);
  return [
    ...((p.Policies ?? []) as Array<{ PolicyDocument?: unknown }>).map((policy) => policy?.PolicyDocument),
    ...attached,
    ...((p.ManagedPolicyArns ?? []) as unknown[]),
  ];
};

/** The function's statements, resolved. `refs` are the model's (AppModel.refs). */
export const functionPolicy = (fn: FunctionModel, template: Template, refs: Record<string, string>): FunctionPolicy =>
  policyOf(template, refs, fn.spec.role, fn.spec.policies, fn.logicalId);

/**
 * The statements of a role the template names (an integration's CredentialsArn: `!GetAtt R.Arn`,
 * `!Sub ${R.Arn}`), with the role's logical id; undefined when it is not a role of this template.
 */
export const rolePolicy = (template: Template, role: unknown, refs: Record<string, string>): (FunctionPolicy & { roleId: string }) | undefined => {
  const id = roleId(template, role);
  return id === undefined ? undefined : { ...policyOf(template, refs, role, [], id), roleId: id };
};

const policyOf = (template: Template, refs: Record<string, string>, roleWritten: unknown, policies: unknown[], at: string): FunctionPolicy => {
  const unknown: string[] = [];
  const raw: unknown[] = [];
  const role = roleWritten === undefined ? undefined : roleId(template, roleWritten);
  if (roleWritten !== undefined && role === undefined) unknown.push(`Role ${JSON.stringify(roleWritten)} is not an AWS::IAM::Role of this template`);
  const entries = role !== undefined ? roleEntries(template, role) : policies;
  for (const entry of entries) {
    const intrinsic = entry !== null && typeof entry === 'object' && Object.keys(entry).length === 1 && /^(Ref|Fn::\w+)$/.test(Object.keys(entry)[0]!);
    if (typeof entry === 'string' || intrinsic) {
      // A managed policy: by name or ARN (written with any intrinsic: Sub, Join, If…), or a template resource.
      let name: string;
      try {
        name = String(resolveIntrinsics(entry, refs));
      } catch {
        unknown.push(`policy ${JSON.stringify(entry)} does not resolve`);
        continue;
      }
      const resource = template.Resources[name];
      const statements = resource?.Type === 'AWS::IAM::ManagedPolicy' ? statementsOfDocument(resource.Properties?.PolicyDocument) : managedPolicy(name);
      if (statements === undefined) unknown.push(`managed policy ${name} (not known locally: it grants nothing here)`);
      else raw.push(...statements);
    } else if (entry !== null && typeof entry === 'object' && 'Statement' in entry) {
      raw.push(...statementsOfDocument(entry));
    } else if (entry !== null && typeof entry === 'object' && Object.keys(entry).length === 1) {
      const [name, parameters] = Object.entries(entry)[0]!;
      const expanded = expandPolicyTemplate(name, (parameters ?? {}) as Record<string, unknown>);
      if (expanded === undefined) unknown.push(`SAM policy template ${name} (not known locally: it grants nothing here)`);
      else raw.push(...expanded);
    } else {
      unknown.push(`policy ${JSON.stringify(entry)} is not a statement list, a SAM policy template or a managed policy`);
    }
  }
  const statements: Statement[] = [];
  for (const s of raw) {
    let resolved: unknown;
    try {
      resolved = resolveIntrinsics(s, refs, `${at}.Policies`);
    } catch (error) {
      unknown.push(`a statement does not resolve locally: ${(error as Error).message}`);
      continue;
    }
    const statement = normalize(resolved);
    if (statement) statements.push(statement);
    else unknown.push(`statement ${JSON.stringify(s)} has no Effect Allow or Deny`);
  }
  if (statements.some((s) => s.Condition !== undefined))
    unknown.push('statements with a Condition are applied without it (conditions are not evaluated locally)');
  return { statements, unknown };
};
