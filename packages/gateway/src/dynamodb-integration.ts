// A DynamoDB service integration on a WebSocket route (IntegrationType AWS, IntegrationUri
// `arn:aws:apigateway:<region>:dynamodb:action/<Action>`, RequestTemplates, CredentialsArn). API
// Gateway renders the selected request template for the message ($connect: the handshake) and sends
// the text as the JSON body of DynamoDB's <Action> (X-Amz-Target: DynamoDB_20120810.<Action>),
// signed as the role CredentialsArn names. Locally the same text goes to the embedded DynamoDB, as
// it is (so a body DynamoDB would refuse is refused by it, not by the gateway), after the role's
// statements (iam/policies.ts, iam/evaluate.ts) are checked for the action on every table the body
// names, as IAM would check the role. A refusal or a DynamoDB error fails the route as a failed
// integration does: $connect refuses the connection, another route answers `Internal server error`.
import { randomUUID } from 'node:crypto';
import type { AppModel } from './app-model.ts';
import { dynamodbActionOf } from './app-model.ts';
import { localCredentials } from './dynamodb.ts';
import { accessesOf } from './dynamodb-front.ts';
import { decide } from './iam/evaluate.ts';
import { rolePolicy } from './iam/policies.ts';
import type { InvokeOutcome } from './function-pool.ts';
import type { Logger } from './log.ts';
import { renderTemplate, selectTemplate, type TemplateInput } from './mapping-template.ts';
import type { RouteTarget } from './route-targets.ts';
import type { RouteIntegration } from './template.ts';

export interface DynamoIntegrationOptions {
  /** The embedded DynamoDB's endpoint (http://127.0.0.1:<port>). */
  endpoint: string;
  /** Check the CredentialsArn role's statements (`--no-iam`: false). */
  iam: boolean;
  region: string;
  accountId: string;
  log: Pick<Logger, 'error' | 'warn'>;
}

const failed = (started: number, requestId: string, errorType: string, errorMessage: string): InvokeOutcome => ({
  status: 'error',
  requestId,
  error: { errorType, errorMessage },
  durationMs: performance.now() - started,
});

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Why the role may not send this body (one line for the log, and AWS's own message), or undefined
 * when it may. The tables' ARNs are the local account's and region's, as the role's Resource names them.
 */
const refusal = (
  role: { roleId: string; statements: Parameters<typeof decide>[0] },
  action: string,
  body: unknown,
  opts: DynamoIntegrationOptions,
): { line: string; message: string } | undefined => {
  const tableArn = (name: string) => (name.startsWith('arn:') ? name : `arn:aws:dynamodb:${opts.region}:${opts.accountId}:table/${name}`);
  for (const access of accessesOf(action, body, tableArn) ?? []) {
    for (const resource of access.resources) {
      const decision = decide(role.statements, access.action, resource);
      if (decision.allowed) continue;
      const why = decision.explicit
        ? 'with an explicit deny in an identity-based policy'
        : `because no identity-based policy allows the ${access.action} action`;
      return {
        line: decision.explicit
          ? `a Deny statement of role ${role.roleId} matches ${access.action} on ${resource}; remove or narrow it`
          : `role ${role.roleId} (its CredentialsArn) has no statement allowing ${access.action} on ${resource}. ` +
            `Missing statement in its Policies:  - Statement: [{ Effect: Allow, Action: ${access.action}, Resource: ${resource} }]`,
        message: `User: arn:aws:sts::${opts.accountId}:assumed-role/${role.roleId}/apigateway is not authorized to perform: ${access.action} on resource: ${resource} ${why}`,
      };
    }
  }
  return undefined;
};

/** A route whose integration is DynamoDB's `action`: its rendered template is that action's request. */
export const dynamodbTarget = (
  integration: RouteIntegration,
  model: Pick<AppModel, 'template' | 'refs' | 'stageVariables'>,
  opts: DynamoIntegrationOptions,
): RouteTarget => {
  const action = dynamodbActionOf(integration.uri)!;
  const where = `route ${integration.routeKey} (${integration.integrationId ?? integration.routeKey})`;
  const role = integration.credentialsArn === undefined ? undefined : rolePolicy(model.template, integration.credentialsArn, model.refs);
  if (opts.iam && integration.credentialsArn !== undefined && role === undefined) {
    opts.log.warn(
      `IAM: ${where}: CredentialsArn ${JSON.stringify(integration.credentialsArn)} is not a role of this template; its DynamoDB calls are not checked`,
    );
  }
  if (opts.iam) for (const line of role?.unknown ?? []) opts.log.warn(`IAM: ${where}: role ${role!.roleId}: ${line}`);
  return {
    name: `DynamoDB ${action}`,
    invoke: async (event) => {
      const started = performance.now();
      const message = event as TemplateInput;
      const requestId = String(message.requestContext.requestId ?? randomUUID());
      if (integration.credentialsArn === undefined) {
        return failed(started, requestId, 'Local.NoCredentials', `${where} has no CredentialsArn: API Gateway has no role to call DynamoDB ${action} with`);
      }
      const template = selectTemplate(integration.requestTemplates, integration.templateSelectionExpression, message.body ?? '');
      if (template === undefined) return failed(started, requestId, 'UnsupportedMediaType', `no request template of ${where} matches the message`);
      let body: string;
      try {
        body = renderTemplate(template, { ...message, stageVariables: model.stageVariables });
      } catch (error) {
        return failed(started, requestId, 'MappingTemplateError', (error as Error).message);
      }
      const request = parsed(body);
      if (request === undefined) {
        // DynamoDB's own answer to a body that is not JSON.
        return failed(started, requestId, 'SerializationException', `the rendered request template of ${where} is not JSON: ${body.slice(0, 200)}`);
      }
      if (opts.iam && role !== undefined) {
        const refused = refusal(role, action, request, opts);
        if (refused) {
          opts.log.error(`IAM: ${where} calls DynamoDB ${action}: ${refused.line}`);
          return failed(started, requestId, 'AccessDeniedException', refused.message);
        }
      }
      try {
        // The gateway's own call, not a function's: the DynamoDB front lets it through unchecked
        // (the role was checked above), and dynalite reads the Authorization header's form only.
        const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
        const answer = await fetch(opts.endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `DynamoDB_20120810.${action}`,
            'x-amz-date': amzDate,
            authorization:
              `AWS4-HMAC-SHA256 Credential=${localCredentials.accessKeyId}/${amzDate.slice(0, 8)}/${opts.region}/dynamodb/aws4_request, ` +
              'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0',
          },
          body,
        });
        const text = await answer.text();
        if (!answer.ok) {
          const error = (parsed(text) ?? {}) as { __type?: string; message?: string; Message?: string };
          return failed(started, requestId, error.__type?.split('#').pop() ?? `HTTP ${answer.status}`, error.message ?? error.Message ?? text.slice(0, 300));
        }
        return { status: 'ok', requestId, result: { statusCode: 200, body: text }, durationMs: performance.now() - started };
      } catch (error) {
        return failed(started, requestId, 'DynamoDBUnreachable', `DynamoDB at ${opts.endpoint}: ${(error as Error).message}`);
      }
    },
  };
};
