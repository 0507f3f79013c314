// Options schemas. Every options type (the outbox's, the fan-out worker's, the rate limit's, the
// local gateway's) is a `defaults` object plus a schema, checked once when the middleware or
// handler is built, so a bad value is a clear TypeError naming the option at cold start, never a
// hang at the first send. A schema can be derived from another (pickRules), which is how the
// fan-out worker's delivery options stay the outbox's.
//
// Hand-written rather than a validation library: it is ~60 lines, runs once per cold start, and
// keeps every function bundle free of a dependency (the cold start is measured by the bench).

export type Rule =
  | { type: 'number'; min?: number; integer?: boolean }
  | { type: 'string'; pattern?: RegExp; expected?: string }
  | { type: 'boolean' }
  | { type: 'function' }
  /** An object: with `fields`, each checked (and no others); without, any object. */
  | { type: 'object'; fields?: Schema }
  /** Exactly one of these values. */
  | { type: 'literal'; values: readonly unknown[] }
  /** The first rule that accepts the value wins; `expected` says what was wanted. */
  | { type: 'anyOf'; rules: readonly Rule[]; expected: string }
  /** Not checked (an instance a user builds: a store, a logger). */
  | { type: 'any' };

export type Schema = Readonly<Record<string, Rule>>;

const show = (value: unknown): string => (typeof value === 'function' ? 'a function' : typeof value === 'string' ? value : String(value));

/** The reason `value` breaks `rule`, or undefined when it does not. */
const breaks = (rule: Rule, value: unknown, path: string, prefix: string): string | undefined => {
  switch (rule.type) {
    case 'number': {
      const min = rule.min ?? 0;
      const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && (!rule.integer || Number.isInteger(value));
      return ok ? undefined : `${prefix} ${path} must be ${rule.integer ? 'an integer' : 'a finite number'} >= ${min}; got ${show(value)}`;
    }
    case 'string':
      return typeof value === 'string' && (rule.pattern === undefined || rule.pattern.test(value))
        ? undefined
        : `${prefix} ${path} must be ${rule.expected ?? 'a string'}; got ${show(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `${prefix} ${path} must be true or false; got ${show(value)}`;
    case 'function':
      return typeof value === 'function' ? undefined : `${prefix} ${path} must be a function; got ${show(value)}`;
    case 'literal':
      return rule.values.includes(value)
        ? undefined
        : `${prefix} ${path} must be one of ${rule.values.map((v) => JSON.stringify(v)).join(', ')}; got ${show(value)}`;
    case 'anyOf': {
      const reasons = rule.rules.map((r) => breaks(r, value, path, prefix));
      if (reasons.includes(undefined)) return undefined;
      // An object that fails the one object rule: its field's reason says more than the list.
      const objectRules = rule.rules.flatMap((r, i) => (r.type === 'object' && r.fields ? [i] : []));
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && objectRules.length === 1) return reasons[objectRules[0]!];
      return `${prefix} ${path} must be ${rule.expected}`;
    }
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${prefix} ${path} must be an object; got ${show(value)}`;
      return rule.fields === undefined ? undefined : firstBreak(rule.fields, value as Record<string, unknown>, `${path}.`, prefix);
    case 'any':
      return undefined;
  }
};

const firstBreak = (schema: Schema, options: Record<string, unknown>, at: string, prefix: string): string | undefined => {
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(schema, key))
      return `${prefix}: unknown option ${at}${key} (known: ${Object.keys(schema)
        .map((k) => at + k)
        .join(', ')})`;
  }
  for (const [key, rule] of Object.entries(schema)) {
    const value = options[key];
    // Absent and undefined options keep their defaults (withDefaults), so they are not checked here.
    if (value === undefined) continue;
    const why = breaks(rule, value, `${at}${key}`, prefix);
    if (why !== undefined) return why;
  }
  return undefined;
};

/**
 * Checks `options` (merged over their defaults) against `schema`; throws a TypeError naming the
 * first option that breaks it, or an option the schema does not know (a typo would otherwise
 * be ignored silently). `prefix` names the owner: `outbox concurrency must be …`.
 */
export const checkOptions = (prefix: string, schema: Schema, options: object): void => {
  const why = firstBreak(schema, options as Record<string, unknown>, '', prefix);
  if (why !== undefined) throw new TypeError(why);
};

/** The rules of `keys` from `schema`: for an options type that shares some of another's. */
export const pickRules = <K extends string>(schema: Schema, keys: readonly K[]): Record<K, Rule> =>
  Object.fromEntries(
    keys.map((key) => {
      const rule = schema[key];
      if (rule === undefined) throw new Error(`pickRules: the schema has no ${key}`);
      return [key, rule];
    }),
  ) as Record<K, Rule>;
