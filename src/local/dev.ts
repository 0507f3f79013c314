// `npm run dev`: the local gateway on loopback, from template.yaml. Prints where everything is,
// rebuilds when handlers/, src/ or middleware/ change, and stops cleanly on Ctrl-C or SIGTERM.
//
//   PORT (3001)            WebSocket API, @connections management API, demo page
//   DYNAMODB_PORT (8000)   embedded DynamoDB (dynalite, in memory)
//   SQS_PORT (9324)        embedded SQS (fauxqs, in memory), when the template has queues
//   TEMPLATE (template.yaml), STAGE (local), AWS_REGION (us-east-1)
import { watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startGateway, gatewayDefaults, type Gateway } from './gateway.ts';
import { createLogger } from './log.ts';

const watched = ['handlers', 'src', 'middleware'];

const portFrom = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number (0–65535), got ${JSON.stringify(raw)}`);
  return port;
};

const eventSources = (gw: Gateway): string[][] => [...gw.model.functions.values()].flatMap((fn) => fn.spec.sqsEvents.map((e) => [
  'Event source',
  `${gw.queues.get(e.queue)?.name ?? e.queue} → ${fn.logicalId} (batch ${e.batchSize}, at most ${e.maximumConcurrency ?? 'pool'} at once${e.reportBatchItemFailures ? ', partial batch failures' : ''})`,
]));

const banner = (gw: Gateway, started: number): string => {
  const routes = [...gw.model.routes].map(([key, fn]) => `${key} → ${fn}`).join(', ');
  const rows = [
    ['Demo page', `http://127.0.0.1:${gw.port}/`],
    ['WebSocket API', `${gw.wsUrl}   (also ${gw.wsUrl}/${gw.managementEndpoint.split('/').pop()})`],
    ['Management API', `${gw.managementEndpoint}/@connections/{id}`],
    ['DynamoDB', `${gw.dynamodbEndpoint}   table ${gw.tableName ?? '(none)'}`],
    ...(gw.sqsEndpoint ? [['SQS', `${gw.sqsEndpoint}   queues ${[...gw.queues.values()].map((q) => q.name).join(', ')}`]] : []),
    ['Routes', routes],
    ...eventSources(gw),
    ['Try', `npx wscat -c '${gw.wsUrl}?name=alice'   then  {"action":"join","room":"lobby"}`],
  ];
  const width = Math.max(...rows.map(([k]) => k!.length));
  return [
    '',
    `ws-outbox local gateway ready in ${Math.round(performance.now() - started)} ms (${gw.built.length} functions built)`,
    ...rows.map(([k, v]) => `  ${k!.padEnd(width)}  ${v}`),
    '  Handlers are frozen when their promise settles, as on Lambda; un-awaited sends show as LATE SEND.',
    '  Ctrl-C to stop. Edits to handlers/, src/ and middleware/ rebuild the bundles.',
    '',
  ].join('\n');
};

// Many editors write a file in several steps: wait for the burst to end, never rebuild twice at
// once, and rebuild once more if files changed during a build.
const watchAndRebuild = (gw: Gateway, log: ReturnType<typeof createLogger>): FSWatcher[] => {
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
  return watched.map((dir) => watch(resolve(dir), { recursive: true }, (_, file) => {
    if (file && (String(file).includes('node_modules') || String(file).includes('local/demo') || !/\.(ts|mts|js|mjs|json)$/.test(String(file)))) return;
    clearTimeout(timer);
    timer = setTimeout(rebuild, 150);
  }));
};

const main = async (): Promise<void> => {
  const { values } = parseArgs({
    options: {
      template: { type: 'string', short: 't' },
      'no-watch': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run dev [-- --template template.yaml] [-- --no-watch]\n  env: PORT (3001), DYNAMODB_PORT (8000), SQS_PORT (9324), STAGE (local), AWS_REGION (us-east-1)');
    return;
  }
  const started = performance.now();
  const log = createLogger();
  const gw = await startGateway({
    template: values.template ?? process.env.TEMPLATE ?? gatewayDefaults.template,
    port: portFrom('PORT', gatewayDefaults.port),
    dynamodbPort: portFrom('DYNAMODB_PORT', gatewayDefaults.dynamodbPort),
    sqsPort: portFrom('SQS_PORT', gatewayDefaults.sqsPort),
    stage: process.env.STAGE || gatewayDefaults.stage,
    region: process.env.AWS_REGION || gatewayDefaults.region,
    logger: log,
  });
  process.stdout.write(banner(gw, started));
  const watchers = values['no-watch'] ? [] : watchAndRebuild(gw, log);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`\n${signal}: stopping (closing sockets, ending instances, stopping DynamoDB and SQS)…`);
    for (const w of watchers) w.close();
    await gw.stop();
    if (gw.lateSends.length > 0) log.error(`${gw.lateSends.length} LATE SEND(s) during this session.`);
    log.info('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
};

main().catch((error: Error) => {
  console.error(`npm run dev: ${error.message}`);
  process.exit(1);
});
