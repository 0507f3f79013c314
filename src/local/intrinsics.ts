// Resolves CloudFormation intrinsics to the values they take in the local gateway: `!Ref` on a
// table gives its local table name, `!Ref AWS::Region` the local region, `!GetAtt X.Arn` a fake
// but well-formed ARN, `!Sub` and `!Join` strings built from those. Anything that cannot be
// resolved locally becomes `undefined` so the caller can say which variable it dropped.

export interface ResolveContext {
  region: string;
  accountId: string;
  /** Logical id → what `!Ref` on it yields locally (table names, parameter values, api id…). */
  refs: Record<string, string>;
  /** Logical id → resource type, to build `!GetAtt X.Arn`. */
  types: Record<string, string>;
}

const pseudo = (name: string, ctx: ResolveContext): string | undefined => ({
  'AWS::Region': ctx.region,
  'AWS::AccountId': ctx.accountId,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'local',
  'AWS::StackId': `arn:aws:cloudformation:${ctx.region}:${ctx.accountId}:stack/local/00000000-0000-0000-0000-000000000000`,
  'AWS::NoValue': undefined,
} as Record<string, string | undefined>)[name];

const arnOf = (logicalId: string, ctx: ResolveContext): string => {
  const type = ctx.types[logicalId] ?? '';
  const name = ctx.refs[logicalId] ?? logicalId;
  if (type.includes('DynamoDB') || type === 'AWS::Serverless::SimpleTable') return `arn:aws:dynamodb:${ctx.region}:${ctx.accountId}:table/${name}`;
  if (type.includes('Function')) return `arn:aws:lambda:${ctx.region}:${ctx.accountId}:function:${name}`;
  return `arn:aws:local:${ctx.region}:${ctx.accountId}:${name}`;
};

const ref = (name: string, ctx: ResolveContext): string | undefined =>
  name.startsWith('AWS::') ? pseudo(name, ctx) : ctx.refs[name];

const getAtt = (target: unknown, ctx: ResolveContext): string | undefined => {
  const [id, attr] = Array.isArray(target) ? target : String(target).split('.');
  if (typeof id !== 'string') return undefined;
  if (attr === 'Arn') return arnOf(id, ctx);
  if (attr === 'StreamArn') return `${arnOf(id, ctx)}/stream/local`;
  return undefined;
};

const sub = (spec: unknown, ctx: ResolveContext): string | undefined => {
  const [text, vars] = Array.isArray(spec) ? spec : [spec, {}];
  if (typeof text !== 'string') return undefined;
  let missing = false;
  const out = text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
    const local = (vars as Record<string, unknown>)[name];
    const value = local !== undefined ? resolveValue(local, ctx)
      : name.includes('.') ? getAtt(name, ctx) : ref(name, ctx);
    if (value === undefined) missing = true;
    return String(value ?? '');
  });
  return missing ? undefined : out;
};

/** Resolves a template value to a string (environment variables are strings on Lambda). */
export const resolveValue = (value: unknown, ctx: ResolveContext): string | undefined => {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  const [key, arg] = Object.entries(value)[0] ?? [];
  switch (key) {
    case 'Ref': return ref(String(arg), ctx);
    case 'Fn::GetAtt': return getAtt(arg, ctx);
    case 'Fn::Sub': return sub(arg, ctx);
    case 'Fn::Join': {
      const [sep, parts] = arg as [string, unknown[]];
      const resolved = (parts ?? []).map((p) => resolveValue(p, ctx));
      return resolved.includes(undefined) ? undefined : resolved.join(sep);
    }
    case 'Fn::Select': {
      const [index, list] = arg as [unknown, unknown[]];
      return Array.isArray(list) ? resolveValue(list[Number(index)], ctx) : undefined;
    }
    default: return undefined;
  }
};

/** Every logical id that a value refers to, through `Ref`, `GetAtt` or `${…}` in `Sub`. */
export const referencedIds = (value: unknown, found = new Set<string>()): Set<string> => {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}/g)) found.add(m[1]!);
  } else if (Array.isArray(value)) {
    value.forEach((v) => referencedIds(v, found));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, arg] of Object.entries(value)) {
      if (key === 'Ref' && typeof arg === 'string') found.add(arg);
      else if (key === 'Fn::GetAtt') found.add(Array.isArray(arg) ? String(arg[0]) : String(arg).split('.')[0]!);
      else referencedIds(arg, found);
    }
  }
  return found;
};
