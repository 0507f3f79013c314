// Ids shaped like API Gateway's: connection, request and message ids are 11 random bytes in
// base64's URL-safe alphabet with its `=` pad (`ZDb-VclrIAMCJ3w=`, `L0SM9cOFvHcCIhw=`). AWS never
// hands out `+` or `/`, and apps rely on that: a request template that writes
// `$context.connectionId` into a form-encoded SQS body unescaped works on AWS, and would turn a
// `+` into a space here. The `=` still has to be URL-encoded in the @connections path by SigV4's
// rules, so code that forgets to encode the id fails locally as on AWS.
import { randomBytes } from 'node:crypto';

const apiGatewayId = (): string => `${randomBytes(11).toString('base64url')}=`;

export const newConnectionId = apiGatewayId;
export const newRequestId = apiGatewayId;
