// npm run build [-- --template t.yaml] [-- --outdir dir] [-- SendFunction JoinFunction]
//
// The repository's entry to `ws-outbox build` (src/local/build.ts): esbuild bundles of every
// AWS::Serverless::Function of template.yaml into the folder its CodeUri names, from
// handlers/<CodeUri's last folder>.ts or the file its Metadata.BuildEntry names. Importable with
// no side effects; it runs as the CLI only when executed directly (`node build.mjs`).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from './src/local/cli.ts';

export { build, BuildError, esbuildOptions, sizeTable } from './src/local/build.ts';

if (import.meta.main ?? (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)) {
  process.exitCode = await runCli(['build', ...process.argv.slice(2)]);
}
