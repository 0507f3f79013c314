// API Gateway's route selection: evaluate the expression (`$request.body.action`, or any
// `$request.body.<path>`) against the JSON message, use the route with that key, and fall back to
// `$default` when the message is not JSON, the value is missing, or no route has that key.

export type RouteChoice = { route: string } | { route: undefined; reason: string };

const compile = (expression: string): string[] => {
  const match = /^\$\{?request\.body\.([A-Za-z0-9_$.-]+)\}?$/.exec(expression.trim());
  if (!match) throw new Error(`Unsupported RouteSelectionExpression ${JSON.stringify(expression)}: the local gateway understands $request.body.<path>`);
  return match[1]!.split('.');
};

export const routeSelector = (expression: string, routes: Iterable<string>) => {
  const path = compile(expression);
  // $connect and $disconnect are never selected by a message.
  const messageRoutes = new Set([...routes].filter((r) => r !== '$connect' && r !== '$disconnect'));
  const fallback = (reason: string): RouteChoice => (messageRoutes.has('$default') ? { route: '$default' } : { route: undefined, reason });
  return (text: string | undefined): RouteChoice => {
    if (text === undefined) return fallback('binary message');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return fallback('message is not JSON');
    }
    for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return fallback('no route selection value');
    const key = String(value);
    if (messageRoutes.has(key) && key !== '$default') return { route: key };
    return fallback(`no route for ${key}`);
  };
};
