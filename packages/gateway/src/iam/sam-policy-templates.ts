// The SAM policy templates apps use for DynamoDB, SQS and invoking another function, expanded as the SAM translator expands
// them (its policy_templates.json: the same actions, on the same resources). A function's
// `Policies` entry `- DynamoDBCrudPolicy: { TableName: !Ref Table }` becomes these statements.
// test/app/sam-build.test.ts checks them against the translator's own file when SAM CLI is installed.

const tableArn = 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}';
const queueArn = 'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}';
// The trailing `*` is the translator's: the function, its versions and its aliases.
const functionArn = 'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*';

/** Template name → its actions on `table/${TableName}` and `table/${TableName}/index/*`. */
export const dynamoDbPolicyTemplates: Readonly<Record<string, readonly string[]>> = {
  DynamoDBCrudPolicy: [
    'dynamodb:GetItem',
    'dynamodb:DeleteItem',
    'dynamodb:PutItem',
    'dynamodb:Scan',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:BatchGetItem',
    'dynamodb:DescribeTable',
    'dynamodb:ConditionCheckItem',
  ],
  DynamoDBReadPolicy: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:DescribeTable'],
  DynamoDBWritePolicy: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
};

/** Template name → its actions on the queue named `${QueueName}` (a spilling sender, a fan-out worker). */
export const sqsPolicyTemplates: Readonly<Record<string, readonly string[]>> = {
  SQSSendMessagePolicy: ['sqs:SendMessage*'],
  SQSPollerPolicy: [
    'sqs:ChangeMessageVisibility',
    'sqs:ChangeMessageVisibilityBatch',
    'sqs:DeleteMessage',
    'sqs:DeleteMessageBatch',
    'sqs:GetQueueAttributes',
    'sqs:ReceiveMessage',
  ],
};

/**
 * The statements of a SAM policy template entry, with `${AWS::…}` left for the caller's Fn::Sub,
 * or undefined when the template is not one of these.
 */
export const expandPolicyTemplate = (name: string, parameters: Record<string, unknown>): unknown[] | undefined => {
  // Fn::Sub with the table or queue name as a variable, as the translator writes it.
  const tableActions = dynamoDbPolicyTemplates[name];
  if (tableActions !== undefined) {
    const resource = (text: string) => ({ 'Fn::Sub': [text, { tableName: parameters.TableName }] });
    return [{ Effect: 'Allow', Action: [...tableActions], Resource: [tableArn, `${tableArn}/index/*`].map(resource) }];
  }
  const queueActions = sqsPolicyTemplates[name];
  if (queueActions !== undefined) {
    return [{ Effect: 'Allow', Action: [...queueActions], Resource: { 'Fn::Sub': [queueArn, { queueName: parameters.QueueName }] } }];
  }
  if (name === 'LambdaInvokePolicy') {
    return [{ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: { 'Fn::Sub': [functionArn, { functionName: parameters.FunctionName }] } }];
  }
  return undefined;
};
