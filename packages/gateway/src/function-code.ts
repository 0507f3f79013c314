// What each function runs locally: the code the template deploys, made the way `sam build` makes
// it, and nothing more. Per function, by its Metadata:
//   - this project's own build (Metadata.BuildEntry, or handlers/<CodeUri's last folder>, which
//     the Makefile hands to `ws-outbox build`): the ESM bundle of build.ts;
//   - `BuildMethod: esbuild`: esbuild with SAM's options (BuildProperties: Format, Target, Minify,
//     Sourcemap, External, Loader, MainFields, OutExtension, Banner, EntryPoints);
//   - `BuildMethod: makefile`: `make build-<LogicalId>` with ARTIFACTS_DIR, as sam build runs it;
//   - InlineCode (CloudFormation's Code.ZipFile): written as CloudFormation deploys it for Node, a
//     file named index.js at the task root (so the Handler must be index.<name>), loaded by Node's
//     own loader as any .js there: CommonJS, or an ES module when its syntax says so (index.py
//     for a python3.x function);
//   - no build: the CodeUri folder as it is, loaded in place by Node's own loader. When its
//     package.json names dependencies that cannot be found, they are installed (npm install
//     --omit=dev, as sam build does) into a cache folder the worker resolves them from.
//   - a python3.x function: its CodeUri as it is (or a makefile build), imported in place by
//     python/bootstrap.py; its requirements.txt is the user's to install (see the bootstrap's hint).
// Every function is prepared, and every failure is listed in one error.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { build, BuildError, type BuiltFunction } from './build.ts';
import { handlerFile } from './handler-loader.ts';
import { isPythonRuntime, pythonHandlerFile, pythonModuleFiles } from './python/handler.ts';
import { functionsOf, loadTemplate, type FunctionSpec } from './template.ts';

const run = promisify(execFile);

export interface CodeOptions {
  template: string;
  /** Where builds go: `<outdir>/<LogicalId>/` (default: each function's CodeUri, for the project's own bundles). */
  outdir?: string;
  /** Logical ids; all when empty. */
  functions?: string[];
  /** Progress lines (npm installs, make runs). */
  say?: (line: string) => void;
}

/** How a function's code is made (see the top of this file). */
export type CodeKind = 'inline' | 'ws-outbox' | 'esbuild' | 'makefile' | 'as-is';

export const codeKindOf = (fn: FunctionSpec): CodeKind => {
  if (fn.inlineCode !== undefined) return 'inline';
  // Python: the code as it is (sam build's pip install of requirements.txt is the user's to run).
  if (isPythonRuntime(fn.runtime)) return fn.metadata.BuildMethod === 'makefile' ? 'makefile' : 'as-is';
  if (fn.ownBuild) return 'ws-outbox';
  if (fn.metadata.BuildMethod === 'esbuild') return 'esbuild';
  if (fn.metadata.BuildMethod === 'makefile') return 'makefile';
  return 'as-is';
};

const shown = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
};

/** A prepared function as the gateway's pools take it: `outfile` is the Handler's module file, in its task root. */
const prepared = (fn: FunctionSpec, taskRoot: string, sources: string[], extra: Partial<BuiltFunction> = {}): BuiltFunction => {
  const python = isPythonRuntime(fn.runtime);
  const file = python ? pythonHandlerFile(taskRoot, fn.handler) : handlerFile(taskRoot, fn.handler);
  if (file === undefined) {
    const lookedFor = python ? pythonModuleFiles(fn.handler).join(', ') : `${fn.handlerModule}, .js, .mjs, .cjs`;
    throw new BuildError(
      `${fn.logicalId}: no handler file for Handler ${fn.handler} in ${shown(taskRoot)}: looked for ${lookedFor} ` +
        `as Lambda does (it would fail every invocation with Runtime.ImportModuleError)${python ? '' : buildHint(fn, taskRoot)}`,
    );
  }
  const bytes = statSync(file).size;
  return { logicalId: fn.logicalId, entry: fn.entry, outfile: file, bytes, initBytes: bytes, mapBytes: 0, inputs: [], sources, externals: [], ...extra };
};

// A CodeUri that holds TypeScript, or names a build output that is not there, needs a build first.
const buildHint = (fn: FunctionSpec, folder: string): string => {
  const ts = ['.ts', '.mts', '.cts'].map((ext) => join(folder, `${fn.handlerModule}${ext}`)).find((f) => existsSync(f));
  if (ts) return `. It has ${shown(ts)}: TypeScript needs a build (Metadata: BuildMethod: esbuild on the function, or your own build into CodeUri).`;
  const scripts = (() => {
    for (let dir = folder; ; dir = dirname(dir)) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg)) return JSON.parse(readFileSync(pkg, 'utf8')).scripts as Record<string, string> | undefined;
      if (dirname(dir) === dir) return undefined;
    }
  })();
  if (scripts?.build) return `. Is CodeUri a build output? Run the project's build first (npm run build: ${scripts.build}).`;
  return '';
};

/** The files of a folder that a rebuild watches (no node_modules, at most a few hundred). */
const sourceFiles = (folder: string): string[] => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (files.length >= 500 || entry.name === 'node_modules' || entry.name === '__pycache__' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(c|m)?(j|t)s$|\.json$|\.py$/.test(entry.name)) files.push(path);
    }
  };
  if (existsSync(folder)) walk(folder);
  return files.sort();
};

/**
 * The dependencies of a CodeUri's package.json that cannot be found from it. @aws-sdk/* is left
 * out: the runtime provides it (runtime-sdk.ts).
 */
const missingDependencies = (folder: string): string[] => {
  const pkgPath = join(folder, 'package.json');
  if (!existsSync(pkgPath)) return [];
  const deps = Object.keys(JSON.parse(readFileSync(pkgPath, 'utf8')).dependencies ?? {});
  const require = createRequire(join(folder, 'index.js'));
  return deps.filter((name) => {
    if (name.startsWith('@aws-sdk/')) return false;
    try {
      require.resolve(`${name}/package.json`);
      return false;
    } catch {
      try {
        require.resolve(name);
        return false;
      } catch {
        return true;
      }
    }
  });
};

/**
 * Installs a CodeUri's dependencies as sam build does (npm install --omit=dev), into a cache
 * folder keyed by its package.json and lock file, and returns that cache's node_modules.
 */
const installDependencies = async (fn: FunctionSpec, folder: string, missing: string[], say: (line: string) => void): Promise<string> => {
  const files = ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'].filter((f) => existsSync(join(folder, f)));
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(folder, f)));
  const cache = join(tmpdir(), 'ws-outbox-dependencies', hash.digest('hex').slice(0, 16));
  const modules = join(cache, 'node_modules');
  if (existsSync(join(cache, '.done'))) return modules;
  say(`${fn.logicalId}: installing ${missing.join(', ')} from ${shown(join(folder, 'package.json'))} (npm install --omit=dev, as sam build does)…`);
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  for (const f of files) await import('node:fs/promises').then((fs) => fs.copyFile(join(folder, f), join(cache, f)));
  try {
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: cache, timeout: 300_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new BuildError(
      `${fn.logicalId}: npm install of ${shown(join(folder, 'package.json'))}'s dependencies failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' / ')}`,
    );
  }
  await import('node:fs/promises').then((fs) => fs.writeFile(join(cache, '.done'), ''));
  return modules;
};

/** SAM's esbuild options from BuildProperties (sam build's defaults: cjs, es2020, minified, no source map). */
export const samEsbuildOptions = (fn: FunctionSpec, codeFolder: string): esbuild.BuildOptions => {
  const props = fn.metadata.BuildProperties ?? {};
  const list = (value: unknown): string[] =>
    Array.isArray(value)
      ? value.map(String)
      : typeof value === 'string'
        ? value
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean)
        : [];
  const pairs = (value: unknown): Record<string, string> =>
    Object.fromEntries(
      list(value).map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    );
  const withExtension = (point: string): string => {
    const base = resolve(codeFolder, point);
    if (/\.[cm]?[jt]sx?$/.test(point)) return base;
    return ['.ts', '.js', '.mts', '.mjs', '.cts', '.cjs'].map((ext) => `${base}${ext}`).find((f) => existsSync(f)) ?? `${base}.ts`;
  };
  const points = list(props.EntryPoints);
  const options: esbuild.BuildOptions = {
    entryPoints: (points.length > 0 ? points : [fn.handlerModule]).map(withExtension),
    bundle: true,
    platform: 'node',
    format: props.Format === 'esm' ? 'esm' : 'cjs',
    target: typeof props.Target === 'string' ? props.Target : 'es2020',
    minify: props.Minify === undefined ? true : props.Minify === true || props.Minify === 'true',
    sourcemap: props.Sourcemap === true || props.Sourcemap === 'true',
    external: list(props.External),
    absWorkingDir: codeFolder,
    metafile: true,
    logLevel: 'silent',
  };
  if (props.Loader !== undefined) options.loader = pairs(props.Loader) as Record<string, esbuild.Loader>;
  if (props.MainFields !== undefined) options.mainFields = list(props.MainFields);
  if (props.OutExtension !== undefined) options.outExtension = pairs(props.OutExtension);
  if (props.Banner !== undefined) options.banner = pairs(props.Banner);
  if (props.Footer !== undefined) options.footer = pairs(props.Footer);
  return options;
};

const esbuildFailure = (fn: FunctionSpec, error: unknown): BuildError => {
  const errors = (error as { errors?: esbuild.Message[] }).errors ?? [];
  const details = errors.map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('\n');
  return new BuildError(`${fn.logicalId}: esbuild (Metadata BuildMethod: esbuild) failed\n${details || (error as Error).message}`);
};

const samEsbuild = async (fn: FunctionSpec, templateDir: string, outdir: string): Promise<BuiltFunction> => {
  const codeFolder = resolve(templateDir, fn.codeUri);
  const artifacts = join(outdir, fn.logicalId);
  rmSync(artifacts, { recursive: true, force: true });
  let result: esbuild.BuildResult;
  try {
    result = await esbuild.build({ ...samEsbuildOptions(fn, codeFolder), outdir: artifacts });
  } catch (error) {
    throw esbuildFailure(fn, error);
  }
  const sources = Object.keys(result.metafile!.inputs)
    .filter((p) => !/node_modules\//.test(p) && !/^[<(]/.test(p))
    .map((p) => resolve(codeFolder, p));
  const bytes = Object.values(result.metafile!.outputs).reduce((n, o) => n + o.bytes, 0);
  return { ...prepared(fn, artifacts, sources), bytes };
};

const makefileBuild = async (fn: FunctionSpec, templateDir: string, outdir: string, say: (line: string) => void): Promise<BuiltFunction> => {
  const codeFolder = resolve(templateDir, fn.codeUri);
  // sam build: the Makefile is in ContextPath (default: CodeUri); make runs in WorkingDirectory (default: the same).
  const context = fn.metadata.ContextPath === undefined ? codeFolder : resolve(templateDir, String(fn.metadata.ContextPath));
  const working = fn.metadata.WorkingDirectory === undefined ? context : resolve(templateDir, String(fn.metadata.WorkingDirectory));
  const artifacts = join(outdir, fn.logicalId);
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  say(`${fn.logicalId}: make build-${fn.logicalId} (Metadata BuildMethod: makefile)…`);
  try {
    await run('make', ['-f', join(context, 'Makefile'), `build-${fn.logicalId}`], {
      cwd: working,
      env: { ...process.env, ARTIFACTS_DIR: artifacts },
      timeout: 600_000,
    });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new BuildError(`${fn.logicalId}: make build-${fn.logicalId} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' / ')}`);
  }
  return prepared(fn, artifacts, sourceFiles(codeFolder));
};

const asIs = async (fn: FunctionSpec, templateDir: string, say: (line: string) => void): Promise<BuiltFunction> => {
  const codeFolder = resolve(templateDir, fn.codeUri);
  if (!existsSync(codeFolder) || !statSync(codeFolder).isDirectory()) {
    throw new BuildError(`${fn.logicalId}: CodeUri ${fn.codeUri} is not a folder (looked at ${shown(codeFolder)})${buildHint(fn, codeFolder)}`);
  }
  const missing = missingDependencies(codeFolder);
  const dependencies = missing.length > 0 ? await installDependencies(fn, codeFolder, missing, say) : undefined;
  if (dependencies === undefined) dependencyFolders.delete(codeFolder);
  else dependencyFolders.set(codeFolder, dependencies);
  return prepared(fn, codeFolder, sourceFiles(codeFolder));
};

/**
 * InlineCode as CloudFormation deploys it for Node: its text in `index.js` at the task root (for
 * Python, `index.py`, with no package.json). The
 * package.json beside it is empty so that no package.json of the project above (a `"type":
 * "module"`, say) decides how Node reads the file: on Lambda nothing sits above /var/task.
 */
const inline = (fn: FunctionSpec, outdir: string): BuiltFunction => {
  const taskRoot = join(outdir, fn.logicalId);
  rmSync(taskRoot, { recursive: true, force: true });
  mkdirSync(taskRoot, { recursive: true });
  const python = isPythonRuntime(fn.runtime);
  const file = python ? 'index.py' : 'index.js';
  writeFileSync(join(taskRoot, file), fn.inlineCode!);
  if (!python) writeFileSync(join(taskRoot, 'package.json'), '{}\n');
  if (fn.handlerModule !== 'index') {
    throw new BuildError(
      `${fn.logicalId}: InlineCode is deployed as ${file}, so its Handler must be index.<name>, got ${fn.handler} ` +
        '(Lambda would fail every invocation with Runtime.ImportModuleError)',
    );
  }
  return prepared(fn, taskRoot, []);
};

// Task root → the node_modules its package.json's dependencies were installed into (see
// installDependencies); the function pool hands it to the worker, which resolves from it after
// the code's own folders.
const dependencyFolders = new Map<string, string>();

/** The installed dependencies of the code at `taskRoot`, if the gateway installed any. */
export const installedDependenciesOf = (taskRoot: string): string | undefined => dependencyFolders.get(taskRoot);

/**
 * Prepares the template's functions (or the ones named) as the template deploys them. Throws one
 * BuildError that lists every function that failed.
 */
export const prepareFunctionCode = async (options: CodeOptions): Promise<BuiltFunction[]> => {
  const templatePath = resolve(options.template);
  const templateDir = dirname(templatePath);
  const say = options.say ?? (() => {});
  const all = functionsOf(loadTemplate(templatePath));
  const wanted = options.functions?.length ? all.filter((fn) => options.functions!.includes(fn.logicalId)) : all;
  const outdir = options.outdir ?? join(templateDir, '.aws-sam', 'ws-outbox');
  const own = wanted.filter((fn) => codeKindOf(fn) === 'ws-outbox');
  const jobs: Array<Promise<BuiltFunction[]>> = [];
  if (own.length > 0) jobs.push(build({ template: templatePath, outdir: options.outdir, functions: own.map((fn) => fn.logicalId), quiet: true }));
  for (const fn of wanted) {
    const kind = codeKindOf(fn);
    if (kind === 'inline') jobs.push(Promise.resolve().then(() => [inline(fn, outdir)]));
    else if (kind === 'esbuild') jobs.push(samEsbuild(fn, templateDir, outdir).then((b) => [b]));
    else if (kind === 'makefile') jobs.push(makefileBuild(fn, templateDir, outdir, say).then((b) => [b]));
    else if (kind === 'as-is') jobs.push(asIs(fn, templateDir, say).then((b) => [b]));
  }
  const settled = await Promise.allSettled(jobs);
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  if (failures.length > 0) {
    const unexpected = failures.find((e) => !(e instanceof BuildError));
    if (unexpected) throw unexpected;
    throw new BuildError(failures.length === 1 ? failures[0]!.message : `${failures.length} builds failed:\n${failures.map((e) => e.message).join('\n')}`);
  }
  const byId = new Map(settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : [])).map((b) => [b.logicalId, b]));
  return wanted.map((fn) => byId.get(fn.logicalId)!).filter(Boolean);
};
