// The SAM policy templates apps use for DynamoDB, expanded as the SAM translator expands them
// (its policy_templates.json: the same actions, on the table and its indexes). A function's
// `Policies` entry `- DynamoDBCrudPolicy: { TableName: !Ref Table }` becomes these statements.
// test/framework/deploy checks them against the translator's own file when SAM CLI is installed.

const tableArn = 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}';

/** Template name → its actions on `table/${TableName}` and `table/${TableName}/index/*`. */
export const dynamoDbPolicyTemplates: Readonly<Record<string, readonly string[]>> = {
  DynamoDBCrudPolicy: [
    'dynamodb:GetItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:Query', 'dynamodb:UpdateItem',
    'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:ConditionCheckItem',
  ],
  DynamoDBReadPolicy: ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:DescribeTable'],
  DynamoDBWritePolicy: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
};

/**
 * The statements of a SAM policy template entry, with `${AWS::…}` left for the caller's Fn::Sub,
 * or undefined when the template is not one of these.
 */
export const expandPolicyTemplate = (name: string, parameters: Record<string, unknown>): unknown[] | undefined => {
  const actions = dynamoDbPolicyTemplates[name];
  if (actions === undefined) return undefined;
  // Fn::Sub with the table name as a variable, as the translator writes it.
  const resource = (text: string) => ({ 'Fn::Sub': [text, { tableName: parameters.TableName }] });
  return [{ Effect: 'Allow', Action: [...actions], Resource: [tableArn, `${tableArn}/index/*`].map(resource) }];
};
