// Lambda's python3.x rules for where a Handler's code is, for the template, the code preparation
// and the pool (the worker, bootstrap.py, imports it): `Handler: pkg/sub.module.func` is the
// function `func` of the module `pkg.sub.module` (slashes become dots), imported with the task root
// first on sys.path, so its file is `<task root>/pkg/sub/module.py` or the package
// `<task root>/pkg/sub/module/__init__.py`.
import { statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

/** Whether a Runtime is one of Lambda's Python runtimes (`python3.12`). */
export const isPythonRuntime = (runtime: string | undefined): boolean => /^python3\.\d+$/.test(runtime ?? '');

/** The module a Handler names, as Python imports it: `pkg/sub.module.func` → `pkg.sub.module`. */
export const pythonModuleOf = (handler: string): string => {
  const at = handler.lastIndexOf('.');
  return (at < 0 ? handler : handler.slice(0, at)).replaceAll('/', '.');
};

/** The files a Handler's module may be, relative to the task root, in the order Python finds them. */
export const pythonModuleFiles = (handler: string): string[] => {
  const path = pythonModuleOf(handler).split('.').join(sep);
  return [`${path}.py`, join(path, '__init__.py')];
};

const isFile = (path: string): boolean => statSync(path, { throwIfNoEntry: false })?.isFile() === true;

/** The file of a Handler's module under `taskRoot`; undefined when there is none. */
export const pythonHandlerFile = (taskRoot: string, handler: string): string | undefined =>
  pythonModuleFiles(handler)
    .map((file) => resolve(taskRoot, file))
    .find(isFile);

/** The task root, from the module's file and the Handler (`<root>/pkg/sub/module.py` → `<root>`). */
export const pythonTaskRoot = (codeFile: string, handler: string): string => {
  const file = resolve(codeFile);
  for (const relative of pythonModuleFiles(handler)) {
    if (file.endsWith(`${sep}${relative}`)) return file.slice(0, file.length - relative.length - 1) || sep;
  }
  return resolve(codeFile, '..');
};
