// `ws-outbox dev` (`npm run dev`): the local gateway on loopback, from the project's template.yaml.
// Prints where everything is, rebuilds when a source file of a bundle changes, and stops cleanly
// on Ctrl-C or SIGTERM.
//
//   PORT (3001)            WebSocket API, @connections management API, the --static folder
//   DYNAMODB_PORT (8000)   embedded DynamoDB (dynalite, in memory)
//   SQS_PORT (9324)        embedded SQS (fauxqs, in memory), when the template has queues
//   LAMBDA_PORT (a free one) Lambda's Invoke API on the template's functions
//   TEMPLATE (template.yaml), STAGE (local), AWS_REGION (us-east-1)
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dynamodbActionOf } from './app-model.ts';
import { startGateway, gatewayDefaults, RestartRequired, type Gateway, type GatewayOptions } from './gateway.ts';
import { createLogger } from './log.ts';
import { defaultTemplateFile, gatherParameterOverrides, parseParameterOverrides } from './template.ts';

export const devUsage = `usage: ws-outbox dev [--template template.yaml] [--parameter-overrides Key=Value ...] [--static folder] [--allowed-host name ...] [--no-iam] [--no-limits] [--no-watch]
  The local gateway on 127.0.0.1: the template's WebSocket API and functions (built as sam build builds them, loaded as Lambda's Node runtime loads them,
  run like Lambda, frozen between invocations), the @connections API, an embedded DynamoDB with
  the template's tables, and the --static folder at / if given. Functions reach their execute-api and DynamoDB hosts
  unmodified (over TLS, to the gateway), Lambda's (Invoke on the template's functions), and SQS's when the
  template has queues (an embedded SQS, with the template's SQS event sources); any other AWS host is refused. Edits to the functions'
  source files rebuild them; edits to the template apply at once (or restart the gateway).
  --parameter-overrides  template parameters, as sam deploy takes them: Stage=prod Table='x y' (one or several
                         words), or ParameterKey=Stage,ParameterValue=prod
  --static folder        serve this folder at http://127.0.0.1:PORT/ (an app's demo page); nothing by default
  --allowed-host name    also answer requests whose Host is this name (loopback names and the emulated AWS hosts only by default: DNS rebinding)
  --no-iam               do not check calls against the functions' template policies
  --no-limits            no Lambda-sized CPU and memory (cgroups) per instance
  env: PORT (3001), DYNAMODB_PORT (8000), SQS_PORT (9324), LAMBDA_PORT (a free one), STAGE (the template's, else local), AWS_REGION (us-east-1), TEMPLATE,
       IDLE_TIMEOUT_SECONDS (600) and MAX_CONNECTION_SECONDS (7200): API Gateway's idle timeout and
       connection cap, shorter to see a client reconnect and resume`;

/** The --static folder, checked now: a typo is a clear error at start-up, not a 404 later. */
const checkedFolder = (dir: string): string => {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--static ${dir}: no such folder (give the folder to serve at /, e.g. --static demo)`);
  return resolve(dir);
};

const portFrom = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number (0–65535), got ${JSON.stringify(raw)}`);
  return port;
};

/** A duration in whole seconds from the environment, in ms; `fallback` (ms) when unset. */
const secondsFrom = (name: string, fallbackMs: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`${name} must be a whole number of seconds (1 or more), got ${JSON.stringify(raw)}`);
  return seconds * 1000;
};

// A first message for the template's own routes: the first custom route, when routes are selected by `action`.
const tryLine = (gw: Gateway): string => {
  const route = [...gw.model.routes.keys()].find((key) => !key.startsWith('$'));
  const first = route && gw.model.routeSelectionExpression === '$request.body.action' ? `   then  {"action":"${route}"}` : '';
  // With the development issuer, the $connect authorizer wants a token from it.
  const url = gw.devIssuer ? `"${gw.wsUrl}?token=$(curl -s '${gw.devIssuer.url}/dev/token?name=alice' | jq -r .token)"` : `'${gw.wsUrl}'`;
  return `npx wscat -c ${url}${first}`;
};

const eventSources = (gw: Gateway): string[][] =>
  [...gw.model.functions.values()].flatMap((fn) =>
    fn.spec.sqsEvents.map((e) => [
      'Event source',
      `${gw.queues.get(e.queue)?.name ?? e.queue} → ${fn.logicalId} (batch ${e.batchSize}, at most ${e.maximumConcurrency ?? 'pool'} at once${e.reportBatchItemFailures ? ', partial batch failures' : ''})`,
    ]),
  );

const banner = (gw: Gateway, started: number): string => {
  const routes = [
    ...[...gw.model.routes].map(([key, fn]) => `${key} → ${fn}`),
    ...[...gw.model.integrations].map(
      ([key, i]) => `${key} → ${i.functionId ?? i.uri?.split(':').pop()} (${i.functionId ? 'request template' : dynamodbActionOf(i.uri) ? 'DynamoDB' : 'SQS'})`,
    ),
    ...[...gw.model.unavailableRoutes.keys()].map((key) => `${key} → (not run locally)`),
  ].join(', ');
  const rows = [
    ...(gw.staticDir ? [['Static', `http://127.0.0.1:${gw.port}/   (${relative(process.cwd(), gw.staticDir) || '.'})`]] : []),
    ['WebSocket API', `${gw.wsUrl}   (also ${gw.wsUrl}/${gw.stage})`],
    ['Management API', `${gw.managementEndpoint}/@connections/{id}`],
    [
      'DynamoDB',
      `${gw.dynamodbEndpoint}   ${gw.model.tables.length === 1 ? 'table' : 'tables'} ${gw.model.tables.map((t) => t.tableName).join(', ') || '(none)'}`,
    ],
    [
      'Functions call',
      `${gw.awsManagementEndpoint}, DynamoDB's, Lambda's${gw.sqsEndpoint ? " and SQS's AWS hosts" : ' AWS hosts'}, unmodified (TLS to this gateway)`,
    ],
    ['Lambda API', `${gw.lambdaEndpoint}   Invoke on the template's functions`],
    ...(gw.sqsEndpoint ? [['SQS', `${gw.sqsEndpoint}   queues ${[...gw.queues.values()].map((q) => q.name).join(', ')}`]] : []),
    ['Routes', routes],
    ...eventSources(gw),
    ...(gw.devIssuer
      ? [
          [
            'Dev issuer',
            `${gw.devIssuer.url}/dev/token?name=alice   (keys at /.well-known/jwks.json; the template's issuer parameters point here, locally only)`,
          ],
        ]
      : []),
    ['Try', tryLine(gw)],
  ];
  const width = Math.max(...rows.map(([k]) => k!.length));
  return [
    '',
    `ws-outbox local gateway ready in ${Math.round(performance.now() - started)} ms (${gw.built.length} functions built)`,
    ...rows.map(([k, v]) => `  ${k!.padEnd(width)}  ${v}`),
    '  Handlers are frozen when their promise settles, as on Lambda; un-awaited sends show as LATE SEND.',
    `  Ctrl-C to stop. Edits to the functions' sources (${watchedFolders(gw).join(', ') || 'none'}) rebuild the bundles;`,
    '  edits to the template (routes, functions, environment, policies) apply as soon as it is saved.',
    '',
  ].join('\n');
};

/** The folders of every source file in the bundles, outside node_modules: whatever the project's layout. */
const sourceFolders = (gw: Gateway): string[] => [...new Set(gw.built.flatMap((b) => b.sources.map((file) => dirname(file))))].sort();

const watchedFolders = (gw: Gateway): string[] => {
  const folders = sourceFolders(gw).map((dir) => relative(process.cwd(), dir) || '.');
  // The top-level folders, for the banner: `src/outbox` and `src/store` are both under `src`.
  return [...new Set(folders.map((dir) => (dir.startsWith('..') ? dir : dir.split('/')[0]!)))];
};

// Many editors write a file in several steps: wait for the burst to end, never rebuild twice at
// once, and rebuild once more if files changed during a build. Each folder that holds a source of a
// bundle is watched (not recursively, so node_modules never is); a rebuild that brings in a file
// from a new folder starts watching it.
const watchAndRebuild = (gw: Gateway, log: ReturnType<typeof createLogger>): { close(): void } => {
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let building = false;
  let again = false;
  const rebuild = async () => {
    if (building) {
      again = true;
      return;
    }
    building = true;
    const started = performance.now();
    try {
      await gw.rebuild();
      watchSources();
      log.info(`rebuilt ${gw.built.length} functions in ${Math.round(performance.now() - started)} ms; new invocations run the new code`);
    } catch (error) {
      log.error(`rebuild failed, still serving the previous build:\n${(error as Error).message}`);
    } finally {
      building = false;
      if (again) {
        again = false;
        void rebuild();
      }
    }
  };
  const onChange = (_: string, file: string | Buffer | null) => {
    if (file && !/\.(ts|mts|cts|js|mjs|cjs|json)$/.test(String(file))) return;
    clearTimeout(timer);
    timer = setTimeout(rebuild, 150);
  };
  const watchSources = () => {
    for (const dir of sourceFolders(gw)) {
      if (watchers.has(dir)) continue;
      try {
        watchers.set(dir, watch(dir, onChange));
      } catch (error) {
        log.warn(`cannot watch ${dir}: ${(error as Error).message}`);
      }
    }
  };
  watchSources();
  return {
    close: () => {
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
    },
  };
};

// The template itself: its folder is watched (editors replace files), and a save reloads it into
// the running gateway (gateway.reload()). What cannot change in place (the stage, the tables)
// restarts the gateway on the same ports, and says so.
const watchTemplate = (template: string, onChange: () => Promise<void>, log: ReturnType<typeof createLogger>): { close(): void } => {
  const file = basename(template);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const watcher = watch(dirname(resolve(template)), (_, changed) => {
    if (changed !== null && String(changed) !== file) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(onChange).catch((error: Error) => log.error(`template reload failed: ${error.message}`));
    }, 150);
  });
  return {
    close: () => {
      clearTimeout(timer);
      watcher.close();
    },
  };
};

/** `ws-outbox dev [args]`: resolves once the gateway is up; it then runs until SIGINT or SIGTERM. */
export const runDev = async (args: string[]): Promise<void> => {
  const { values } = parseArgs({
    args: gatherParameterOverrides(args),
    options: {
      template: { type: 'string', short: 't' },
      'parameter-overrides': { type: 'string', multiple: true },
      static: { type: 'string' },
      'allowed-host': { type: 'string', multiple: true },
      'no-iam': { type: 'boolean' },
      'no-limits': { type: 'boolean' },
      'no-watch': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(devUsage);
    return;
  }
  const started = performance.now();
  const log = createLogger();
  const template = values.template ?? process.env.TEMPLATE ?? defaultTemplateFile();
  const options: Partial<GatewayOptions> = {
    template,
    port: portFrom('PORT', gatewayDefaults.port),
    dynamodbPort: portFrom('DYNAMODB_PORT', gatewayDefaults.dynamodbPort),
    stage: process.env.STAGE || undefined,
    // Unset: 9324, or a free port when DYNAMODB_PORT=0 (the gateway's rule).
    ...(process.env.SQS_PORT ? { sqsPort: portFrom('SQS_PORT', gatewayDefaults.sqsPort) } : {}),
    lambdaPort: portFrom('LAMBDA_PORT', gatewayDefaults.lambdaPort),
    region: process.env.AWS_REGION || gatewayDefaults.region,
    idleTimeoutMs: secondsFrom('IDLE_TIMEOUT_SECONDS', gatewayDefaults.idleTimeoutMs),
    maxDurationMs: secondsFrom('MAX_CONNECTION_SECONDS', gatewayDefaults.maxDurationMs),
    parameters: parseParameterOverrides(values['parameter-overrides'] ?? []),
    iam: !values['no-iam'],
    limits: !values['no-limits'],
    ...(values.static === undefined ? {} : { staticDir: checkedFolder(values.static) }),
    ...(values['allowed-host'] === undefined ? {} : { allowedHosts: values['allowed-host'] }),
    logger: log,
  };
  let gw = await startGateway(options);
  process.stdout.write(banner(gw, started));
  let watcher = values['no-watch'] ? undefined : watchAndRebuild(gw, log);

  const reloadTemplate = async () => {
    try {
      const { changes } = await gw.reload();
      log.info(`template reloaded: ${changes.length ? changes.join(', ') : 'no change to routes, functions, environment or policies'}; new invocations use it`);
    } catch (error) {
      if (!(error instanceof RestartRequired)) throw error;
      log.warn(`template changed: ${error.message}, which needs a restart: restarting the gateway (connections close, DynamoDB starts empty)…`);
      const restarted = performance.now();
      watcher?.close();
      const { port } = gw;
      const dynamodbPort = Number(new URL(gw.dynamodbEndpoint).port);
      const sqsPort = gw.sqsEndpoint ? Number(new URL(gw.sqsEndpoint).port) : options.sqsPort;
      const lambdaPort = Number(new URL(gw.lambdaEndpoint).port);
      await gw.stop();
      gw = await startGateway({ ...options, port, dynamodbPort, sqsPort, lambdaPort });
      watcher = values['no-watch'] ? undefined : watchAndRebuild(gw, log);
      process.stdout.write(banner(gw, restarted));
    }
  };
  const templateWatcher = values['no-watch'] ? undefined : watchTemplate(template, reloadTemplate, log);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`\n${signal}: stopping (closing sockets, ending instances, stopping DynamoDB and SQS)…`);
    templateWatcher?.close();
    watcher?.close();
    await gw.stop();
    if (gw.lateSends.length > 0) log.error(`${gw.lateSends.length} LATE SEND(s) during this session.`);
    log.info('stopped.');
    process.exit(0);
  };
  // SIGHUP (the terminal closed, an ssh session ended) stops it the same way: sockets closed,
  // instances ended, the temp folder removed, never a silent exit that leaves them behind.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
};
