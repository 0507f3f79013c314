// npm run check:boundaries: the three parts of this repository import each other only through
// package names, and each package declares what it imports.
//
//   the library   ws-outbox            src/, middleware/
//   the gateway   @ws-outbox/gateway   packages/gateway/src/, packages/gateway/bin/
//   the example   (the starter's app)  handlers/, demo/, build.mjs
//
// A relative import that leaves its part, or a bare import of a package its package.json does not
// declare, is a crossing: the code would work here (one node_modules) and break for an adopter,
// who installs the library without the example and the gateway without this repository. Prints
// one line per crossing and exits 1 when there is any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Part {
  name: string;
  /** Folders and files (relative to the root) that make up the part. */
  members: string[];
  /** The package.json whose dependencies the part's bare imports must be in. */
  manifest: string;
  /** Bare imports allowed beyond the manifest's (the package's own name, type-only packages). */
  alsoAllowed?: string[];
}

export const parts: Part[] = [
  { name: 'library', members: ['src', 'middleware'], manifest: 'package.json', alsoAllowed: ['ws-outbox', 'aws-lambda'] },
  {
    name: 'gateway',
    members: ['packages/gateway/src', 'packages/gateway/bin'],
    manifest: 'packages/gateway/package.json',
    alsoAllowed: ['@ws-outbox/gateway', 'aws-lambda'],
  },
  // The example is not published: it may use the root's devDependencies too (it is the starter's app).
  { name: 'example', members: ['handlers', 'demo', 'build.mjs'], manifest: 'package.json', alsoAllowed: ['ws-outbox', '@ws-outbox/gateway', 'aws-lambda'] },
];

/** Packages the library must never pull into an adopter's install. */
export const notInLibrary = ['dynalite', 'esbuild', 'fauxqs', 'node-forge', 'jose', 'aws-jwt-verify', 'yaml', 'ws', '@ws-outbox/gateway'];

const sourceFile = /\.(ts|mts|cts|js|mjs|cjs)$/;
// Static imports and re-exports, side-effect imports, dynamic import() with a literal, require().
const specifiers = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])([^'"\n]+)\1/g;

const filesOf = (root: string, member: string): string[] => {
  const path = join(root, member);
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(path);
  } catch {
    return [];
  }
  if (stats.isFile()) return sourceFile.test(path) ? [path] : [];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) =>
    entry.name === 'node_modules' || entry.name === 'lib' ? [] : filesOf(root, join(member, entry.name)),
  );
};

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
const packageOf = (specifier: string): string => {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
};

const stripComments = (code: string): string => code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

export interface Crossing {
  file: string;
  specifier: string;
  why: string;
}

export const findCrossings = (root: string, checked: Part[] = parts): Crossing[] => {
  const crossings: Crossing[] = [];
  const partOf = (absolute: string): Part | undefined =>
    checked.find((part) => part.members.some((m) => absolute === join(root, m) || absolute.startsWith(join(root, m) + sep)));
  for (const part of checked) {
    const manifest = JSON.parse(readFileSync(join(root, part.manifest), 'utf8'));
    const declared = new Set<string>([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
      ...(part.name === 'example' ? Object.keys(manifest.devDependencies ?? {}) : []),
      ...(part.alsoAllowed ?? []),
    ]);
    for (const file of part.members.flatMap((m) => filesOf(root, m))) {
      const code = stripComments(readFileSync(file, 'utf8'));
      for (const match of code.matchAll(specifiers)) {
        const specifier = match[2]!;
        const rel = relative(root, file);
        if (specifier.startsWith('.') || specifier.startsWith('/')) {
          const target = resolve(dirname(file), specifier);
          const owner = partOf(target);
          if (owner !== part) {
            crossings.push({ file: rel, specifier, why: `leaves the ${part.name}${owner ? ` for the ${owner.name}` : ''}: import it by package name` });
          }
        } else if (specifier.startsWith('node:') || builtinModules.includes(specifier)) {
        } else {
          const name = packageOf(specifier);
          if (part.name === 'library' && notInLibrary.includes(name)) {
            crossings.push({ file: rel, specifier, why: `the library must not depend on ${name} (an emulator, bundler, TLS or example-only package)` });
          } else if (!declared.has(name)) {
            crossings.push({ file: rel, specifier, why: `${name} is not a dependency of ${part.manifest}` });
          }
        }
      }
    }
  }
  return crossings;
};

if (import.meta.main) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const crossings = findCrossings(root);
  for (const c of crossings) console.error(`${c.file}: '${c.specifier}' ${c.why}`);
  if (crossings.length > 0) {
    console.error(`check:boundaries: ${crossings.length} import(s) across the packages' boundaries`);
    process.exit(1);
  }
  console.log('check:boundaries: no import crosses a package boundary');
}
