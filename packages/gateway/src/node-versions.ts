// Which Node runs a function: the major of its Runtime (nodejs20.x → Node 20), as Lambda does,
// when such a Node is installed; else the gateway's own, with one warning per missing major.
// Looked for, in order:
//   1. WS_OUTBOX_NODE_<major> (a path to a node binary);
//   2. the npm package of that Node installed under an alias, `npm i -D node22@npm:node@22`
//      (node_modules/node22/bin/node), from the template's folder upwards, then the gateway's;
//   3. `node<major>` or `node` on PATH, when its version has that major;
//   4. nvm's versions (~/.nvm/versions/node/v<major>.*), newest first.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NodeChoice {
  /** The node binary to fork the function's workers with. */
  execPath: string;
  /** Its major version. */
  major: number;
  /** False when the Runtime's major was not found and the gateway's own Node stands in. */
  matches: boolean;
}

/** The Node major a Runtime names (`nodejs22.x` → 22); undefined for anything else. */
export const majorOfRuntime = (runtime: string): number | undefined => {
  const major = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  return major === undefined ? undefined : Number(major);
};

const versionOf = (binary: string): number | undefined => {
  try {
    const text = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    const major = /^v(\d+)\./.exec(text.trim())?.[1];
    return major === undefined ? undefined : Number(major);
  } catch {
    return undefined;
  }
};

const upwards = (start: string): string[] => {
  const folders: string[] = [];
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    folders.push(dir);
    if (dirname(dir) === dir) return folders;
  }
};

const candidates = (major: number, from: string[]): string[] => {
  const env = process.env[`WS_OUTBOX_NODE_${major}`];
  const aliased = from.flatMap(upwards).map((dir) => join(dir, 'node_modules', `node${major}`, 'bin', 'node'));
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .flatMap((dir) => [join(dir, `node${major}`), join(dir, 'node')]);
  const nvmRoot = join(process.env.NVM_DIR ?? join(homedir(), '.nvm'), 'versions', 'node');
  const nvm = existsSync(nvmRoot)
    ? readdirSync(nvmRoot)
        .filter((v) => v.startsWith(`v${major}.`))
        .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
        .map((v) => join(nvmRoot, v, 'bin', 'node'))
    : [];
  return [...(env ? [env] : []), ...aliased, ...onPath, ...nvm];
};

const cache = new Map<string, NodeChoice>();

/**
 * The Node for a Runtime. `from` are folders to look for aliased node packages in (the template's
 * folder; the gateway's own is always added). Results are cached per major and folders.
 */
export const nodeForRuntime = (runtime: string, from: string[] = []): NodeChoice => {
  const own = Number(process.versions.node.split('.')[0]);
  const major = majorOfRuntime(runtime);
  if (major === undefined || major === own) return { execPath: process.execPath, major: own, matches: major === own };
  const key = `${major}\0${from.join('\0')}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const gatewayFolder = dirname(fileURLToPath(import.meta.url));
  const found = [...new Set(candidates(major, [...from, gatewayFolder]))].find((binary) => existsSync(binary) && versionOf(binary) === major);
  const choice = found === undefined ? { execPath: process.execPath, major: own, matches: false } : { execPath: found, major, matches: true };
  cache.set(key, choice);
  return choice;
};

/** The warning for a Runtime whose Node is not installed (printed once per major). */
export const missingNodeWarning = (runtime: string, own: number): string => {
  const major = majorOfRuntime(runtime)!;
  return (
    `${runtime}: no Node ${major} found, so its functions run on Node ${own}. Install one to run them as Lambda does: ` +
    `npm i -D node${major}@npm:node@${major} (or set WS_OUTBOX_NODE_${major} to a node binary).`
  );
};
