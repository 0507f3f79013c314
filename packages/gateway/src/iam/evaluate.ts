// IAM's decision for one request, from identity-based statements: an explicit Deny wins, then any
// Allow, else the implicit deny. Actions match case-insensitively, resources case-sensitively,
// both with `*` and `?` wildcards. Conditions are not evaluated (see policies.ts).
import type { Statement } from './policies.ts';

export type Decision = { allowed: true } | { allowed: false; explicit: boolean };

const patterns = new Map<string, RegExp>();
const wildcard = (pattern: string, flags: string): RegExp => {
  const key = `${flags}:${pattern}`;
  let re = patterns.get(key);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      flags,
    );
    patterns.set(key, re);
  }
  return re;
};

const matchesAny = (list: string[] | undefined, value: string, flags: string): boolean => (list ?? []).some((p) => wildcard(p, flags).test(value));

const applies = (s: Statement, action: string, resource: string): boolean => {
  const actionOk = s.Action !== undefined ? matchesAny(s.Action, action, 'is') : s.NotAction !== undefined && !matchesAny(s.NotAction, action, 'is');
  const resourceOk =
    s.Resource !== undefined ? matchesAny(s.Resource, resource, 's') : s.NotResource !== undefined && !matchesAny(s.NotResource, resource, 's');
  return actionOk && resourceOk;
};

export const decide = (statements: Statement[], action: string, resource: string): Decision => {
  if (statements.some((s) => s.Effect === 'Deny' && applies(s, action, resource))) return { allowed: false, explicit: true };
  if (statements.some((s) => s.Effect === 'Allow' && applies(s, action, resource))) return { allowed: true };
  return { allowed: false, explicit: false };
};
