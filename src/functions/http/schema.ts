// A deliberately small schema language for request bodies: flat objects of strings, booleans and integers.
// Unknown fields are an error, not ignored: a typo such as `"dryrun": true` must not silently start a real
// rotation.
import { RequestValidationError } from './errors.js';

export type FieldSpec =
  | { type: 'string'; required?: boolean; minLength?: number; maxLength?: number; pattern?: RegExp; patternHint?: string }
  | { type: 'boolean'; required?: boolean }
  | { type: 'integer'; required?: boolean; min?: number; max?: number };

export type ObjectSchema = Readonly<Record<string, FieldSpec>>;

type ValueOf<F extends FieldSpec> = F extends { type: 'string' } ? string : F extends { type: 'boolean' } ? boolean : number;
type RequiredKeys<S extends ObjectSchema> = { [K in keyof S]: S[K] extends { required: true } ? K : never }[keyof S];
type OptionalKeys<S extends ObjectSchema> = Exclude<keyof S, RequiredKeys<S>>;

export type Infer<S extends ObjectSchema> = { [K in RequiredKeys<S>]: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> };

/**
 * Checks `value` against `schema` and returns it typed. Throws RequestValidationError (400) naming the first
 * unknown field (all of them, in fact) or the first field of the wrong type; `what` says where ("request body").
 */
export function validateObject<S extends ObjectSchema>(value: unknown, schema: S, what = 'request body'): Infer<S> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RequestValidationError('InvalidBody', `${what} must be a JSON object, got ${describeType(value)}`);
  }
  const record = value as Record<string, unknown>;
  const allowed = Object.keys(schema);
  const unknown = Object.keys(record).filter((k) => !Object.prototype.hasOwnProperty.call(schema, k));
  if (unknown.length > 0) {
    const names = unknown.map((k) => `'${truncate(k)}'`).join(', ');
    throw new RequestValidationError(
      'UnknownField',
      `${what} has unknown field${unknown.length > 1 ? 's' : ''} ${names}; allowed: ${allowed.join(', ') || '(none)'}`,
      { unknownFields: unknown.map(truncate), allowedFields: allowed },
    );
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const v = record[name];
    if (v === undefined) {
      if (spec.required === true) throw invalid(name, `is required`);
      continue;
    }
    out[name] = checkField(name, v, spec);
  }
  return out as Infer<S>;
}

function checkField(name: string, v: unknown, spec: FieldSpec): unknown {
  switch (spec.type) {
    case 'string': {
      if (typeof v !== 'string') throw invalid(name, `must be a string, got ${describeType(v)}`);
      if (spec.minLength !== undefined && v.length < spec.minLength) {
        throw invalid(name, spec.minLength === 1 ? 'must not be empty' : `must be at least ${spec.minLength} characters`);
      }
      if (spec.maxLength !== undefined && v.length > spec.maxLength) {
        throw invalid(name, `must be at most ${spec.maxLength} characters, got ${v.length}`);
      }
      if (spec.pattern !== undefined && !spec.pattern.test(v)) {
        throw invalid(name, `must be ${spec.patternHint ?? `a string matching ${String(spec.pattern)}`}, got '${truncate(v)}'`);
      }
      return v;
    }
    case 'boolean':
      if (typeof v !== 'boolean') throw invalid(name, `must be true or false, got ${describeType(v)}`);
      return v;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(name, `must be an integer, got ${describeType(v)}`);
      if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
        throw invalid(name, `must be from ${spec.min ?? '-∞'} to ${spec.max ?? '∞'}, got ${v}`);
      }
      return v;
  }
}

function invalid(name: string, problem: string): RequestValidationError {
  return new RequestValidationError('InvalidField', `field '${name}' ${problem}`, { field: name });
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string '${truncate(v)}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return `a${typeof v === 'object' ? 'n' : ''} ${typeof v}`;
}

// Echoing caller input is useful in an error but must stay bounded.
function truncate(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
