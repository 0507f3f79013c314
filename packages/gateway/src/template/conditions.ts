// CloudFormation's Conditions: Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition, evaluated from
// the refs as they stand locally.
import { resolveIntrinsics } from './intrinsics.ts';

export const evaluateCondition = (name: string, conditions: Record<string, unknown>, refs: Record<string, string>, path: string[]): boolean => {
  if (path.includes(name)) throw new Error(`Condition ${name} refers to itself (${[...path, name].join(' → ')})`);
  if (!(name in conditions)) throw new Error(`Condition ${name} is not defined in Conditions`);
  const evaluate = (expression: unknown, at: string): boolean => {
    const [key, arg] = Object.entries((expression ?? {}) as Record<string, unknown>)[0] ?? [];
    const list = Array.isArray(arg) ? arg : [];
    if (key === 'Condition') return evaluateCondition(String(arg), conditions, refs, [...path, name]);
    if (key === 'Fn::Equals') {
      const [a, b] = list.map((v, i) => String(resolveIntrinsics(v, refs, `${at}.Fn::Equals[${i}]`)));
      return a === b;
    }
    if (key === 'Fn::Not') return !evaluate(list[0], `${at}.Fn::Not`);
    if (key === 'Fn::And') return list.every((c, i) => evaluate(c, `${at}.Fn::And[${i}]`));
    if (key === 'Fn::Or') return list.some((c, i) => evaluate(c, `${at}.Fn::Or[${i}]`));
    throw new Error(`Cannot evaluate ${key ?? JSON.stringify(expression)} at ${at} (supported: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)`);
  };
  return evaluate(conditions[name], `Conditions.${name}`);
};
