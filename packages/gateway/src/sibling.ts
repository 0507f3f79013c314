// The gateway forks its function workers (runtime) and a watchdog from files beside this module.
// In this repository they are the .ts sources, which Node 24 runs directly; in the installed
// package they are the compiled .js files (Node refuses to strip types under node_modules). A
// module's own extension says which.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The absolute path of `./<name>` beside the module at `moduleUrl`, with that module's extension. */
export const siblingModule = (name: string, moduleUrl: string): string => {
  const path = fileURLToPath(moduleUrl);
  return fileURLToPath(new URL(`./${name}${extname(path)}`, moduleUrl));
};

/** Whether `path` is TypeScript, which only a Node with type stripping (24) can run. */
export const isTypeScript = (path: string): boolean => /\.m?ts$/.test(path);
