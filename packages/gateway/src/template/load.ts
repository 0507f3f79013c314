// Reads a template file (YAML or JSON) into plain data, and remembers the folder it came from.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Resource, Template } from './types.ts';
import { cfnTags } from './yaml-tags.ts';

// The folder each loaded template came from, so functionsOf can resolve entries without the
// caller passing the path again. A WeakMap keeps the template a plain object.
const origins = new WeakMap<object, string>();

/** SAM CLI's template names, in the order it looks for them when no --template is given. */
export const samTemplateNames = ['template.yaml', 'template.yml', 'template.json'] as const;

/**
 * The template SAM CLI reads in `dir` without --template: the first of its names that exists
 * (template.yaml when none does, so that the error names the usual one).
 */
export const defaultTemplateFile = (dir: string = process.cwd()): string => samTemplateNames.find((name) => existsSync(join(dir, name))) ?? 'template.yaml';

/** Parses template text (YAML or JSON). `source` names it in errors. */
export const parseTemplate = (text: string, source = 'template'): Template => {
  let doc: unknown;
  try {
    doc = parse(text, { customTags: cfnTags });
  } catch (error) {
    throw new Error(`${source} is not valid YAML: ${(error as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error(`${source} is not a CloudFormation template (expected a mapping at the top level)`);
  }
  const resources = (doc as Template).Resources;
  if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) {
    throw new Error(`${source} is not a CloudFormation template: it has no Resources mapping`);
  }
  return doc as Template;
};

/** Reads and parses a template file. Synchronous: it is small, and callers may be CLIs. */
export const loadTemplate = (path: string): Template => {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `No template at ${absolute}: ws-outbox reads a SAM template (template.yaml, template.yml or template.json in the working folder by default, as SAM CLI does; pass --template <file> for another)`,
      );
    }
    throw new Error(`Cannot read the template ${absolute}: ${(error as Error).message}`);
  }
  const template = parseTemplate(text, absolute);
  origins.set(template, dirname(absolute));
  return template;
};

/** The folder relative paths in the template resolve from (the loaded file's folder, else cwd). */
export const templateRoot = (template: Template): string => origins.get(template) ?? process.cwd();

export const resourcesOfType = (template: Template, ...types: string[]): Array<[string, Resource]> =>
  Object.entries(template.Resources).filter(([, r]) => r !== null && typeof r === 'object' && types.includes(r.Type));
