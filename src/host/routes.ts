// HTTP route templates as the Functions host reads them (ASP.NET routing): literal segments match
// case-insensitively, `{id}` captures one segment, `{id?}` an optional last segment, `{id:int}` adds a
// constraint, `{*rest}` captures the remainder of the path (possibly empty). A route without a template is
// the function's name.

export class RouteTemplateError extends Error {
  override readonly name = 'RouteTemplateError';
}

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; constraint?: Constraint }
  | { kind: 'catchAll'; name: string };

type Constraint = 'int' | 'long' | 'guid' | 'alpha' | 'bool';

const CONSTRAINTS: Record<Constraint, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  guid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  alpha: /^[a-z]+$/i,
  bool: /^(true|false)$/i,
};

export interface CompiledRoute {
  template: string;
  segments: readonly Segment[];
  /** Higher is more specific: literals beat parameters, which beat constrained-less catch-alls. */
  precedence: number[];
}

export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const parts = trimmed === '' ? [] : trimmed.split('/');
  const segments: Segment[] = parts.map((part, i) => {
    const m = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?(\?)?\}$/.exec(part);
    if (m === null) {
      if (/[{}]/.test(part)) throw new RouteTemplateError(`route '${template}': segment '${part}' is not a literal or a {parameter}`);
      if (part === '') throw new RouteTemplateError(`route '${template}' has an empty segment`);
      return { kind: 'literal', text: part.toLowerCase() };
    }
    const [, star, name, constraint, optional] = m;
    if (star !== undefined) {
      if (i !== parts.length - 1) throw new RouteTemplateError(`route '${template}': catch-all {*${name}} must be the last segment`);
      return { kind: 'catchAll', name: name! };
    }
    if (optional !== undefined && i !== parts.length - 1) {
      throw new RouteTemplateError(`route '${template}': optional {${name}?} must be the last segment`);
    }
    if (constraint !== undefined && !(constraint.toLowerCase() in CONSTRAINTS)) {
      throw new RouteTemplateError(`route '${template}': constraint '${constraint}' is not supported by the local host (${Object.keys(CONSTRAINTS).join(', ')})`);
    }
    const seg: Segment = { kind: 'param', name: name!, optional: optional !== undefined };
    if (constraint !== undefined) seg.constraint = constraint.toLowerCase() as Constraint;
    return seg;
  });
  const names = segments.filter((s) => s.kind !== 'literal').map((s) => (s as { name: string }).name.toLowerCase());
  const dupe = names.find((n, i) => names.indexOf(n) !== i);
  if (dupe !== undefined) throw new RouteTemplateError(`route '${template}' uses parameter '${dupe}' twice`);
  const precedence = segments.map((s) => (s.kind === 'literal' ? 3 : s.kind === 'param' ? (s.constraint ? 2 : 1) : 0));
  return { template: trimmed, segments, precedence };
}

/** Parameters when `pathSegments` (already split, still percent-encoded) match the route; undefined otherwise. */
export function matchRoute(route: CompiledRoute, pathSegments: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let i = 0;
  for (const seg of route.segments) {
    if (seg.kind === 'catchAll') {
      params[seg.name] = pathSegments.slice(i).map(safeDecode).join('/');
      return params;
    }
    const actual = pathSegments[i];
    if (actual === undefined) {
      if (seg.kind === 'param' && seg.optional) return params;
      return undefined;
    }
    const decoded = safeDecode(actual);
    if (seg.kind === 'literal') {
      if (decoded.toLowerCase() !== seg.text) return undefined;
    } else {
      if (decoded === '') return undefined;
      if (seg.constraint !== undefined && !CONSTRAINTS[seg.constraint].test(decoded)) return undefined;
      params[seg.name] = decoded;
    }
    i++;
  }
  return i === pathSegments.length ? params : undefined;
}

/** Sort key: compare precedence segment by segment, more specific first. */
export function compareRoutes(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const d = (b.precedence[i] ?? -1) - (a.precedence[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
