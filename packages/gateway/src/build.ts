// `ws-outbox build` (`npm run build`): bundles every AWS::Serverless::Function of a SAM template
// with esbuild, one ESM file per function, into the folder its CodeUri names: CodeUri dist/send/ +
// Handler index.handler → dist/send/index.mjs (+ index.mjs.map), built from the function's handler
// file (see handlerCandidates in template.ts: handlers/<CodeUri's last folder>.ts, or the file
// Metadata.BuildEntry names, relative to the template's folder):
//
//   EchoFunction:
//     Type: AWS::Serverless::Function
//     Metadata:
//       BuildEntry: test/fixtures/echo.ts
//     Properties: { CodeUri: dist/echo/ }
//
// The local gateway and `ws-outbox invoke` build through `build()` too, so what runs locally is
// exactly what would be deployed.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { withDefaults, WsOutboxError } from 'ws-outbox/util';
import { builtinsViaRequire } from './builtins-via-require.ts';
import { defaultTemplateFile, functionsOf, loadTemplate, type FunctionSpec } from './template.ts';

export interface BuildOptions {
  /** Template to read; default template.yaml in the working folder. */
  template?: string;
  /** Logical ids to build; default every AWS::Serverless::Function. */
  functions?: string[];
  /** Output root: bundles go to <outdir>/<CodeUri's last folder>/; default each function's CodeUri (see outputFolder). */
  outdir?: string;
  /** One folder that receives the bundle itself (`<module>.mjs`): SAM's $(ARTIFACTS_DIR); one function only. */
  artifactsDir?: string;
  /** Default true: no esbuild warnings on stderr (the CLI sets false). */
  quiet?: boolean;
}

export interface BuiltFunction {
  logicalId: string;
  /** Absolute path of the source that was bundled. */
  entry: string;
  /** Absolute path of the bundle (<module>.mjs); its source map is outfile + '.map'. */
  outfile: string;
  /** Everything the function ships: the bundle and its chunks (chunks/, loaded when first imported). */
  bytes: number;
  /** What a cold start loads before the handler runs: the bundle and the chunks it imports statically. */
  initBytes: number;
  mapBytes: number;
  /** Package (node_modules/<pkg>) or own source file → bytes in the bundle, largest first. */
  inputs: Array<{ name: string; bytes: number }>;
  /** Absolute paths of the project's own files in the bundle (not under node_modules): what a rebuild watches. */
  sources: string[];
  /** Modules the bundle imports at run time (Node built-ins only). */
  externals: string[];
}

const defaults = {
  template: 'template.yaml',
  /** Logical ids to build; all functions when empty. */
  functions: [] as string[],
  /** Where bundles go: undefined → each function's CodeUri; a folder → <outdir>/<CodeUri's last folder>/. */
  outdir: undefined as string | undefined,
  /** One function's bundle straight into this folder (sam build's ARTIFACTS_DIR). */
  artifactsDir: undefined as string | undefined,
  /** No size table, no esbuild warnings on stderr. */
  quiet: true,
};

// ESM bundles of CommonJS dependencies still call require() for Node built-ins; esbuild's ESM
// output has no require of its own, so give it one.
const banner = "import { createRequire as __wsOutboxCreateRequire } from 'node:module'; const require = __wsOutboxCreateRequire(import.meta.url);";

/** esbuild settings shared by every function. Exported so tests can assert on them. */
export const esbuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  // The map in its own file next to the bundle, and a sourceMappingURL comment pointing at it:
  // esbuild's 'external' would write the file without the comment, and then
  // NODE_OPTIONS=--enable-source-maps would never find it. 'linked' is both.
  // No sourcesContent: Node needs only the mappings, and the map stays a fraction of the size.
  sourcemap: 'linked',
  sourcesContent: false,
  // Prefer the ES module builds (the AWS SDK ships both): they tree-shake, the CJS builds do not.
  mainFields: ['module', 'main'],
  // ws-outbox's packages export their TypeScript sources under this condition (and ship them), so
  // a bundle built inside the ws-outbox repository takes the library's current sources rather than
  // a lib/ that may be stale or unbuilt; for an installed package both are the same code.
  // Setting conditions drops esbuild's default 'module' one, so it is named again.
  conditions: ['module', 'ws-outbox-source'],
  // Everything is bundled, @aws-sdk/* included: we pin our own SDK rather than the runtime's.
  external: [],
  // One file, unless the function asks for splitting (Metadata: { Splitting: true }): then what a
  // dynamic import() reaches goes to chunks/, loaded when first imported, and a cold start
  // compiles only the code its init needs. It pays when the lazy code is rarely used: ws-outbox
  // loads the SDK's clients that way (its lean paths need none), and in one file their ~400 KB
  // cost a cold `send` ~20 ms of compiling at init. It costs when the first invocation needs the
  // chunks anyway (a plain SDK app: +16 ms of CPU in its first invocation, at the function's CPU
  // share), hence opt-in (splittingOptions; bench/README.md, "Cold start"). Lambda ships the whole folder.
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  banner: { js: banner },
  legalComments: 'none',
  metafile: true,
  logLevel: 'silent',
} satisfies esbuild.BuildOptions;

/**
 * What `Metadata: { Splitting: true }` adds to esbuildOptions: dynamic imports in chunks/, and Node
 * built-ins required rather than imported as ES modules (builtins-via-require.ts). Both keep out
 * of init what the function loads only when it uses it.
 */
export const splittingOptions = {
  splitting: true,
  plugins: [builtinsViaRequire],
} satisfies esbuild.BuildOptions;

/** Thrown for anything the user must fix in the template or a handler; the CLI prints only the message. */
export class BuildError extends WsOutboxError {
  constructor(message: string) {
    super('BUILD_FAILED', message);
  }
}

/**
 * Where a function's bundle goes. By default its CodeUri, which in this repository's layout is a
 * bundle folder (dist/<name>/); but a CodeUri that holds the function's own source (any other SAM
 * app) is never written into: its bundle goes to dist/<LogicalId>/ beside the template.
 */
const outputFolder = (fn: FunctionSpec, templateDir: string, opts: { outdir?: string; artifactsDir?: string }): string => {
  if (opts.artifactsDir !== undefined) return resolve(opts.artifactsDir);
  const name = basename(fn.codeUri.replace(/[\\/]+$/, ''));
  const codeFolder = resolve(templateDir, fn.codeUri);
  const sourceInside = !relative(codeFolder, fn.entry).startsWith('..');
  if (opts.outdir !== undefined) return resolve(opts.outdir, sourceInside ? fn.logicalId : name);
  return sourceInside ? resolve(templateDir, 'dist', fn.logicalId) : codeFolder;
};

// A CommonJS handler (`exports.handler = …`, `module.exports = { handler }`) in an ESM bundle:
// esbuild exposes its module.exports only as the default export, and Lambda's loader looks up the
// Handler's name. This entry re-exports that name from module.exports.
const commonJsEntry = (fn: FunctionSpec): esbuild.StdinOptions => ({
  contents: `import commonJsModule from ${JSON.stringify(fn.entry)};\nexport const ${fn.handlerExport} = commonJsModule.${fn.handlerExport};\n`,
  resolveDir: dirname(fn.entry),
  sourcefile: `${basename(fn.entry)} (CommonJS exports)`,
  loader: 'js',
});

/** Where a function's handler source was looked for, for the error that says it is missing. */
const missingEntry = (fn: FunctionSpec): string => {
  if (fn.entryFrom === 'BuildEntry') return `${fn.logicalId}: handler source ${shown(fn.entry)} does not exist (from Metadata.BuildEntry)`;
  if (fn.entryFrom === 'esbuild') {
    return `${fn.logicalId}: no entry point for Metadata.BuildProperties.EntryPoints (relative to CodeUri ${fn.codeUri}); looked for ${fn.entryCandidates.map(shown).join(', ')}`;
  }
  return (
    `${fn.logicalId}: no handler file for CodeUri ${fn.codeUri} and Handler ${fn.handler}; looked for ${fn.entryCandidates.map(shown).join(', ')}. ` +
    'Create one of them, or name the file with Metadata: { BuildEntry: path/to/file.ts } on the function.'
  );
};

/**
 * Builds the template's functions, one entry per function. Throws a BuildError naming what to fix
 * (an unknown function id, a missing handler file, a missing export, an esbuild error).
 */
export async function build(options: BuildOptions = {}): Promise<BuiltFunction[]> {
  const opts = withDefaults(defaults, options);
  // No template named: the one SAM CLI would read here (template.yaml, .yml or .json).
  const templatePath = resolve(options.template ?? defaultTemplateFile());
  const template = loadTemplate(templatePath);
  const templateDir = dirname(templatePath);
  // InlineCode is deployed as written: there is nothing to build (sam build leaves it alone too).
  const all = functionsOf(template).filter((fn) => fn.inlineCode === undefined);
  if (all.length === 0) throw new BuildError(`${templatePath} has no AWS::Serverless::Function to build`);
  const unknown = opts.functions.filter((id) => !all.some((fn) => fn.logicalId === id));
  if (unknown.length > 0) {
    throw new BuildError(`No such function in ${shown(templatePath)}: ${unknown.join(', ')} (it has ${all.map((f) => f.logicalId).join(', ')})`);
  }
  const wanted = opts.functions.length > 0 ? all.filter((fn) => opts.functions.includes(fn.logicalId)) : all;
  if (opts.artifactsDir !== undefined && wanted.length !== 1) {
    throw new BuildError(`--artifacts-dir takes exactly one function (as sam build's make target does), got ${wanted.length}`);
  }

  // Check every entry first, so one run reports every missing handler at once.
  const missing = wanted.filter((fn) => !fn.entryExists);
  if (missing.length > 0) throw new BuildError(missing.map(missingEntry).join('\n'));

  // Every function is built even when one fails, and every failure is reported.
  const settled = await Promise.allSettled(
    wanted.map(async (fn) => {
      const folder = outputFolder(fn, templateDir, opts);
      const outfile = join(folder, `${fn.handlerModule}.mjs`);
      await mkdir(dirname(outfile), { recursive: true });
      const run = async (entry: Pick<esbuild.BuildOptions, 'entryPoints' | 'stdin'>) => {
        // esbuild splits only entry points, not stdin (the CommonJS wrapper): that one is one file.
        const where = entry.stdin || !fn.splitting ? { outfile, splitting: false } : { ...splittingOptions, outdir: folder, entryNames: fn.handlerModule };
        try {
          return await esbuild.build({ ...esbuildOptions, ...entry, ...where, absWorkingDir: templateDir });
        } catch (error) {
          const errors = (error as { errors?: esbuild.Message[] }).errors ?? [];
          const details = errors.map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('\n');
          throw new BuildError(`${fn.logicalId}: esbuild failed on ${shown(fn.entry)}\n${details || (error as Error).message}`);
        }
      };
      let result = await run({ entryPoints: [fn.entry] });
      const entryInput = Object.entries(result.metafile.inputs).find(([path]) => resolve(templateDir, path) === fn.entry)?.[1];
      const commonJs = entryInput?.format === 'cjs';
      if (commonJs) result = await run({ stdin: commonJsEntry(fn) });
      if (!opts.quiet) for (const w of result.warnings) console.warn(`${fn.logicalId}: warning: ${w.text}`);
      const outputs = result.metafile.outputs;
      const code = Object.entries(outputs).filter(([k]) => k.endsWith('.mjs'));
      // Each dynamic import() is an entry of its own chunk too; the function's is the handler module.
      const [key, output] = code.find(([k]) => resolve(templateDir, k) === outfile)!;
      // The entry and the chunks it imports statically: what init loads.
      const atInit = new Set<string>();
      const visit = (k: string) => {
        if (atInit.has(k) || !outputs[k]) return;
        atInit.add(k);
        for (const i of outputs[k]!.imports) if (i.kind === 'import-statement') visit(i.path);
      };
      visit(key);
      await removeStaleChunks(
        folder,
        code.map(([k]) => resolve(templateDir, k)),
      );
      if (!commonJs && !output.exports.includes(fn.handlerExport)) {
        throw new BuildError(
          `${fn.logicalId}: ${shown(fn.entry)} exports no \`${fn.handlerExport}\` (Handler: ${fn.handler}); ` +
            `it exports ${output.exports.length ? output.exports.map((e) => `\`${e}\``).join(', ') : 'nothing'}. Add \`export const ${fn.handlerExport} = …\`.`,
        );
      }
      const sum = (entries: Array<[string, { bytes: number }]>) => entries.reduce((n, [, o]) => n + o.bytes, 0);
      const inputs = Object.assign({}, ...code.map(([, o]) => o.inputs)) as Record<string, { bytesInOutput: number }>;
      return {
        logicalId: fn.logicalId,
        entry: fn.entry,
        outfile,
        bytes: sum(code),
        initBytes: sum(code.filter(([k]) => atInit.has(k))),
        mapBytes: sum(Object.entries(outputs).filter(([k]) => k.endsWith('.map'))),
        inputs: contributions(inputs),
        sources: ownSources(Object.keys(inputs), templateDir),
        // What the bundle still imports at run time: only Node built-ins, or it will not load on Lambda.
        externals: [...new Set(code.flatMap(([, o]) => o.imports.filter((i) => i.external).map((i) => i.path)))].sort(),
      };
    }),
  );
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const unexpected = failures.find((e) => !(e instanceof BuildError));
    if (unexpected) throw unexpected;
    throw new BuildError(`${failures.length} builds failed:\n${failures.map((e) => e.message).join('\n')}`);
  }
  return settled.map((s) => (s as PromiseFulfilledResult<BuiltFunction>).value);
}

/** Chunks an earlier build left in <folder>/chunks that this one did not write (content-hashed names change with the code). */
const removeStaleChunks = async (folder: string, written: string[]): Promise<void> => {
  const chunks = join(folder, 'chunks');
  const keep = new Set(written.flatMap((file) => [file, `${file}.map`]));
  const present = await readdir(chunks).catch(() => [] as string[]);
  await Promise.all(
    present
      .map((name) => join(chunks, name))
      .filter((file) => !keep.has(file))
      .map((file) => rm(file, { force: true })),
  );
};

/** Bytes in the output per npm package (node_modules/<pkg>) or per own source file. */
const contributions = (inputs: Record<string, { bytesInOutput: number }>): BuiltFunction['inputs'] => {
  const totals = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path;
    totals.set(pkg, (totals.get(pkg) ?? 0) + bytesInOutput);
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
};

/** The metafile's input paths (relative to absWorkingDir) that are files of the project itself. */
const ownSources = (inputs: string[], workingDir: string): string[] =>
  inputs
    // Virtual modules carry a namespace prefix (`<define:…>`, `(disabled):…`); packages are not the user's to edit.
    .filter((path) => !/^[<(]|^[a-z-]+:/.test(path) && !/(^|\/)node_modules\//.test(path))
    .map((path) => (isAbsolute(path) ? path : resolve(workingDir, path)))
    .sort();

/** A path as the user can read it: relative inside the working folder, absolute outside it. */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
};

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

/** The size table the CLI prints. */
export const sizeTable = (results: BuiltFunction[]): string => {
  const rows = results.map((r) => [
    r.logicalId,
    shown(r.outfile),
    kb(r.initBytes),
    kb(r.bytes),
    kb(r.mapBytes),
    r.inputs
      .slice(0, 3)
      .map((i) => `${i.name} ${kb(i.bytes)}`)
      .join(', '),
  ]);
  const head = ['function', 'bundle', 'at init', 'size', 'map', 'largest inputs'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const total = results.reduce((n, r) => n + r.bytes, 0);
  return [line(head), ...rows.map(line), `${results.length} functions, ${kb(total)} in total`].join('\n');
};

export const buildUsage = `usage: ws-outbox build [--template template.yaml] [--outdir dir | --artifacts-dir dir] [FunctionLogicalId...]
  Bundles every AWS::Serverless::Function of the template (or the ones named) with esbuild into
  its CodeUri folder (or <outdir>/<CodeUri's last folder>/), from handlers/<CodeUri's last folder>.ts
  (.mts, .cts, .js, .mjs, .cjs), from <CodeUri>/<Handler's module>, from SAM's esbuild
  Metadata.BuildProperties.EntryPoints, or from the file its Metadata.BuildEntry names. A CodeUri
  that holds the source is not written into: that bundle goes to dist/<FunctionLogicalId>/.
  --artifacts-dir dir: one function's bundle straight into dir, for sam build's Makefile:
    build-%:
    	ws-outbox build $* --artifacts-dir "$(ARTIFACTS_DIR)"`;

/** `ws-outbox build [args]`. */
export const runBuild = async (args: string[]): Promise<void> => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      template: { type: 'string', short: 't' },
      outdir: { type: 'string', short: 'o' },
      'artifacts-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(buildUsage);
    return;
  }
  const started = performance.now();
  const results = await build({
    template: values.template,
    outdir: values.outdir,
    artifactsDir: values['artifacts-dir'],
    functions: positionals,
    quiet: false,
  });
  console.log(sizeTable(results));
  console.log(`built in ${Math.round(performance.now() - started)} ms`);
};
