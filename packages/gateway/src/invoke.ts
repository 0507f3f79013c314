// `ws-outbox invoke <FunctionLogicalId> <event.json>` (`npm run invoke -- …`): the Docker-free twin of
// `sam local invoke -e event.json --env-vars env.json`. The same bundle (build.mjs), the
// template's environment with env.json's overrides, a Lambda-like context and timeout, in a
// fresh worker process. Prints the function's output, its response and its delivery report.
//
// The endpoints come from env.json (host.docker.internal → 127.0.0.1). When nothing listens there
// (no `npm run dev`), it starts what is missing and says so: an embedded dynalite with the
// template's table, and a loopback @connections sink that accepts every id.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { connectionKey, connectionShards } from 'ws-outbox/store';
import { loadAppModel } from './app-model.ts';
import { defaultTemplateFile } from './template.ts';
import { buildBundles } from './bundles.ts';
import { describeBody, startConnectionsSink, type ConnectionsSink } from './connections-sink.ts';
import { localCredentials, startDynamo, type LocalDynamo } from './dynamodb.ts';
import { applyEnvOverrides, readEnvFile } from './env-file.ts';
import { FunctionPool } from './function-pool.ts';
import { InvocationLedger } from './invocations.ts';
import { createLogger } from './log.ts';
import { reachable } from './reachable.ts';
import { startWorkerGuard } from './worker-guard.ts';

export const invokeUsage = `usage: ws-outbox invoke <FunctionLogicalId> <event.json> [--template template.yaml] [--env-vars env.json] [--outdir dir]
  Runs one function of the template once, like sam local invoke, without Docker: its bundle, the
  template's environment with env.json's overrides, a Lambda-like context and timeout. Endpoints
  env.json names that do not answer are replaced by an embedded DynamoDB and a @connections sink.`;

const defaults = { envVars: 'env.json', region: 'us-east-1' };

const say = (line = '') => process.stdout.write(`${line}\n`);
const heading = (title: string) => say(`\n── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`);

const readEvent = (path: string): any => {
  if (!existsSync(path)) throw new Error(`No event file ${path}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
};

// The store's connection item (pk 'connections#<shard>', sk <id>), as $connect writes it: a fresh,
// empty DynamoDB knows no connection, and every route but $connect expects its caller to exist.
const seedCaller = async (endpoint: string, tableName: string, connectionId: string, region: string, env: Record<string, string>) => {
  const client = new DynamoDBClient({ endpoint, region, credentials: localCredentials });
  const now = Date.now();
  const { pk } = connectionKey(connectionId, connectionShards(undefined, env));
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: pk }, sk: { S: connectionId }, connectedAt: { N: String(now) }, ttl: { N: String(Math.floor(now / 1000) + 7200) } },
      }),
    );
  } finally {
    client.destroy();
  }
};

/** `ws-outbox invoke [args]`; resolves with the exit code (0 when the function returned, 1 when it failed). */
export const runInvoke = async (args: string[]): Promise<number> => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      template: { type: 'string', short: 't' },
      'env-vars': { type: 'string', short: 'n' },
      outdir: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    say(invokeUsage);
    return 0;
  }
  const [logicalId, eventPath] = positionals;
  if (!logicalId || !eventPath) throw new Error(`missing ${logicalId ? 'the event file' : 'the function'}\n${invokeUsage}`);
  const template = values.template ?? defaultTemplateFile();
  const model = loadAppModel(template, { region: defaults.region });
  const fn = model.functions.get(logicalId);
  if (!fn) throw new Error(`No function ${logicalId} in ${template}; it has ${[...model.functions.keys()].join(', ')}`);
  const event = readEvent(eventPath);

  const [built] = await buildBundles({ template, functions: [logicalId], outdir: values.outdir });
  say(
    `invoke ${logicalId}: ${relative(process.cwd(), built!.entry)} → ${relative(process.cwd(), built!.outfile)} (${(built!.bytes / 1024).toFixed(1)} KB), event ${eventPath}`,
  );

  // The environment: template, then env.json (declared variables only, as SAM does).
  const envPath = values['env-vars'] ?? (existsSync(defaults.envVars) ? defaults.envVars : undefined);
  let environment = fn.environment;
  if (envPath) {
    const o = applyEnvOverrides(logicalId, fn.environment, readEnvFile(envPath));
    environment = o.environment;
    if (o.applied.length) say(`env: ${envPath} sets ${o.applied.join(', ')}`);
    if (o.rewritten.length) say(`env: host.docker.internal → 127.0.0.1 in ${o.rewritten.join(', ')} (no Docker here: the function runs on this host)`);
    if (o.ignored.length) say(`env: ignored ${o.ignored.join(', ')} (not declared in the template; sam local invoke ignores them too)`);
  }

  // Endpoints: use what env.json names when it answers; otherwise start a local stand-in.
  const started: Array<LocalDynamo | ConnectionsSink> = [];
  let sink: ConnectionsSink | undefined;
  try {
    const dynamoUrl = environment.AWS_ENDPOINT_URL_DYNAMODB;
    if (!dynamoUrl || !(await reachable(dynamoUrl))) {
      const dynamo = await startDynamo({
        port: 0,
        tables: model.tables.map((t) => ({ ...t, definition: { ...t.definition, TableName: environment.TABLE_NAME ?? t.tableName } })),
      });
      started.push(dynamo);
      environment = { ...environment, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint };
      const connectionId = event?.requestContext?.connectionId;
      const seeded = connectionId && event.requestContext.eventType !== 'CONNECT' && environment.TABLE_NAME;
      if (seeded) await seedCaller(dynamo.endpoint, environment.TABLE_NAME!, connectionId, defaults.region, environment);
      say(
        `DynamoDB: ${dynamoUrl || '(none set)'} is not reachable → started an embedded dynalite at ${dynamo.endpoint} with table ${environment.TABLE_NAME ?? model.tables[0]?.tableName}` +
          (seeded ? `; seeded connection ${connectionId} as $connect would have` : ''),
      );
    } else {
      say(`DynamoDB: ${dynamoUrl}`);
    }
    const managementUrl = environment.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI;
    if (!managementUrl || !(await reachable(managementUrl))) {
      sink = await startConnectionsSink();
      started.push(sink);
      environment = { ...environment, AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI: sink.endpoint };
      say(`@connections: ${managementUrl || '(none set)'} is not reachable → started a loopback sink at ${sink.endpoint} (every id counts as connected)`);
    } else {
      say(`@connections: ${managementUrl}`);
    }

    const reports: unknown[] = [];
    const output: string[] = [];
    const log = createLogger({
      write: (text) => process.stdout.write(text),
    });
    heading(`${logicalId} output`);
    // The worker must not outlive this command, even one killed with SIGKILL or a test's timeout.
    const guard = startWorkerGuard({ log });
    const pool = new FunctionPool({
      fn: { ...fn, environment },
      codeFile: built!.outfile,
      env: {
        AWS_REGION: defaults.region,
        AWS_DEFAULT_REGION: defaults.region,
        AWS_SAM_LOCAL: 'true',
        AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
      },
      ledger: new InvocationLedger(),
      guard,
      maxInstances: 1,
      log: {
        ...log,
        fn: (_prefix, line) => {
          output.push(line);
          try {
            const parsed = JSON.parse(line);
            // The outbox's delivery reports and the fan-out worker's, as a JSON line or a structured logger's (Powertools: message).
            const msg = parsed?.msg ?? parsed?.message;
            if (typeof msg === 'string' && /^ws-outbox .*report$/.test(msg)) reports.push(parsed);
          } catch {
            // not a JSON log line
          }
          say(line);
        },
      },
    });
    const outcome = await pool.invoke(event, { route: event?.requestContext?.routeKey });
    await pool.stop();
    await guard.stop();
    if (output.length === 0) say('(no output)');

    const timing = `${outcome.durationMs.toFixed(0)} ms${outcome.initMs !== undefined ? `, init ${outcome.initMs} ms` : ''}, timeout ${fn.timeoutSeconds} s`;
    if (outcome.status === 'ok') {
      heading(`response (${timing})`);
      say(JSON.stringify(outcome.result, null, 2));
    } else if (outcome.status === 'timeout') {
      heading(`timed out (${timing})`);
      say(`Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`);
    } else {
      heading(`error (${timing})`);
      say(JSON.stringify(outcome.error, null, 2));
    }
    heading('delivery report');
    if (reports.length === 0) say('(none logged: the function sent nothing through the outbox, or logs below info)');
    for (const report of reports) say(JSON.stringify(report, null, 2));
    if (sink) {
      heading(`@connections requests (${sink.requests.length})`);
      for (const r of sink.requests) say(`${r.method.padEnd(6)} ${r.connectionId}  ${describeBody(r.body).slice(0, 200)}`);
    }
    return outcome.status === 'ok' ? 0 : 1;
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
};
