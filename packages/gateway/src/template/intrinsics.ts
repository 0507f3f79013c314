// CloudFormation's intrinsic functions, resolved with local values (see refs.ts).
import type { FunctionSpec } from './types.ts';

export const conditionPrefix = 'Condition::';

const lookup = (name: string, refs: Record<string, string>, at: string): string => {
  const value = refs[name];
  if (value === undefined) throw new Error(`Cannot resolve ${name} at ${at}: pass it in refs (e.g. { ${JSON.stringify(name)}: '…' })`);
  return value;
};

// What `!Ref AWS::NoValue` resolves to: the property (or list item) is dropped.
const noValue = Symbol('AWS::NoValue');

/**
 * Replaces Ref, Fn::Sub (string or [string, vars]), Fn::GetAtt, Fn::Join and Fn::If in `value`
 * using `refs` (see localRefs, which also holds the template's conditions). Anything else it meets
 * is an error naming where: locally there is no CloudFormation to evaluate imports.
 */
export const resolveIntrinsics = (value: unknown, refs: Record<string, string>, at = '$'): any => {
  const resolved = resolveValue(value, refs, at);
  return resolved === noValue ? undefined : resolved;
};

const resolveValue = (value: unknown, refs: Record<string, string>, at: string): any => {
  if (Array.isArray(value)) return value.map((v, i) => resolveValue(v, refs, `${at}[${i}]`)).filter((v) => v !== noValue);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key === 'Ref' && arg === 'AWS::NoValue') return noValue;
  if (entries.length === 1 && key === 'Ref') return lookup(String(arg), refs, at);
  if (entries.length === 1 && key === 'Fn::If') {
    const [condition, whenTrue, whenFalse] = Array.isArray(arg) ? arg : [];
    const holds = refs[`${conditionPrefix}${String(condition)}`];
    if (holds === undefined) throw new Error(`Fn::If at ${at} names condition ${String(condition)}, which the template's Conditions do not define`);
    return resolveValue(holds === 'true' ? whenTrue : whenFalse, refs, `${at}.Fn::If`);
  }
  if (entries.length === 1 && key === 'Fn::GetAtt') {
    const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
    return lookup(`${id}.${attr}`, refs, at);
  }
  if (entries.length === 1 && key === 'Fn::Sub') {
    const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
    if (typeof text !== 'string') throw new Error(`Fn::Sub at ${at} needs a string`);
    const local = resolveIntrinsics(vars ?? {}, refs, `${at}.Fn::Sub[1]`) as Record<string, string>;
    // ${!Literal} is CloudFormation's escape for a literal ${Literal}.
    return text.replace(/\$\{(!?)([^}]+)\}/g, (_, bang: string, name: string) => (bang ? `\${${name}}` : (local[name] ?? lookup(name, refs, at))));
  }
  if (entries.length === 1 && key === 'Fn::Join') {
    const [separator, parts] = arg as [string, unknown[]];
    return (resolveIntrinsics(parts, refs, `${at}.Fn::Join`) as unknown[]).join(separator);
  }
  if (entries.length === 1 && key !== undefined && (key.startsWith('Fn::') || key === 'Condition')) {
    throw new Error(`Cannot resolve ${key} at ${at} locally (supported: Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::If)`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveValue(v, refs, `${at}.${k}`)]).filter(([, v]) => v !== noValue));
};

/** A function's environment as Lambda would see it: every value resolved and a string. */
export const resolveEnvironment = (fn: FunctionSpec, refs: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(fn.environment)
      .map(([name, value]) => [name, resolveIntrinsics(value, refs, `${fn.logicalId}.Environment.Variables.${name}`)])
      // `!Ref AWS::NoValue` (through Fn::If) leaves the variable unset, as CloudFormation does.
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [name, String(value)]),
  );
