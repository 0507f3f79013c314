// npm run build [-- --template t.yaml] [-- --outdir dir] [-- SendFunction JoinFunction]
//
// The example's entry to `ws-outbox build` (the local gateway's build, @ws-outbox/gateway): esbuild bundles of every
// AWS::Serverless::Function of template.yaml into the folder its CodeUri names, from
// handlers/<CodeUri's last folder>.ts or the file its Metadata.BuildEntry names. Importable with
// no side effects; it runs as the CLI only when executed directly (`npm run build`; plain `node build.mjs` needs `--conditions=ws-outbox-source` in this repository, where the packages resolve to their sources).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from '@ws-outbox/gateway';

export { build, BuildError, esbuildOptions, sizeTable, splittingOptions } from '@ws-outbox/gateway';

if (import.meta.main ?? (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)) {
  process.exitCode = await runCli(['build', ...process.argv.slice(2)]);
}
