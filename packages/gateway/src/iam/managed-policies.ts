// The AWS managed policies a WebSocket app's function is likely to name, reduced to what the local
// gateway can check (DynamoDB, execute-api and Lambda's Invoke). Another managed policy is reported once and
// grants nothing here: the gateway cannot know what it allows.

const statement = (actions: string[], resource = '*') => ({ Effect: 'Allow', Action: actions, Resource: resource });

export const managedPolicies: Readonly<Record<string, unknown[]>> = {
  AmazonDynamoDBFullAccess: [statement(['dynamodb:*'])],
  AmazonDynamoDBReadOnlyAccess: [
    statement([
      'dynamodb:BatchGetItem',
      'dynamodb:Describe*',
      'dynamodb:List*',
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:PartiQLSelect',
    ]),
  ],
  AmazonAPIGatewayInvokeFullAccess: [statement(['execute-api:Invoke', 'execute-api:ManageConnections'], 'arn:aws:execute-api:*:*:*')],
  AWSLambdaRole: [statement(['lambda:InvokeFunction'])],
  AWSLambda_FullAccess: [statement(['lambda:*'])],
  // Logs only: nothing the gateway serves.
  AWSLambdaBasicExecutionRole: [],
  AWSLambdaVPCAccessExecutionRole: [],
  AWSXRayDaemonWriteAccess: [],
  AWSLambdaDynamoDBExecutionRole: [statement(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'])],
};

/** The policy's statements by name or ARN (`arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`), or undefined. */
export const managedPolicy = (nameOrArn: string): unknown[] | undefined => managedPolicies[nameOrArn.split('/').at(-1)!];
