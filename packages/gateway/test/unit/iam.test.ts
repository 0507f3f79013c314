// The local IAM check's parts: statements from a function's template policies (inline, SAM policy
// templates, managed policies, a Role), IAM's decision (explicit Deny, Allow, wildcards, NotAction),
// and what a DynamoDB request needs (X-Amz-Target and the tables in its body).
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { accessesOf } from '../../src/dynamodb-front.ts';
import { decide } from '../../src/iam/evaluate.ts';
import { accessKeyOf } from '../../src/iam/identities.ts';
import { functionPolicy } from '../../src/iam/policies.ts';
import { dynamoDbPolicyTemplates } from '../../src/iam/sam-policy-templates.ts';
import { loadAppModel } from '../../src/app-model.ts';
import { repoRoot } from '../../../../test/helpers/node.ts';

const arn = (name: string) => `arn:aws:dynamodb:us-east-1:123456789012:table/${name}`;

describe('policies from the template', () => {
  it('expands DynamoDBCrudPolicy with the table named by a parameter, and resolves inline statements', () => {
    const model = loadAppModel(join(repoRoot, 'test/fixtures/apps/simple-chat/template.yaml'));
    const send = functionPolicy(model.functions.get('SendMessageFunction')!, model.template, model.refs);
    expect(send.unknown).toEqual([]);
    expect(send.statements).toEqual([
      {
        Effect: 'Allow',
        Action: dynamoDbPolicyTemplates.DynamoDBCrudPolicy,
        Resource: [arn('simplechat_connections'), `${arn('simplechat_connections')}/index/*`],
      },
      { Effect: 'Allow', Action: ['execute-api:ManageConnections'], Resource: ['arn:aws:execute-api:us-east-1:123456789012:localapi01/*'] },
    ]);
    expect(decide(send.statements, 'dynamodb:Scan', arn('simplechat_connections'))).toEqual({ allowed: true });
    expect(decide(send.statements, 'dynamodb:Scan', arn('other'))).toEqual({ allowed: false, explicit: false });
    expect(
      decide(send.statements, 'execute-api:ManageConnections', 'arn:aws:execute-api:us-east-1:123456789012:localapi01/Prod/POST/@connections/abc='),
    ).toEqual({ allowed: true });
  });

  it('DynamoDBWritePolicy has no GetItem and no DeleteItem, as SAM defines it', () => {
    const model = loadAppModel(join(repoRoot, 'test/fixtures/apps/ts-rooms/template.yaml'));
    const peek = functionPolicy(model.functions.get('PeekFunction')!, model.template, model.refs);
    expect(decide(peek.statements, 'dynamodb:PutItem', arn('ts-rooms-connections'))).toEqual({ allowed: true });
    expect(decide(peek.statements, 'dynamodb:GetItem', arn('ts-rooms-connections'))).toEqual({ allowed: false, explicit: false });
    expect(decide(peek.statements, 'dynamodb:DeleteItem', arn('ts-rooms-connections'))).toEqual({ allowed: false, explicit: false });
  });

  it('names what it cannot check: unknown managed policies and policy templates grant nothing', () => {
    const model = loadAppModel(join(repoRoot, 'test/fixtures/apps/ts-rooms/template.yaml'));
    const fn = model.functions.get('PeekFunction')!;
    const odd = { ...fn, spec: { ...fn.spec, policies: ['AWSSomethingManaged', { KMSDecryptPolicy: { KeyId: 'k' } }, 'AmazonDynamoDBFullAccess'] } };
    const policy = functionPolicy(odd, model.template, model.refs);
    expect(policy.unknown).toEqual([
      'managed policy AWSSomethingManaged (not known locally: it grants nothing here)',
      'SAM policy template KMSDecryptPolicy (not known locally: it grants nothing here)',
    ]);
    expect(decide(policy.statements, 'dynamodb:DeleteTable', arn('anything'))).toEqual({ allowed: true });
  });

  it('expands SQSSendMessagePolicy and SQSPollerPolicy on the queue they name, and nothing else on it', () => {
    const model = loadAppModel(join(repoRoot, 'test/fixtures/apps/ts-rooms/template.yaml'));
    const fn = model.functions.get('PeekFunction')!;
    const queue = 'arn:aws:sqs:us-east-1:123456789012:jobs';
    const sender = functionPolicy({ ...fn, spec: { ...fn.spec, policies: [{ SQSSendMessagePolicy: { QueueName: 'jobs' } }] } }, model.template, model.refs);
    expect(sender.unknown).toEqual([]);
    expect(decide(sender.statements, 'sqs:SendMessage', queue)).toEqual({ allowed: true });
    expect(decide(sender.statements, 'sqs:SendMessageBatch', queue)).toEqual({ allowed: true });
    expect(decide(sender.statements, 'sqs:SendMessage', `${queue}-other`)).toEqual({ allowed: false, explicit: false });
    expect(decide(sender.statements, 'sqs:ReceiveMessage', queue)).toEqual({ allowed: false, explicit: false });
    const poller = functionPolicy({ ...fn, spec: { ...fn.spec, policies: [{ SQSPollerPolicy: { QueueName: 'jobs' } }] } }, model.template, model.refs);
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessageBatch', 'sqs:ChangeMessageVisibility']) {
      expect({ action, decision: decide(poller.statements, action, queue) }).toEqual({ action, decision: { allowed: true } });
    }
    expect(decide(poller.statements, 'sqs:SendMessage', queue)).toEqual({ allowed: false, explicit: false });
  });
});

describe('IAM decisions', () => {
  const statements = [
    { Effect: 'Allow' as const, Action: ['dynamodb:Get*', 'DynamoDB:query'], Resource: [`${arn('t')}*`] },
    { Effect: 'Deny' as const, Action: ['dynamodb:GetItem'], Resource: [arn('t-secret')] },
    { Effect: 'Allow' as const, NotAction: ['dynamodb:Delete*'], Resource: [arn('open')] },
  ];
  it('an explicit Deny wins; wildcards in actions (any case) and resources; NotAction', () => {
    expect(decide(statements, 'dynamodb:GetItem', arn('t'))).toEqual({ allowed: true });
    expect(decide(statements, 'dynamodb:Query', `${arn('t')}/index/byName`)).toEqual({ allowed: true });
    expect(decide(statements, 'dynamodb:GetItem', arn('t-secret'))).toEqual({ allowed: false, explicit: true });
    expect(decide(statements, 'dynamodb:PutItem', arn('t'))).toEqual({ allowed: false, explicit: false });
    expect(decide(statements, 'dynamodb:PutItem', arn('open'))).toEqual({ allowed: true });
    expect(decide(statements, 'dynamodb:DeleteItem', arn('open'))).toEqual({ allowed: false, explicit: false });
  });

  it('reads the access key from a SigV4 Authorization header or a presigned query', () => {
    expect(
      accessKeyOf({ authorization: 'AWS4-HMAC-SHA256 Credential=ASIAABC/20261128/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00' }),
    ).toBe('ASIAABC');
    expect(accessKeyOf({}, '/x?X-Amz-Credential=ASIAXYZ%2F20261128%2Fus-east-1%2Fexecute-api%2Faws4_request')).toBe('ASIAXYZ');
    expect(accessKeyOf({})).toBeUndefined();
  });
});

describe('what a DynamoDB request needs', () => {
  it('one table, an index, batches and transactions', () => {
    expect(accessesOf('GetItem', { TableName: 't' }, arn)).toEqual([{ action: 'dynamodb:GetItem', resources: [arn('t')] }]);
    expect(accessesOf('Query', { TableName: 't', IndexName: 'byName' }, arn)).toEqual([{ action: 'dynamodb:Query', resources: [`${arn('t')}/index/byName`] }]);
    expect(accessesOf('BatchWriteItem', { RequestItems: { a: [], b: [] } }, arn)).toEqual([
      { action: 'dynamodb:BatchWriteItem', resources: [arn('a'), arn('b')] },
    ]);
    expect(accessesOf('TransactWriteItems', { TransactItems: [{ Put: { TableName: 'a' } }, { ConditionCheck: { TableName: 'b' } }] }, arn)).toEqual([
      { action: 'dynamodb:PutItem', resources: [arn('a')] },
      { action: 'dynamodb:ConditionCheckItem', resources: [arn('b')] },
    ]);
    expect(accessesOf('ListTables', {}, arn)).toEqual([{ action: 'dynamodb:ListTables', resources: [arn('*')] }]);
    expect(accessesOf('GetItem', 'not json', arn)).toBeUndefined();
  });
});
