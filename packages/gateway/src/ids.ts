// Ids shaped like API Gateway's: connection, request and message ids are 11 random bytes in
// standard base64 (`L0SM9cOFvHcCIhw=`). They can contain `/` and `+`, so code that forgets to
// URL-encode them in the @connections path fails locally too.
import { randomBytes } from 'node:crypto';

export const newConnectionId = (): string => randomBytes(11).toString('base64');
export const newRequestId = (): string => randomBytes(11).toString('base64');
