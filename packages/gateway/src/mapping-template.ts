// API Gateway's request mapping templates (Velocity) for WebSocket integrations that are not
// Lambda proxy: a Lambda custom integration, an SQS or a DynamoDB service integration. What it
// renders:
//   - references: $input.body, $input.json('<path>'), $input.path('<path>'), $input.params(),
//     $input.params('<name>'), $context.<a.b>, $stageVariables.<x>, $util.escapeJavaScript(…),
//     $util.urlEncode(…), $util.urlDecode(…), $util.base64Encode(…), $util.base64Decode(…),
//     $util.parseJson(…) (as text), with paths `$`, `$.a.b`, `$.a[0]`; on maps `.get('k')`, `.k`,
//     `.keySet()`, `.size()`, `.containsKey('k')`;
//   - `#set($name = <expression>)`, where the expression is a literal (number, 'text', "text" with
//     references in it, true, false), a reference, or integer arithmetic (+ - * / %, parentheses)
//     of those; and `##` / `#* *#` comments.
// Other directives (#if, #foreach, …) are not evaluated: `unsupportedDirectives` names them, so
// the gateway can say what it will not do instead of sending something else quietly.

/** What a template reads: the event as the Lambda proxy integration would have it. */
export interface TemplateInput {
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: Record<string, unknown>;
  stageVariables?: Record<string, string>;
  /** The $connect handshake's headers (none on other routes). */
  headers?: Record<string, string>;
  /** The $connect handshake's query string (none on other routes). */
  queryStringParameters?: Record<string, string>;
}

/** Directives the renderer does not evaluate, as written (`#if`, …); empty when it renders the whole template. */
export const unsupportedDirectives = (template: string): string[] => [
  ...new Set(template.match(/#\{?(?:if|elseif|else|end|foreach|macro|define|break|stop|evaluate|parse|include)\b/g) ?? []),
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

// The lists a map's keySet() gives: Java collections, written as Java writes them.
const javaLists = new WeakSet<unknown[]>();
const javaList = (values: unknown[]): unknown[] => {
  javaLists.add(values);
  return values;
};

/**
 * A value as Velocity writes it. Maps and lists are Java's (`$input.params()` is a
 * Map<String, Map<String, String>>, and Java's toString gives `{path={}, querystring={a=1},
 * header={Host=x, Origin=y}}`: API Gateway's docs and examples show `$input.params()` rendered so).
 * Plain objects and arrays from the message or $context are written as JSON, as the renderer
 * always did.
 */
const text = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  if (value instanceof Map) return `{${[...value].map(([k, v]) => `${k}=${text(v)}`).join(', ')}}`;
  if (Array.isArray(value) && javaLists.has(value)) return `[${value.map(text).join(', ')}]`;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
};

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

/** `$input.params()`: path, querystring and header parameters (a WebSocket API has no path parameters). */
const paramsOf = (input: TemplateInput): Map<string, Map<string, string>> =>
  new Map([
    ['path', new Map<string, string>()],
    ['querystring', new Map(Object.entries(input.queryStringParameters ?? {}))],
    ['header', new Map(Object.entries(input.headers ?? {}))],
  ]);

/** `$input.params('x')`: the first of path, query string, header (header names in any case) named x. */
const paramNamed = (params: Map<string, Map<string, string>>, name: string): string | undefined => {
  for (const kind of ['path', 'querystring', 'header']) {
    const found = params.get(kind)!.get(name);
    if (found !== undefined) return found;
  }
  const lower = name.toLowerCase();
  return [...params.get('header')!].find(([k]) => k.toLowerCase() === lower)?.[1];
};

/** Velocity's arithmetic: numbers (integer division for integers); `+` with text joins; anything else is null. */
const arithmetic = (op: string, a: unknown, b: unknown): unknown => {
  if (typeof a === 'number' && typeof b === 'number') {
    const integers = Number.isInteger(a) && Number.isInteger(b);
    if (op === '+') return a + b;
    if (op === '-') return a - b;
    if (op === '*') return a * b;
    if (b === 0) return undefined; // Velocity: division by zero is null
    const q = op === '/' ? a / b : a % b;
    return integers && op === '/' ? Math.trunc(q) : q;
  }
  if (op === '+' && (typeof a === 'string' || typeof b === 'string') && a != null && b != null) return text(a) + text(b);
  return undefined;
};

const input$ = Symbol('$input');
const util$ = Symbol('$util');

/** Renders a request template for one message (see the top of this file for what it reads). */
export const renderTemplate = (template: string, input: TemplateInput): string => renderWith(template, input, new Map());

const renderWith = (template: string, input: TemplateInput, variables: Map<string, unknown>): string => {
  let at = 0;
  const body = () => parseBody(input.body ?? '');
  const context = { ...input.requestContext, isBase64Encoded: input.isBase64Encoded ?? false };
  const fail = (what: string): never => {
    throw new Error(`mapping template: ${what} at ${at}: ${JSON.stringify(template.slice(at, at + 30))}`);
  };
  const spaces = () => {
    while (/\s/.test(template[at] ?? '')) at++;
  };
  const expect = (char: string) => {
    spaces();
    if (template[at] !== char) fail(`expected ${char}`);
    at++;
  };
  const quoted = (): string => {
    const quote = template[at]!;
    const end = template.indexOf(quote, at + 1);
    if (end < 0) fail('unterminated string');
    const value = template.slice(at + 1, end);
    at = end + 1;
    // Double quotes interpolate references, as in Velocity.
    return quote === '"' ? renderWith(value, input, variables) : value;
  };

  // One member of a reference chain: a property, or a method with its arguments.
  const member = (target: unknown, name: string, args: unknown[] | undefined): unknown => {
    if (target === input$) {
      if (name === 'body' && args === undefined) return input.body ?? '';
      if (name === 'json' && args?.length === 1) return JSON.stringify(atPath(body(), text(args[0])) ?? null);
      if (name === 'path' && args?.length === 1) return atPath(body(), text(args[0]));
      if (name === 'params' && args?.length === 0) return paramsOf(input);
      if (name === 'params' && args?.length === 1) return paramNamed(paramsOf(input), text(args[0]));
      return fail(`$input.${name}${args ? '(…)' : ''} is not supported locally`);
    }
    if (target === util$) {
      const util = utilities[name];
      if (util === undefined || args?.length !== 1) return fail(`$util.${name} is not supported locally`);
      return util(text(args[0]));
    }
    if (target instanceof Map) {
      if (args === undefined) return target.get(name);
      if (name === 'get') return target.get(text(args[0]));
      if (name === 'keySet') return javaList([...target.keys()]);
      if (name === 'size') return target.size;
      if (name === 'containsKey') return target.has(text(args[0]));
      return undefined;
    }
    if (Array.isArray(target)) {
      if (name === 'size' && args?.length === 0) return target.length;
      if (name === 'get' && args?.length === 1) return target[Number(args[0])];
      return undefined;
    }
    if (target !== null && typeof target === 'object') {
      const key = args === undefined ? name : name === 'get' ? text(args[0]) : undefined;
      return key !== undefined && Object.hasOwn(target, key) ? (target as Record<string, unknown>)[key] : undefined;
    }
    return undefined;
  };

  const argumentsList = (): unknown[] => {
    at++; // (
    spaces();
    const args: unknown[] = [];
    if (template[at] === ')') {
      at++;
      return args;
    }
    for (;;) {
      args.push(expression());
      spaces();
      if (template[at] === ',') {
        at++;
        continue;
      }
      expect(')');
      return args;
    }
  };

  // A reference starting at `$` (at points at it): its value, how it was written and whether it is
  // quiet (`$!x`); undefined when what follows the `$` is not a reference.
  const reference = (): { value: unknown; written: string; quiet: boolean; known: boolean } | undefined => {
    const start = at;
    const head = /^\$(!?)(\{?)([A-Za-z][\w-]*)/.exec(template.slice(at));
    if (!head) return undefined;
    at += head[0].length;
    const [, bang, brace, root] = head;
    let value: unknown =
      root === 'input'
        ? input$
        : root === 'util'
          ? util$
          : root === 'context'
            ? context
            : root === 'stageVariables'
              ? (input.stageVariables ?? {})
              : variables.get(root!);
    // $context, $input and $stageVariables render missing members as nothing; an unset variable as written.
    const known = ['input', 'util', 'context', 'stageVariables'].includes(root!);
    for (;;) {
      const next = /^\.([A-Za-z][\w-]*)/.exec(template.slice(at));
      if (!next) break;
      at += next[0].length;
      const args = template[at] === '(' ? argumentsList() : undefined;
      value = member(value, next[1]!, args);
    }
    if (brace) {
      if (template[at] !== '}') fail('expected }');
      at++;
    }
    return { value, written: template.slice(start, at), quiet: bang === '!', known };
  };

  // #set expressions: literals, references, arithmetic with the usual precedence.
  const primary = (): unknown => {
    spaces();
    const c = template[at];
    if (c === '(') {
      at++;
      const value = expression();
      expect(')');
      return value;
    }
    if (c === "'" || c === '"') return quoted();
    if (c === '$') {
      const ref = reference();
      return ref === undefined ? fail('expected a reference') : ref.value;
    }
    if (c === '-') {
      at++;
      const value = primary();
      return typeof value === 'number' ? -value : undefined;
    }
    const literal = /^(\d+(?:\.\d+)?|true|false|null)\b/.exec(template.slice(at));
    if (!literal) return fail('expected a value');
    at += literal[0].length;
    return literal[1] === 'true' ? true : literal[1] === 'false' ? false : literal[1] === 'null' ? undefined : Number(literal[1]);
  };
  const binary = (operators: string, operand: () => unknown) => (): unknown => {
    let value = operand();
    for (;;) {
      spaces();
      const op = template[at];
      if (op === undefined || !operators.includes(op)) return value;
      at++;
      value = arithmetic(op, value, operand());
    }
  };
  const term = binary('*/%', primary);
  const expression = binary('+-', term);

  const setDirective = () => {
    at = template.indexOf('(', at) + 1;
    spaces();
    const target = /^\$!?\{?([A-Za-z][\w-]*)\}?/.exec(template.slice(at));
    if (!target) fail('#set needs a $variable on the left');
    at += target![0].length;
    if (template[at] === '.') fail('#set of a property is not supported locally');
    expect('=');
    const value = expression();
    expect(')');
    // Velocity leaves the variable as it was when the value is null.
    if (value !== undefined && value !== null) variables.set(target![1]!, value);
    // A #set that ends its line takes the line break with it.
    const eol = /^[ \t]*\r?\n/.exec(template.slice(at));
    if (eol) at += eol[0].length;
  };

  let out = '';
  while (at < template.length) {
    const rest = template.slice(at);
    const next = rest.search(/[$#]/);
    if (next < 0) {
      out += rest;
      break;
    }
    out += rest.slice(0, next);
    at += next;
    // `\$` and `\#` are escaped.
    if (at > 0 && template[at - 1] === '\\') {
      out = `${out.slice(0, -1)}${template[at]}`;
      at++;
      continue;
    }
    if (template[at] === '#') {
      if (/^#\{?set\s*\(/.test(template.slice(at))) setDirective();
      else if (template.startsWith('##', at)) at = template.includes('\n', at) ? template.indexOf('\n', at) + 1 : template.length;
      else if (template.startsWith('#*', at)) at = template.includes('*#', at) ? template.indexOf('*#', at) + 2 : template.length;
      else {
        out += '#';
        at++;
      }
      continue;
    }
    const ref = reference();
    if (ref === undefined) {
      out += '$';
      at++;
    } else if (ref.value === undefined || ref.value === null) {
      out += ref.quiet || ref.known ? '' : ref.written;
    } else {
      out += text(ref.value);
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
