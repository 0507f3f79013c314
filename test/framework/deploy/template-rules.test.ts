// The template rules (test/helpers/template-rules.ts) on a template with routes of its own
// (test/fixtures/rules/template.yaml): it passes, and each way of breaking a rule is caught with a
// message that names the function and what is wrong. The example app's template.yaml is checked
// by the same rules in test/app/template.test.ts.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { loadTemplate, localRefs, parseTemplate, resolveIntrinsics, type Template } from '../../../packages/gateway/src/template.ts';
import { repoRoot } from '../../helpers/node.ts';
import { dynamoViolations, manageConnectionsViolations, routeViolations, templateViolations, ttlViolations } from '../../helpers/template-rules.ts';

const fixturePath = join(repoRoot, 'test/fixtures/rules/template.yaml');

/** A fresh copy of the fixture, changed by `edit` (functionsOf still resolves handlers from the fixture's folder). */
const edited = (edit: (t: Template) => void): Template => {
  const template = loadTemplate(fixturePath);
  edit(template);
  return template;
};
const policies = (t: Template, id: string): any[] => t.Resources[id]!.Properties!.Policies;
const manageStatement = (t: Template, id: string): any => policies(t, id)[0].Statement.find((s: any) => s.Action === 'execute-api:ManageConnections');

describe('template rules on a template with routes of its own', () => {
  it('hold for the fixture', () => {
    expect(templateViolations(loadTemplate(fixturePath))).toEqual([]);
  });

  it('parses CloudFormation short-form tags into their long form', () => {
    const t = parseTemplate('Resources:\n  A: { Type: X, Properties: { R: !Ref B, G: !GetAtt B.Arn, S: !Sub "${B}-x", J: !Join [",", [a, !Ref B]] } }\n');
    expect(t.Resources.A!.Properties).toEqual({
      R: { Ref: 'B' },
      G: { 'Fn::GetAtt': ['B', 'Arn'] },
      S: { 'Fn::Sub': '${B}-x' },
      J: { 'Fn::Join': [',', ['a', { Ref: 'B' }]] },
    });
  });

  it('resolve the ManageConnections ARN to this API id and stage, never a wildcard API or stage', () => {
    const t = loadTemplate(fixturePath);
    const refs = localRefs(t, { Socket: 'a1b2c3d4e5', Env: 'prod' });
    expect(resolveIntrinsics(manageStatement(t, 'PingFunction').Resource, refs)).toBe(
      'arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*',
    );
  });
});

describe('every route has a function', () => {
  it('catches a route whose function is not in the template', () => {
    const t = edited((t) => {
      t.Resources.Socket!.Properties!.Routes.ping = { FunctionArn: { 'Fn::GetAtt': ['PongFunction', 'Arn'] } };
    });
    expect(routeViolations(t)).toEqual(['Route ping of Socket does not point at a function of this template (got PongFunction)']);
    expect(templateViolations(t)).toEqual(routeViolations(t));
  });

  it('catches a function without its handler file, naming where it looked', () => {
    const t = edited((t) => {
      t.Resources.PingFunction!.Properties!.CodeUri = 'dist/pong/';
    });
    expect(routeViolations(t)).toEqual([
      expect.stringMatching(
        /^PingFunction: no handler file \(looked for .*handlers\/pong\.ts, .*handlers\/pong\.mts, .*handlers\/pong\.js, .*handlers\/pong\.mjs, .*dist\/pong\/index\.ts, .*dist\/pong\/index\.cjs\)$/,
      ),
    ]);
  });
});

describe('ManageConnections on exactly the functions that can post, scoped to their API and stage', () => {
  it('catches a message route without it (the outbox posts at least the error reply there)', () => {
    const t = edited((t) => {
      policies(t, 'FallbackFunction')[0].Statement.pop();
    });
    expect(manageConnectionsViolations(t)).toEqual([
      "FallbackFunction serves $default but has no execute-api:ManageConnections on Socket's stage for POST/@connections/*",
    ]);
  });

  it('catches a $disconnect whose handler posts, without it', () => {
    const t = edited((t) => {
      policies(t, 'ByeFunction')[0].Statement.pop();
    });
    expect(manageConnectionsViolations(t)).toEqual([
      "ByeFunction posts from its handler but has no execute-api:ManageConnections on Socket's stage for POST/@connections/*",
    ]);
  });

  it('catches it on a function that cannot post ($connect: the connection does not exist yet)', () => {
    const t = edited((t) => {
      policies(t, 'HelloFunction')[0].Statement.push(manageStatement(t, 'PingFunction'));
    });
    expect(manageConnectionsViolations(t)).toEqual(['HelloFunction cannot post (routes: $connect) but has execute-api permissions']);
  });

  it('catches a wildcard stage, another API, and a wildcard action', () => {
    const stage = edited((t) => {
      manageStatement(t, 'PingFunction').Resource = {
        'Fn::Sub': 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Socket}/*/POST/@connections/*',
      };
    });
    expect(manageConnectionsViolations(stage)).toEqual([
      "PingFunction serves ping but has no execute-api:ManageConnections on Socket's stage for POST/@connections/*",
      'PingFunction: ManageConnections on arn:aws:execute-api:us-east-1:123456789012:API_ID/*/POST/@connections/*, which is not its API and stage (or a method it does not use)',
    ]);
    const api = edited((t) => {
      manageStatement(t, 'PingFunction').Resource = 'arn:aws:execute-api:us-east-1:123456789012:otherapi/test/POST/@connections/*';
    });
    expect(manageConnectionsViolations(api)).toContain(
      'PingFunction: ManageConnections on arn:aws:execute-api:us-east-1:123456789012:otherapi/test/POST/@connections/*, which is not its API and stage (or a method it does not use)',
    );
    const action = edited((t) => {
      manageStatement(t, 'PingFunction').Action = 'execute-api:*';
    });
    expect(manageConnectionsViolations(action)).toContain('PingFunction: execute-api actions other than ManageConnections: execute-api:*');
    expect(dynamoViolations(action)).toContain('PingFunction: wildcard action execute-api:*');
  });

  it('needs DELETE for a function that disconnects clients, and no DELETE for one that does not', () => {
    const kick = edited((t) => {
      manageStatement(t, 'KickFunction').Resource.pop();
    });
    expect(manageConnectionsViolations(kick)).toEqual([
      "KickFunction disconnects clients but has no execute-api:ManageConnections on Socket's stage for DELETE/@connections/*",
    ]);
    const ping = edited((t) => {
      manageStatement(t, 'PingFunction').Resource = manageStatement(t, 'KickFunction').Resource;
    });
    expect(manageConnectionsViolations(ping)).toEqual([
      expect.stringMatching(/^PingFunction: ManageConnections on .*API_ID\/STAGE\/DELETE\/@connections\/\*, which is not/),
    ]);
  });

  it('refuses policies it cannot read (a SAM DynamoDB policy template, a managed policy)', () => {
    const t = edited((t) => {
      policies(t, 'PingFunction').push({ DynamoDBCrudPolicy: { TableName: { Ref: 'Sessions' } } }, 'arn:aws:iam::aws:policy/AmazonAPIGatewayInvokeFullAccess');
    });
    expect(dynamoViolations(t)).toEqual([
      'PingFunction: policy {"DynamoDBCrudPolicy":{"TableName":{"Ref":"Sessions"}}} is not an inline { Statement: [...] }, so what it grants cannot be checked',
      'PingFunction: policy "arn:aws:iam::aws:policy/AmazonAPIGatewayInvokeFullAccess" is not an inline { Statement: [...] }, so what it grants cannot be checked',
    ]);
  });
});

describe("DynamoDB only on the app's table", () => {
  it('catches another table, a wildcard resource and a wildcard action', () => {
    const other = edited((t) => {
      policies(t, 'PingFunction')[0].Statement[0].Resource = 'arn:aws:dynamodb:us-east-1:123456789012:table/Billing';
    });
    expect(dynamoViolations(other)).toEqual(['PingFunction: DynamoDB actions on arn:aws:dynamodb:us-east-1:123456789012:table/Billing, not on Sessions']);
    const star = edited((t) => {
      policies(t, 'HelloFunction')[0].Statement[0].Resource = '*';
    });
    expect(dynamoViolations(star)).toEqual(['HelloFunction: wildcard resource for dynamodb:PutItem', 'HelloFunction: DynamoDB actions on *, not on Sessions']);
    const action = edited((t) => {
      policies(t, 'HelloFunction')[0].Statement[0].Action = 'dynamodb:*';
    });
    expect(dynamoViolations(action)).toEqual(['HelloFunction: wildcard action dynamodb:*']);
  });

  it("allows the table's indexes", () => {
    const t = edited((t) => {
      policies(t, 'ByeFunction')[0].Statement[0].Resource = [{ 'Fn::GetAtt': ['Sessions', 'Arn'] }, { 'Fn::Sub': '${Sessions.Arn}/index/*' }];
    });
    expect(dynamoViolations(t)).toEqual([]);
  });
});

describe('TTL on the attribute the store writes (the real store on dynalite)', () => {
  it('holds for the fixture', async () => {
    expect(await ttlViolations(loadTemplate(fixturePath))).toEqual([]);
  });

  it('catches TTL on another attribute, and no TTL at all', async () => {
    const other = edited((t) => {
      t.Resources.Sessions!.Properties!.TimeToLiveSpecification.AttributeName = 'expiresAt';
    });
    const violations = await ttlViolations(other);
    expect(violations).toHaveLength(2); // the connection and the membership
    expect(violations[0]).toMatch(/^Sessions: TTL is on "expiresAt", but the store's item .* has undefined there$/);
    const none = edited((t) => {
      delete t.Resources.Sessions!.Properties!.TimeToLiveSpecification;
    });
    expect(await ttlViolations(none)).toEqual(["Sessions: no TimeToLiveSpecification enabled; the store's rows would never expire"]);
  });
});
