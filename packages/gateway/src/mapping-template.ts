// API Gateway's request mapping templates (Velocity) for WebSocket integrations that are not
// Lambda proxy: a Lambda custom integration, an SQS service integration. The templates these APIs
// carry are mostly references, so this renders references only:
//   $input.body, $input.json('<path>'), $input.path('<path>'), $context.<a.b>, $stageVariables.<x>,
//   $util.escapeJavaScript(…), $util.urlEncode(…), $util.urlDecode(…), $util.base64Encode(…),
//   $util.base64Decode(…), $util.parseJson(…) (as text), with paths `$`, `$.a.b`, `$.a[0]`.
// A directive (#set, #if, #foreach) is not evaluated: `unsupportedDirectives` names it, so the
// gateway can say what it will not do instead of sending something else quietly.

/** What a template reads: the message as the proxy event has it. */
export interface TemplateInput {
  body: string;
  isBase64Encoded?: boolean;
  requestContext: Record<string, unknown>;
  stageVariables?: Record<string, string>;
}

/** Directives the renderer does not evaluate, as written (`#if`, …); empty when it renders the whole template. */
export const unsupportedDirectives = (template: string): string[] => [
  ...new Set(template.match(/#(?:set|if|elseif|else|end|foreach|macro|define|break|stop)\b/g) ?? []),
];

const parseBody = (body: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
};

/** A JSONPath of the simple kind templates use: `$`, `$.a.b`, `$.a[0]`, `$['a']`. */
const atPath = (root: unknown, path: string): unknown => {
  const steps = [...path.replace(/^\$/, '').matchAll(/\.([^.[\]]+)|\[(\d+)\]|\['([^']+)'\]/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  return steps.reduce<unknown>((value, step) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[step] : undefined), root);
};

const lookup = (root: unknown, dotted: string): unknown =>
  dotted.split('.').reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), root);

const text = (value: unknown): string => (value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));

const utilities: Record<string, (value: string) => string> = {
  // Velocity's escapeJavaScript: quotes, backslashes and control characters, for a JS/JSON string.
  escapeJavaScript: (v) => JSON.stringify(v).slice(1, -1).replace(/'/g, "\\'"),
  urlEncode: (v) =>
    encodeURIComponent(v)
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, '+'),
  urlDecode: (v) => decodeURIComponent(v.replace(/\+/g, ' ')),
  base64Encode: (v) => Buffer.from(v).toString('base64'),
  base64Decode: (v) => Buffer.from(v, 'base64').toString(),
  parseJson: (v) => v,
};

/** Renders a request template for one message (see the top of this file for what it reads). */
export const renderTemplate = (template: string, input: TemplateInput): string => {
  let at = 0;
  const body = () => parseBody(input.body);
  const context = { ...input.requestContext, isBase64Encoded: input.isBase64Encoded ?? false };
  const quoted = (): string => {
    const quote = template[at];
    if (quote !== "'" && quote !== '"') throw new Error(`mapping template: expected a quoted path at ${at}`);
    const end = template.indexOf(quote, at + 1);
    const value = template.slice(at + 1, end);
    at = end + 1;
    return value;
  };
  const expect = (char: string) => {
    while (template[at] === ' ') at++;
    if (template[at] !== char) throw new Error(`mapping template: expected ${char} at ${at}`);
    at++;
  };
  // One reference starting at `$` (at points at it); returns its text, or undefined when it is not one.
  const reference = (): string | undefined => {
    const rest = template.slice(at);
    const name = /^\$!?\{?([A-Za-z][\w]*(?:\.[A-Za-z][\w-]*)*)\}?/.exec(rest);
    if (!name) return undefined;
    const dotted = name[1]!;
    const call = /^(input\.(?:json|path)|util\.(\w+))$/.exec(dotted);
    if (call && template[at + name[0].length] === '(') {
      at += name[0].length + 1;
      let value: string;
      if (dotted === 'input.json' || dotted === 'input.path') {
        while (template[at] === ' ') at++;
        const found = atPath(body(), quoted());
        value = dotted === 'input.json' ? JSON.stringify(found ?? null) : text(found);
      } else {
        while (template[at] === ' ') at++;
        const argument = template[at] === '$' ? (reference() ?? '') : quoted();
        const util = utilities[call[2]!];
        if (util === undefined) throw new Error(`mapping template: $util.${call[2]} is not supported locally`);
        value = util(argument);
      }
      expect(')');
      return value;
    }
    at += name[0].length;
    if (dotted === 'input.body') return input.body;
    if (dotted.startsWith('context.')) return text(lookup(context, dotted.slice('context.'.length)));
    if (dotted.startsWith('stageVariables.')) return text(input.stageVariables?.[dotted.slice('stageVariables.'.length)]);
    // Anything else is a Velocity variable the template never set: it renders as written.
    return name[0];
  };
  let out = '';
  while (at < template.length) {
    const next = template.indexOf('$', at);
    if (next < 0) {
      out += template.slice(at);
      break;
    }
    out += template.slice(at, next);
    at = next;
    // `\$` is an escaped dollar.
    if (next > 0 && template[next - 1] === '\\') {
      out = `${out.slice(0, -1)}$`;
      at++;
      continue;
    }
    const value = reference();
    if (value === undefined) {
      out += '$';
      at++;
    } else {
      out += value;
    }
  }
  return out;
};

/**
 * The template API Gateway picks for a message: the key the TemplateSelectionExpression gives
 * (`\$default` is the literal `$default`; `$request.body.<path>` reads the message), else
 * `$default`, else the only template there is. Undefined: no template applies (passthrough).
 */
export const selectTemplate = (templates: Record<string, string>, expression: string | undefined, body: string): string | undefined => {
  let key: string | undefined;
  if (expression !== undefined) {
    const fromBody = /^\$request\.body\.(.+)$/.exec(expression)?.[1];
    key = fromBody === undefined ? expression.replace(/^\\\$/, '$') : text(atPath(parseBody(body), `$.${fromBody}`));
  }
  if (key !== undefined && templates[key] !== undefined) return templates[key];
  if (templates.$default !== undefined) return templates.$default;
  const keys = Object.keys(templates);
  return keys.length === 1 ? templates[keys[0]!] : undefined;
};
