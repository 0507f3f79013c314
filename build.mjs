// npm run build [-- --template t.yaml] [-- --outdir dir] [-- SendFunction JoinFunction]
//
// Bundles every AWS::Serverless::Function of template.yaml with esbuild, one ESM file per
// function, into the folder its CodeUri names: CodeUri dist/send/ + Handler index.handler →
// dist/send/index.mjs (+ index.mjs.map), built from handlers/send.ts (the CodeUri's last folder).
// A function whose source lives elsewhere (a test fixture) says so in the template:
//
//   EchoFunction:
//     Type: AWS::Serverless::Function
//     Metadata:
//       BuildEntry: test/fixtures/echo.ts   # relative to the template's folder
//     Properties: { CodeUri: dist/echo/ }
//
// Importable with no side effects (the local gateway rebuilds through `build()`); it runs as a CLI
// only when executed directly, and then prints a size table from esbuild's metafile.
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { functionsOf, loadTemplate } from './src/local/template.ts';

const root = dirname(fileURLToPath(import.meta.url));

const defaults = {
  template: join(root, 'template.yaml'),
  /** Logical ids to build; all functions when empty. */
  functions: [],
  /** Where bundles go: undefined → each function's CodeUri; a folder → <outdir>/<CodeUri's last folder>/. */
  outdir: undefined,
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
  // Everything is bundled, @aws-sdk/* included: we pin our own SDK rather than the runtime's.
  external: [],
  banner: { js: banner },
  legalComments: 'none',
  metafile: true,
  logLevel: 'silent',
};

/** Thrown for anything the user must fix in the template or a handler; the CLI prints only the message. */
export class BuildError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BuildError';
  }
}

const outputFolder = (fn, templateDir, outdir) =>
  outdir === undefined ? resolve(templateDir, fn.codeUri) : resolve(outdir, basename(fn.codeUri.replace(/[\\/]+$/, '')));

/**
 * Builds the template's functions. Returns one entry per function:
 * `{ logicalId, entry, outfile, bytes, mapBytes, inputs, externals }` where `inputs` is
 * `[{ name, bytes }]` (package or source file → bytes it contributes), largest first, and
 * `externals` the modules the bundle imports at run time (Node built-ins only).
 */
export async function build(options = {}) {
  const opts = { ...defaults, ...options };
  const templatePath = resolve(opts.template);
  const template = loadTemplate(templatePath);
  const templateDir = dirname(templatePath);
  const all = functionsOf(template);
  if (all.length === 0) throw new BuildError(`${templatePath} has no AWS::Serverless::Function to build`);
  const unknown = opts.functions.filter((id) => !all.some((fn) => fn.logicalId === id));
  if (unknown.length > 0) {
    throw new BuildError(`No such function in ${shown(templatePath)}: ${unknown.join(', ')} (it has ${all.map((f) => f.logicalId).join(', ')})`);
  }
  const wanted = opts.functions.length > 0 ? all.filter((fn) => opts.functions.includes(fn.logicalId)) : all;

  // Check every entry first, so one run reports every missing handler at once.
  const missing = wanted.filter((fn) => !existsSync(fn.entry));
  if (missing.length > 0) {
    throw new BuildError(missing.map((fn) => `${fn.logicalId}: handler source ${shown(fn.entry)} does not exist`
      + (fn.entryFromMetadata ? ' (from Metadata.BuildEntry)' : ` (from CodeUri ${fn.codeUri}; set Metadata.BuildEntry to use another file)`)).join('\n'));
  }

  const results = await Promise.all(wanted.map(async (fn) => {
    const outfile = join(outputFolder(fn, templateDir, opts.outdir), `${fn.handlerModule}.mjs`);
    await mkdir(dirname(outfile), { recursive: true });
    let result;
    try {
      result = await esbuild.build({ ...esbuildOptions, entryPoints: [fn.entry], outfile, absWorkingDir: root });
    } catch (error) {
      const details = (error.errors ?? []).map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('\n');
      throw new BuildError(`${fn.logicalId}: esbuild failed on ${shown(fn.entry)}\n${details || error.message}`);
    }
    if (!opts.quiet) for (const w of result.warnings) console.warn(`${fn.logicalId}: warning: ${w.text}`);
    const outputs = result.metafile.outputs;
    const key = Object.keys(outputs).find((k) => k.endsWith('.mjs'));
    const output = outputs[key];
    if (!output.exports.includes(fn.handlerExport)) {
      throw new BuildError(`${fn.logicalId}: ${shown(fn.entry)} exports no \`${fn.handlerExport}\` (Handler: ${fn.handler}); `
        + `it exports ${output.exports.length ? output.exports.map((e) => `\`${e}\``).join(', ') : 'nothing'}. Add \`export const ${fn.handlerExport} = …\`.`);
    }
    const mapKey = Object.keys(outputs).find((k) => k.endsWith('.map'));
    return {
      logicalId: fn.logicalId,
      entry: fn.entry,
      outfile,
      bytes: output.bytes,
      mapBytes: mapKey ? outputs[mapKey].bytes : 0,
      inputs: contributions(output.inputs),
      // What the bundle still imports at run time: only Node built-ins, or it will not load on Lambda.
      externals: [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))].sort(),
    };
  }));
  return results;
}

/** Bytes in the output per npm package (node_modules/<pkg>) or per own source file. */
const contributions = (inputs) => {
  const totals = new Map();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path;
    totals.set(pkg, (totals.get(pkg) ?? 0) + bytesInOutput);
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
};

/** A path as the user can read it: relative inside the working folder, absolute outside it. */
const shown = (path) => {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
};

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

/** The size table the CLI prints. */
export const sizeTable = (results) => {
  const rows = results.map((r) => [r.logicalId, shown(r.outfile), kb(r.bytes), kb(r.mapBytes),
    r.inputs.slice(0, 3).map((i) => `${i.name} ${kb(i.bytes)}`).join(', ')]);
  const head = ['function', 'bundle', 'size', 'map', 'largest inputs'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const total = results.reduce((n, r) => n + r.bytes, 0);
  return [line(head), ...rows.map(line), `${results.length} functions, ${kb(total)} in total`].join('\n');
};

const cli = async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { template: { type: 'string', short: 't' }, outdir: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log('usage: node build.mjs [--template template.yaml] [--outdir dir] [FunctionLogicalId...]');
    return;
  }
  const started = performance.now();
  const results = await build({
    template: values.template ?? defaults.template,
    outdir: values.outdir,
    functions: positionals,
    quiet: false,
  });
  console.log(sizeTable(results));
  console.log(`built in ${Math.round(performance.now() - started)} ms`);
};

// Run as a CLI only when executed directly (`node build.mjs`), never on import.
if (import.meta.main ?? (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)) {
  cli().catch((error) => {
    console.error(error instanceof BuildError ? `build: ${error.message}` : error);
    process.exitCode = 1;
  });
}
