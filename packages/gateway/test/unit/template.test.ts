// The template readers' small jobs, each on its own: CloudFormation intrinsics and conditions as
// the gateway resolves them, SAM's two --parameter-overrides forms, request mapping templates,
// and the handler rules of Lambda's Node runtime.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { evaluateCondition } from '../../src/template/conditions.ts';
import { resolveIntrinsics } from '../../src/template/intrinsics.ts';
import { gatherParameterOverrides, parseParameterOverrides } from '../../src/template/parameters.ts';
import { localRefs } from '../../src/template/refs.ts';
import { defaultTemplateFile, loadTemplate, parseTemplate } from '../../src/template/load.ts';
import { createTableInput, tablesOf } from '../../src/template/resources.ts';
import { renderTemplate, selectTemplate, unsupportedDirectives } from '../../src/mapping-template.ts';
import { sendMessageInput } from '../../src/route-targets.ts';
import { activeResources, callHandler, handlerFile, loadLambdaHandler, parseHandler } from '../../src/handler-loader.ts';

const template = parseTemplate(`
Parameters:
  Env: { Type: String, Default: dev }
  Units: { Type: Number, Default: 5 }
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition NotProd, !Equals [!Ref Units, '5']]
  Either: !Or [!Condition IsProd, !Equals [!Ref AWS::Region, us-east-1]]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub \${AWS::StackName}-\${Env}
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
      ProvisionedThroughput: { ReadCapacityUnits: !Ref Units, WriteCapacityUnits: !If [IsProd, 10, 1] }
  Simple:
    Type: AWS::Serverless::SimpleTable
`);

describe('intrinsics', () => {
  const refs = localRefs(template, { Table: 'local-table', 'Table.Arn': 'arn:aws:dynamodb:us-east-1:123456789012:table/local-table' });

  test('Ref, Sub (both forms, ${!literal}), GetAtt (both forms), Join, If and AWS::NoValue', () => {
    expect(resolveIntrinsics({ Ref: 'Env' }, refs)).toBe('dev');
    expect(resolveIntrinsics({ 'Fn::Sub': '${AWS::StackName}/${Table}/${!Kept}' }, refs)).toBe('ws-outbox-local/local-table/${Kept}');
    expect(resolveIntrinsics({ 'Fn::Sub': ['${A}-${Env}', { A: { Ref: 'Table' } }] }, refs)).toBe('local-table-dev');
    expect(resolveIntrinsics({ 'Fn::GetAtt': ['Table', 'Arn'] }, refs)).toMatch(/:table\/local-table$/);
    expect(resolveIntrinsics({ 'Fn::GetAtt': 'Table.Arn' }, refs)).toMatch(/:table\/local-table$/);
    expect(resolveIntrinsics({ 'Fn::Join': ['-', ['a', { Ref: 'Env' }]] }, refs)).toBe('a-dev');
    expect(resolveIntrinsics({ 'Fn::If': ['IsProd', 'big', 'small'] }, refs)).toBe('small');
    expect(resolveIntrinsics({ keep: 1, drop: { 'Fn::If': ['IsProd', 1, { Ref: 'AWS::NoValue' }] } }, refs)).toEqual({ keep: 1 });
    expect(resolveIntrinsics(['a', { Ref: 'AWS::NoValue' }, 'b'], refs)).toEqual(['a', 'b']);
  });

  test('anything it cannot resolve is an error that names where', () => {
    expect(() => resolveIntrinsics({ x: { Ref: 'Nope' } }, refs, 'Fn.Environment')).toThrow(/Cannot resolve Nope at Fn\.Environment\.x/);
    expect(() => resolveIntrinsics({ 'Fn::ImportValue': 'x' }, refs)).toThrow(/Cannot resolve Fn::ImportValue/);
    expect(() => resolveIntrinsics({ 'Fn::If': ['Unknown', 1, 2] }, refs)).toThrow(/names condition Unknown/);
  });

  test('a value without intrinsics comes back as it is (any JSON)', () => {
    const plain = fc.jsonValue().filter((v) => JSON.stringify(v).match(/"(Ref|Fn::[A-Za-z]+|Condition)"/) === null);
    fc.assert(
      fc.property(plain, (value) => {
        expect(resolveIntrinsics(value, refs)).toEqual(value);
      }),
    );
  });

  test('a table definition: capacities from parameters become numbers; a SimpleTable is a hash-keyed on-demand table', () => {
    const [table, simple] = tablesOf(template);
    const input = createTableInput(table!, 'local-table', (value, at) => resolveIntrinsics(value, refs, at));
    expect(input.ProvisionedThroughput).toEqual({ ReadCapacityUnits: 5, WriteCapacityUnits: 1 });
    expect(createTableInput(simple!, 'Simple')).toEqual({
      TableName: 'Simple',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    });
  });
});

describe('conditions', () => {
  test('Equals, Not, And, Or and Condition, from the parameters as they stand', () => {
    const dev = localRefs(template);
    expect([dev['Condition::IsProd'], dev['Condition::NotProd'], dev['Condition::Both'], dev['Condition::Either']]).toEqual(['false', 'true', 'true', 'true']);
    const prod = localRefs(template, { Env: 'prod', 'AWS::Region': 'eu-west-1' });
    expect([prod['Condition::IsProd'], prod['Condition::NotProd'], prod['Condition::Both'], prod['Condition::Either']]).toEqual([
      'true',
      'false',
      'false',
      'true',
    ]);
  });

  test('a condition that refers to itself, or to one that is not defined, is an error', () => {
    expect(() => evaluateCondition('A', { A: { Condition: 'B' }, B: { Condition: 'A' } }, {}, [])).toThrow(/refers to itself \(A → B → A\)/);
    expect(() => evaluateCondition('A', { A: { Condition: 'Missing' } }, {}, [])).toThrow(/Condition Missing is not defined/);
    expect(() => evaluateCondition('A', { A: { 'Fn::Contains': [] } }, {}, [])).toThrow(/Cannot evaluate Fn::Contains/);
  });
});

describe('--parameter-overrides', () => {
  test("SAM's words (several after one flag), quoted values, and the ParameterKey=,ParameterValue= form", () => {
    const args = gatherParameterOverrides([
      '--template',
      't.yaml',
      '--parameter-overrides',
      'A=1',
      'B=two words',
      '--no-iam',
      '--parameter-overrides',
      'ParameterKey=C,ParameterValue=x=y',
    ]);
    expect(args).toEqual([
      '--template',
      't.yaml',
      '--parameter-overrides',
      'A=1',
      '--parameter-overrides',
      'B=two words',
      '--no-iam',
      '--parameter-overrides',
      'ParameterKey=C,ParameterValue=x=y',
    ]);
    expect(parseParameterOverrides(['A=1 B="b c"', "D='e f'", 'ParameterKey=C,ParameterValue=x=y'])).toEqual({ A: '1', B: 'b c', D: 'e f', C: 'x=y' });
    expect(() => parseParameterOverrides('novalue')).toThrow(/expected Key=Value/);
    expect(gatherParameterOverrides(['--parameter-overrides'])).toEqual(['--parameter-overrides']);
  });
});

describe('request mapping templates', () => {
  const input = {
    body: JSON.stringify({ action: 'tell', a: { b: [1, 'two'] }, text: 'x y&z' }),
    requestContext: { connectionId: 'c1', stage: 'test', authorizer: { principalId: 'me' } },
    stageVariables: { v: 'sv' },
  };

  test('references: $input.body/json/path, $context (nested), $stageVariables, $util, an escaped dollar', () => {
    expect(
      renderTemplate(
        '{"c":"$context.connectionId","p":"$context.authorizer.principalId","a":$input.json(\'$.a\'),"b1":"$input.path(\'$.a.b[1]\')","s":"$stageVariables.v"}',
        input,
      ),
    ).toBe('{"c":"c1","p":"me","a":{"b":[1,"two"]},"b1":"two","s":"sv"}');
    expect(renderTemplate("Body=$util.urlEncode($input.json('$.text'))&Raw=$util.escapeJavaScript($input.body)", input)).toBe(
      `Body=%22x+y%26z%22&Raw=${JSON.stringify(input.body).slice(1, -1)}`,
    );
    expect(renderTemplate('cost: \\$5 $unknown', input)).toBe('cost: $5 $unknown');
  });

  test('#set with literals, references and integer arithmetic; the variable renders, an unset one stays as written', () => {
    const at = { ...input, requestContext: { ...input.requestContext, requestTimeEpoch: 1_700_000_000_000 } };
    const template = [
      '#set($ttl = $context.requestTimeEpoch + 86400)',
      '#set( $who = "id-$context.connectionId" )',
      "#set($label = 'plain $text')",
      '#set($n = (7 - 2) * 3 / 2 % 4)',
      '#set($neg = -$n + 1)',
      '{"ttl":"$ttl","who":"$who","label":"$label","n":$n,"neg":$neg,"quiet":"$!unset","loud":"$unset"}',
    ].join('\n');
    // Each #set line takes its line break with it; 15 / 2 is 7 in integer arithmetic, 7 % 4 is 3.
    expect(renderTemplate(template, at)).toBe('{"ttl":"1700000086400","who":"id-c1","label":"plain $text","n":3,"neg":-2,"quiet":"","loud":"$unset"}');
    // A later #set replaces the value; a null (division by zero) leaves it as it was, as in Velocity.
    expect(renderTemplate('#set($a = 1)#set($a = $a + 1)#set($a = $a / 0)$a', at)).toBe('2');
    expect(() => renderTemplate('#set($a.b = 1)', at)).toThrow(/property is not supported/);
  });

  test("$input.params(): the handshake's headers and query string, rendered as Velocity writes a Java map", () => {
    const handshake = { ...input, headers: { Host: 'example.com', 'X-Name': 'a b' }, queryStringParameters: { token: 't1' } };
    expect(renderTemplate("$input.params().get('header')|$input.params().get('querystring')|$input.params().path", handshake)).toBe(
      '{Host=example.com, X-Name=a b}|{token=t1}|{}',
    );
    expect(renderTemplate('$input.params()', handshake)).toBe('{path={}, querystring={token=t1}, header={Host=example.com, X-Name=a b}}');
    // One name: path, then query string, then header (any case).
    expect(renderTemplate("$input.params('token') $input.params('x-name') $input.params().header.keySet() $input.params('none')", handshake)).toBe(
      't1 a b [Host, X-Name] ',
    );
    // A list from the message stays JSON, as before; only a map's keySet() is a Java list.
    expect(renderTemplate("$input.path('$.a.b')", handshake)).toBe('[1,"two"]');
    // A message has no handshake: empty maps.
    expect(renderTemplate('$input.params()', input)).toBe('{path={}, querystring={}, header={}}');
  });

  test('directives other than #set are named, not evaluated; the template is picked by its selection expression', () => {
    expect(unsupportedDirectives('#set($x = 1)#if($x)y#else z#end #foreach($i in $l)#end')).toEqual(['#if', '#else', '#end', '#foreach']);
    expect(selectTemplate({ $default: 'd', tell: 't' }, '\\$default', '{}')).toBe('d');
    expect(selectTemplate({ $default: 'd', tell: 't' }, '$request.body.action', '{"action":"tell"}')).toBe('t');
    expect(selectTemplate({ 'application/json': 'only' }, undefined, '{}')).toBe('only');
    expect(selectTemplate({ a: '1', b: '2' }, undefined, '{}')).toBeUndefined();
  });

  test('an SQS SendMessage form becomes its SendMessage input', () => {
    expect(
      sendMessageInput(
        'Action=SendMessage&MessageGroupId=g&MessageBody=%7B%7D&MessageAttribute.1.Name=from&MessageAttribute.1.Value.StringValue=c1&MessageAttribute.1.Value.DataType=String',
        'https://q',
      ),
    ).toEqual({
      QueueUrl: 'https://q',
      MessageBody: '{}',
      MessageGroupId: 'g',
      MessageDeduplicationId: undefined,
      DelaySeconds: undefined,
      MessageAttributes: { from: { DataType: 'String', StringValue: 'c1' } },
    });
    expect(() => sendMessageInput('Action=SendMessageBatch', 'https://q')).toThrow(/only SendMessage/);
  });
});

describe("Lambda's handler rules", () => {
  test('the handler string: a module in a folder, a nested name, and names Lambda refuses', () => {
    expect(parseHandler('src/app.handler')).toEqual({ moduleRoot: 'src', moduleName: 'app', handlerName: 'handler' });
    expect(parseHandler('index.a.b')).toEqual({ moduleRoot: '', moduleName: 'index', handlerName: 'a.b' });
    expect(() => parseHandler('../up.handler')).toThrow(expect.objectContaining({ name: 'Runtime.MalformedHandlerName' }));
    expect(() => parseHandler('nodot')).toThrow(expect.objectContaining({ name: 'Runtime.MalformedHandlerName' }));
  });

  test("extensions in Lambda's order, the default export's names, missing handlers and callbacks by runtime", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-outbox-loader-'));
    try {
      mkdirSync(join(dir, 'lib'));
      writeFileSync(join(dir, 'lib', 'both.js'), 'exports.handler = async () => "js";');
      writeFileSync(join(dir, 'lib', 'both.mjs'), 'export const handler = async () => "mjs";');
      writeFileSync(join(dir, 'package.json'), '{}');
      writeFileSync(join(dir, 'cb.cjs'), 'module.exports = { handler: (e, c, callback) => callback(null, "cb"), plain: () => "ignored" };');
      expect(handlerFile(dir, 'lib/both.handler')).toBe(join(dir, 'lib', 'both.js'));
      const js = await loadLambdaHandler(dir, 'lib/both.handler', 'nodejs24.x');
      expect(await callHandler(js, {}, { callbackWaitsForEmptyEventLoop: true }, 'nodejs24.x')).toBe('js');
      await expect(loadLambdaHandler(dir, 'lib/both.nothing', 'nodejs24.x')).rejects.toMatchObject({
        name: 'Runtime.HandlerNotFound',
        message: 'lib/both.nothing is undefined or not exported',
      });
      await expect(loadLambdaHandler(dir, 'absent.handler', 'nodejs24.x')).rejects.toMatchObject({ name: 'Runtime.ImportModuleError' });
      await expect(loadLambdaHandler(dir, 'cb.handler', 'nodejs24.x')).rejects.toMatchObject({ name: 'Runtime.CallbackHandlerDeprecated' });
      const cb = await loadLambdaHandler(dir, 'cb.handler', 'nodejs22.x');
      expect(await callHandler(cb, {}, { callbackWaitsForEmptyEventLoop: true }, 'nodejs22.x')).toBe('cb');
      // A non-promise return value is ignored by the callback runtimes (null), as on Lambda.
      const plain = await loadLambdaHandler(dir, 'cb.plain', 'nodejs20.x');
      expect(await callHandler(plain, {}, { callbackWaitsForEmptyEventLoop: true }, 'nodejs20.x')).toBeNull();
      // The SDK v2: gone from the runtimes since nodejs18.x; shipped by the deprecated older ones.
      writeFileSync(join(dir, 'v2.cjs'), "const AWS = require('aws-sdk'); exports.handler = async () => AWS;");
      await expect(loadLambdaHandler(dir, 'v2.handler', 'nodejs20.x')).rejects.toThrow(/nodejs20\.x has no aws-sdk \(v2\)/);
      await expect(loadLambdaHandler(dir, 'v2.handler', 'nodejs16.x')).rejects.toThrow(
        /nodejs16\.x shipped aws-sdk \(v2\) on Lambda, but that runtime is deprecated/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Lambda's callback runtimes answer a callback once the event loop is empty, while
// callbackWaitsForEmptyEventLoop is true (the default): work the handler left running finishes
// first. A returned promise answers at once, and so does a callback after the handler set it false.
describe('callbackWaitsForEmptyEventLoop', () => {
  const settleWork = () => new Promise((resolve) => setTimeout(resolve, 120));
  type Cb = (error: unknown, result?: unknown) => void;
  type Ctx = { callbackWaitsForEmptyEventLoop: boolean };

  // Run in a quiet child process, as the runtime worker runs it: the wait counts everything alive
  // in the process, and jest's own worker holds timers of its own that come and go (one that ended
  // mid-wait hid the handler's timer from a count taken here, and the answer went early in CI).
  test('true (the default): the work left after the callback has finished when the answer goes', () => {
    const loader = pathToFileURL(join(import.meta.dirname, '../../src/handler-loader.ts')).href;
    const script = `
      const { activeResources, callHandler } = await import(${JSON.stringify(loader)});
      const baseline = activeResources();
      const context = () => ({ callbackWaitsForEmptyEventLoop: true });
      let work = 'pending';
      const timer = (event, ctx, callback) => {
        callback(null, 'done');
        setTimeout(() => { work = 'finished'; }, 60);
      };
      const first = [await callHandler(timer, {}, context(), 'nodejs22.x', baseline), work];
      // Work deferred with setImmediate, and what it starts in turn, finishes first too.
      work = 'pending';
      const deferred = (event, ctx, callback) => {
        callback(null, 'deferred');
        setImmediate(() => setTimeout(() => { work = 'immediate, then a timer'; }, 30));
      };
      const second = [await callHandler(deferred, {}, context(), 'nodejs22.x', baseline), work];
      process.stdout.write(JSON.stringify({ first, second }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    if (run.status !== 0) throw new Error(`the child failed (${run.status ?? run.signal}): ${run.stderr}`);
    expect(JSON.parse(run.stdout)).toEqual({ first: ['done', 'finished'], second: ['deferred', 'immediate, then a timer'] });
  });

  // A handler without a callback parameter that answers through context.succeed waits for the
  // empty event loop on two counts (its callback, and having returned nothing). The two waits
  // once polled side by side, each counted the other's timer as work left, and never finished:
  // the function timed out (a CI run's `legacy` route).
  test('a handler without a callback parameter that calls context.succeed, now or later, answers once the loop is empty', () => {
    const loader = pathToFileURL(join(import.meta.dirname, '../../src/handler-loader.ts')).href;
    const script = `
      const { activeResources, callHandler } = await import(${JSON.stringify(loader)});
      const baseline = activeResources();
      const now = (event, context) => { context.succeed({ statusCode: 201 }); };
      const later = (event, context) => { setTimeout(() => context.succeed({ statusCode: 202 }), 5); };
      const results = [];
      for (let i = 0; i < 40; i++) results.push(await callHandler(i % 2 ? later : now, {}, { callbackWaitsForEmptyEventLoop: true }, 'nodejs22.x', baseline));
      process.stdout.write(JSON.stringify(results.map((r) => r.statusCode)));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    if (run.status !== 0) throw new Error(`the child failed or hung (${run.status ?? run.signal}): ${run.stderr}`);
    expect(JSON.parse(run.stdout)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 ? 202 : 201)));
  });

  test('set false by the handler, or an async handler: the answer goes at once', async () => {
    let work = 'pending';
    const eager = (_event: unknown, context: Ctx, callback: Cb) => {
      context.callbackWaitsForEmptyEventLoop = false;
      callback(null, 'now');
      setTimeout(() => {
        work = 'late';
      }, 60);
    };
    expect(await callHandler(eager as never, {}, { callbackWaitsForEmptyEventLoop: true }, 'nodejs22.x', activeResources())).toBe('now');
    expect(work).toBe('pending');
    await settleWork();
    work = 'pending';
    const promised = async () => {
      setTimeout(() => {
        work = 'late';
      }, 60);
      return 'promised';
    };
    expect(await callHandler(promised as never, {}, { callbackWaitsForEmptyEventLoop: true }, 'nodejs20.x', activeResources())).toBe('promised');
    expect(work).toBe('pending');
    await settleWork();
  });
});

// SAM CLI reads template.yaml, template.yml or template.json, the first that exists, when no
// --template is given (samcli SAM_TEMPLATE_FILE_NAMES). Public apps ship template.yml.
describe('the default template file', () => {
  test.each([
    [['template.yml'], 'template.yml'],
    [['template.json'], 'template.json'],
    [['template.yml', 'template.json'], 'template.yml'],
    [['template.json', 'template.yml', 'template.yaml'], 'template.yaml'],
    [[], 'template.yaml'],
  ])('with %j in the folder it is %s', (files, expected) => {
    const dir = mkdtempSync(join(tmpdir(), 'tpl-default-'));
    try {
      for (const file of files) writeFileSync(join(dir, file), 'Resources: {}\n');
      expect(defaultTemplateFile(dir)).toBe(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a template.json loads (JSON is YAML), and a missing one names all three defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpl-json-'));
    try {
      writeFileSync(join(dir, 'template.json'), JSON.stringify({ Resources: { T: { Type: 'AWS::DynamoDB::Table', Properties: {} } } }));
      expect(loadTemplate(join(dir, defaultTemplateFile(dir))).Resources.T!.Type).toBe('AWS::DynamoDB::Table');
      expect(() => loadTemplate(join(dir, 'template.yaml'))).toThrow(/template\.yaml, template\.yml or template\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
