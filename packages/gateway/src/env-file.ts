// `--env-vars env.json` as `sam local invoke` reads it: `{"Parameters": {...}}` for every
// function, `{"<LogicalId>": {...}}` for one (it wins), and only for variables the template
// declares. Docker's `host.docker.internal` becomes 127.0.0.1, since no container runs here.
import { readFileSync } from 'node:fs';

export interface EnvOverrides {
  environment: Record<string, string>;
  /** Variables in env.json that the template does not declare (SAM ignores them too). */
  ignored: string[];
  /** Variables whose host.docker.internal was rewritten. */
  rewritten: string[];
  applied: string[];
}

export const readEnvFile = (path: string): Record<string, Record<string, unknown>> => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read ${path} as JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${path} must be an object like {"Parameters": {"NAME": "value"}} or {"FunctionLogicalId": {...}}`);
  }
  return parsed as Record<string, Record<string, unknown>>;
};

export const applyEnvOverrides = (logicalId: string, declared: Record<string, string>, file: Record<string, Record<string, unknown>>): EnvOverrides => {
  const overrides = { ...(file.Parameters ?? {}), ...(file[logicalId] ?? {}) };
  const environment = { ...declared };
  const ignored: string[] = [];
  const rewritten: string[] = [];
  const applied: string[] = [];
  for (const [name, raw] of Object.entries(overrides)) {
    if (!(name in declared)) {
      ignored.push(name);
      continue;
    }
    let value = String(raw);
    if (value.includes('host.docker.internal')) {
      value = value.replaceAll('host.docker.internal', '127.0.0.1');
      rewritten.push(name);
    }
    environment[name] = value;
    applied.push(name);
  }
  return { environment, ignored, rewritten, applied };
};
