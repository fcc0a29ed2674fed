// A small reader of ARM template expressions, enough to check infra/azuredeploy.json here (the ARM
// what-if/validate APIs need an Azure subscription, and no offline ARM validator can be installed):
// it parses every "[...]" expression, so typos in function names, unbalanced quotes and references to
// undeclared parameters or variables fail the tests, and it evaluates the subset the app settings use.

export type ArmNode =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: ArmNode[] }
  | { kind: 'property'; target: ArmNode; name: string }
  | { kind: 'index'; target: ArmNode; index: ArmNode };

/** ARM template functions (learn.microsoft.com/azure/azure-resource-manager/templates/template-functions). */
export const ARM_FUNCTIONS = new Set([
  'array', 'concat', 'contains', 'createArray', 'createObject', 'empty', 'first', 'flatten', 'indexOf', 'intersection',
  'items', 'join', 'last', 'lastIndexOf', 'length', 'max', 'min', 'range', 'skip', 'take', 'union', 'filter', 'map',
  'reduce', 'sort', 'toObject', 'lambda', 'lambdaVariables', 'tryGet', 'coalesce', 'equals', 'greater',
  'greaterOrEquals', 'less', 'lessOrEquals', 'and', 'bool', 'false', 'if', 'not', 'or', 'true', 'int', 'float',
  'json', 'null', 'string', 'base64', 'base64ToJson', 'base64ToString', 'dataUri', 'dataUriToString', 'endsWith',
  'format', 'guid', 'newGuid', 'padLeft', 'replace', 'split', 'startsWith', 'substring', 'toLower', 'toUpper', 'trim',
  'uniqueString', 'uri', 'uriComponent', 'uriComponentToString', 'utcNow', 'dateTimeAdd', 'parameters', 'variables',
  'reference', 'references', 'resourceId', 'subscriptionResourceId', 'resourceGroupResourceId', 'tenantResourceId',
  'extensionResourceId', 'resourceGroup', 'subscription', 'tenant', 'managementGroup', 'environment', 'deployment',
  'copyIndex', 'listKeys', 'listSecrets', 'pickZones', 'providers', 'mod', 'mul', 'div', 'add', 'sub',
]);

export class ArmParseError extends Error {}

/** Parses the inside of "[...]" (without the brackets). */
export function parseExpression(text: string): ArmNode {
  let i = 0;
  const fail = (what: string): never => {
    throw new ArmParseError(`${what} at ${i} in [${text}]`);
  };
  const skip = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const expect = (c: string): void => {
    skip();
    if (text[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const primary = (): ArmNode => {
    skip();
    const c = text[i];
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      return { kind: 'string', value };
    }
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      return { kind: 'number', value: Number(num[0]) };
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!ident) return fail('expected a value');
    i += ident[0].length;
    expect('(');
    const args: ArmNode[] = [];
    skip();
    if (text[i] === ')') i++;
    else {
      for (;;) {
        args.push(expression());
        skip();
        if (text[i] === ',') {
          i++;
          continue;
        }
        expect(')');
        break;
      }
    }
    return { kind: 'call', name: ident[0], args };
  };
  const expression = (): ArmNode => {
    let node = primary();
    for (;;) {
      skip();
      if (text[i] === '.') {
        i++;
        const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
        if (!name) fail('expected a property name');
        i += name![0].length;
        node = { kind: 'property', target: node, name: name![0] };
      } else if (text[i] === '[') {
        i++;
        const index = expression();
        expect(']');
        node = { kind: 'index', target: node, index };
      } else return node;
    }
  };
  const node = expression();
  skip();
  if (i !== text.length) fail('unexpected trailing text');
  return node;
}

/** The expression of a template string, or undefined for a literal ("[[" escapes a literal "["). */
export function expressionOf(value: string): ArmNode | undefined {
  if (!value.startsWith('[') || value.startsWith('[[') || !value.endsWith(']')) return undefined;
  return parseExpression(value.slice(1, -1));
}

export function* walkNodes(node: ArmNode): Generator<ArmNode> {
  yield node;
  if (node.kind === 'call') for (const a of node.args) yield* walkNodes(a);
  if (node.kind === 'property') yield* walkNodes(node.target);
  if (node.kind === 'index') {
    yield* walkNodes(node.target);
    yield* walkNodes(node.index);
  }
}

/** Every string value in a JSON tree, with its path; keys too (ARM evaluates expression keys). */
export function* walkStrings(value: unknown, path = '$'): Generator<{ path: string; value: string }> {
  if (typeof value === 'string') yield { path, value };
  else if (Array.isArray(value)) for (let k = 0; k < value.length; k++) yield* walkStrings(value[k], `${path}[${k}]`);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      yield { path: `${path}{key}`, value: k };
      yield* walkStrings(v, `${path}.${k}`);
    }
  }
}

/** Calls of `fn('literal')` in every expression of a JSON tree: the literal names. */
export function referencedNames(tree: unknown, fn: 'parameters' | 'variables'): string[] {
  const names: string[] = [];
  for (const { value } of walkStrings(tree)) {
    const node = expressionOf(value);
    if (!node) continue;
    for (const n of walkNodes(node)) {
      if (n.kind === 'call' && n.name === fn && n.args[0]?.kind === 'string') names.push(n.args[0].value);
    }
  }
  return names;
}

export interface EvalContext {
  parameters: Record<string, unknown>;
  variables: Record<string, unknown>;
  /** reference(id, version).<property> → stand-in values, keyed by the property read. */
  referenceProperties: Record<string, unknown>;
  subscriptionId: string;
  resourceGroupId: string;
  resourceManager: string;
  /** copyIndex() inside a copy loop. */
  copyIndex?: number;
}

/**
 * Evaluates the subset of ARM functions that the template's app settings and names use, with
 * stand-ins for what only Azure knows (reference(), resourceId()). Throws on anything else.
 */
export function evaluate(value: unknown, ctx: EvalContext, lambdas: Record<string, unknown> = {}): unknown {
  if (typeof value === 'string') {
    const node = expressionOf(value);
    return node ? evalNode(node, ctx, lambdas) : value.startsWith('[[') ? value.slice(1) : value;
  }
  if (Array.isArray(value)) return value.map((v) => evaluate(v, ctx, lambdas));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluate(v, ctx, lambdas)]));
  }
  return value;
}

function evalNode(node: ArmNode, ctx: EvalContext, lambdas: Record<string, unknown>): unknown {
  switch (node.kind) {
    case 'string':
    case 'number':
      return node.value;
    case 'property': {
      if (node.target.kind === 'call' && node.target.name === 'reference') {
        if (!(node.name in ctx.referenceProperties)) throw new Error(`no stand-in for reference().${node.name}`);
        return ctx.referenceProperties[node.name];
      }
      const target = evalNode(node.target, ctx, lambdas) as Record<string, unknown>;
      return target[node.name];
    }
    case 'index': {
      const target = evalNode(node.target, ctx, lambdas) as Record<string, unknown>;
      return target[String(evalNode(node.index, ctx, lambdas))];
    }
    case 'call':
      break;
  }
  const args = (k: number): unknown => evalNode(node.args[k]!, ctx, lambdas);
  const all = (): unknown[] => node.args.map((a) => evalNode(a, ctx, lambdas));
  switch (node.name) {
    case 'parameters':
      return ctx.parameters[String(args(0))];
    case 'variables': {
      const name = String(args(0));
      if (!(name in ctx.variables)) throw new Error(`undeclared variable ${name}`);
      return evaluate(ctx.variables[name], ctx);
    }
    case 'string':
      return typeof args(0) === 'string' ? args(0) : JSON.stringify(args(0));
    case 'format': {
      const [f, ...rest] = all();
      return String(f).replace(/\{(\d+)\}/g, (_m, k: string) => String(rest[Number(k)]));
    }
    case 'join':
      return (args(0) as unknown[]).join(String(args(1)));
    case 'createArray':
      return all();
    case 'createObject': {
      const a = all();
      const o: Record<string, unknown> = {};
      for (let k = 0; k < a.length; k += 2) o[String(a[k])] = a[k + 1];
      return o;
    }
    case 'if':
      return args(0) ? args(1) : args(2);
    case 'empty': {
      const v = args(0);
      return v === '' || v === null || v === undefined || (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0);
    }
    case 'equals':
      return JSON.stringify(args(0)) === JSON.stringify(args(1));
    case 'union': {
      const a = all();
      if (Array.isArray(a[0])) return [...new Set(a.flatMap((x) => x as unknown[]))];
      return Object.assign({}, ...(a as object[]));
    }
    case 'toLower':
      return String(args(0)).toLowerCase();
    case 'length': {
      const v = args(0);
      return typeof v === 'string' || Array.isArray(v) ? v.length : Object.keys(v as object).length;
    }
    case 'replace':
      return String(args(0)).split(String(args(1))).join(String(args(2)));
    case 'take': {
      const v = args(0);
      return typeof v === 'string' ? v.slice(0, Number(args(1))) : (v as unknown[]).slice(0, Number(args(1)));
    }
    case 'uniqueString':
      return 'uniq' + all().join('').length.toString(36).padStart(9, '0');
    case 'subscription':
      return { subscriptionId: ctx.subscriptionId, id: `/subscriptions/${ctx.subscriptionId}` };
    case 'resourceGroup':
      return { id: ctx.resourceGroupId, location: 'westeurope' };
    case 'environment':
      return { resourceManager: ctx.resourceManager };
    case 'map': {
      const list = args(0) as unknown[];
      const lambda = node.args[1]!;
      if (lambda.kind !== 'call' || lambda.name !== 'lambda') throw new Error('map needs a lambda');
      const name = String(evalNode(lambda.args[0]!, ctx, lambdas));
      return list.map((item) => evalNode(lambda.args[1]!, ctx, { ...lambdas, [name]: item }));
    }
    case 'lambdaVariables':
      return lambdas[String(args(0))];
    case 'copyIndex':
      if (ctx.copyIndex === undefined) throw new Error('copyIndex() outside a copy loop');
      return ctx.copyIndex + (node.args.length > 0 ? Number(args(0)) : 0);
    case 'resourceId': {
      // The same-resource-group form only: resourceId('Ns/type/child', 'name', 'childName').
      const [type, ...names] = all().map(String);
      const [namespace, ...types] = type!.split('/');
      return `${ctx.resourceGroupId}/providers/${namespace}/${types.map((t, k) => `${t}/${names[k]}`).join('/')}`;
    }
    default:
      throw new Error(`evaluate: ${node.name}() is not supported here`);
  }
}
