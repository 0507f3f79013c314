// Reads template.yaml, the single source of truth, for the build (build.mjs), the local gateway and
// the tests. Plain data in, plain data out; nothing here touches the network or the file system
// beyond reading the template.
//
//   const template = loadTemplate('template.yaml');
//   functionsOf(template)            → [{ logicalId, codeUri, handler, entry, timeout, memorySize,
//                                         environment, routes, … }]
//   routesOf(template)               → { '$connect': 'ConnectFunction', join: 'JoinFunction', … }
//   routeSelectionExpression(template) → '$request.body.action'
//   tableOf(template)                → { logicalId: 'Table', properties, ttlAttribute: 'ttl' }
//   createTableInput(tableOf(t), 'local-table') → a DynamoDB CreateTable input (dynalite-safe)
//   resolveIntrinsics(fn.environment, localRefs(template, { Table: 'local-table' }))
//                                    → { TABLE_NAME: 'local-table', … }
//
// Paths in the result (entry) are absolute, resolved from the template's folder as SAM resolves
// CodeUri. A function's source is, in this order (see entryCandidates):
//   - `Metadata: { BuildEntry: path/to/file.ts }` (relative to the template's folder);
//   - SAM's esbuild metadata, `Metadata: { BuildMethod: esbuild, BuildProperties: { EntryPoints } }`
//     (relative to CodeUri, as `sam build` reads it);
//   - handlers/<last folder of CodeUri> (this repository's layout: CodeUri names the bundle folder);
//   - <CodeUri>/<Handler's module> (any SAM app: `CodeUri: onconnect/`, `Handler: app.handler`);
// each with the first extension of .ts, .mts, .cts, .js, .mjs, .cjs that exists.
//
// The readers live in template/, one job each; this module re-exports them all.
export * from './template/types.ts';
export * from './template/yaml-tags.ts';
export * from './template/load.ts';
export * from './template/api.ts';
export * from './template/functions.ts';
export * from './template/resources.ts';
export * from './template/refs.ts';
export * from './template/conditions.ts';
export * from './template/intrinsics.ts';
export * from './template/parameters.ts';
