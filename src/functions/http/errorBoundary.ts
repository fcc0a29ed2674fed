// The one place where an exception thrown by an HTTP handler becomes a response. Known faults get their
// status and their own message (those messages are written for callers: they name the app, the field, the
// rotation); anything else is a 500 with a generic message and the invocation id to find the log line.
// No response ever carries a stack trace.
//
// Errors are recognised by class name (walking the prototype chain, so subclasses such as LeaseLostError count
// as their parent) or by their `code`, rather than `instanceof`, so this file does not couple the HTTP layer to
// src/core's module identity.
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { HttpError } from './errors.js';
import { jsonError } from './responses.js';

export interface ErrorMapping {
  status: number;
  code: string;
  /** Whether the error's own message goes to the caller. False: a generic message (still logged in full). */
  exposeMessage: boolean;
  headers?: Record<string, string>;
}

// Checked in order: the first class name (or code) found on the error wins, so subclasses come first.
const MAPPINGS: ReadonlyArray<{ names: readonly string[]; codes: readonly string[]; mapping: ErrorMapping }> = [
  { names: ['NotFoundError'], codes: ['NotFound'], mapping: { status: 404, code: 'NotFound', exposeMessage: true } },
  { names: ['LeaseLostError'], codes: ['LeaseLost'], mapping: { status: 409, code: 'Conflict', exposeMessage: true } },
  { names: ['ConflictError'], codes: ['Conflict'], mapping: { status: 409, code: 'Conflict', exposeMessage: true } },
  // "The world is not in the state the step needs": retrying unchanged will not help; 409 like a state conflict.
  { names: ['PreconditionError'], codes: ['Precondition'], mapping: { status: 409, code: 'PreconditionFailed', exposeMessage: true } },
  // Throttled or unreachable dependencies: the client may retry; ARM's own Retry-After is usually well under this.
  {
    names: ['TransientError'],
    codes: ['Transient'],
    mapping: { status: 503, code: 'ServiceUnavailable', exposeMessage: false, headers: { 'retry-after': '30' } },
  },
  // No subscription could be read: the plan would be empty, not "nothing due". The message names them and ARM's errors.
  { names: ['ScanFailedError'], codes: ['ScanFailed'], mapping: { status: 503, code: 'ScanFailed', exposeMessage: true } },
  // A misconfigured service: the operator must act, the caller cannot; settings values stay in the logs.
  { names: ['ConfigError'], codes: ['Config'], mapping: { status: 500, code: 'ConfigurationError', exposeMessage: false } },
];

const INTERNAL: ErrorMapping = { status: 500, code: 'InternalServerError', exposeMessage: false };

export function mapError(error: unknown): ErrorMapping & { message?: string } {
  if (error instanceof HttpError) {
    return { status: error.status, code: error.code, exposeMessage: true, message: error.message };
  }
  if (error === null || typeof error !== 'object') return INTERNAL;
  const names = classNames(error);
  const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
  for (const entry of MAPPINGS) {
    if (entry.names.some((n) => names.includes(n)) || (code !== undefined && names.length > 0 && entry.codes.includes(code) && isOurs(names))) {
      return { ...entry.mapping, message: error instanceof Error ? error.message : undefined };
    }
  }
  return INTERNAL;
}

const GENERIC_MESSAGES: Record<number, string> = {
  500: 'the request failed inside the service',
  503: 'a dependency is unavailable or throttling; retry later',
};

/**
 * Wraps an HTTP handler so that nothing it throws escapes as the host's bare 500: known errors map to their
 * status with `{ error: { code, message, correlationId } }`, everything else to a generic 500.
 */
export function withErrorBoundary(handler: HttpHandler): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext) => {
    try {
      return await handler(request, context);
    } catch (error) {
      return errorResponse(error, context);
    }
  };
}

export function errorResponse(error: unknown, context: InvocationContext): HttpResponseInit {
  const mapping = mapError(error);
  const correlationId = context.invocationId;
  const summary = error instanceof Error ? `${error.name}: ${error.message}` : `non-Error thrown (${typeof error})`;
  if (mapping.status >= 500) {
    // The full error (stack included) goes to the logs only, keyed by the correlation id the caller sees.
    context.error(`${context.functionName} failed [${correlationId}] ${summary}`, error instanceof Error ? error.stack : undefined);
  } else {
    context.warn(`${context.functionName} answered ${mapping.status} ${mapping.code} [${correlationId}]: ${summary}`);
  }
  const message =
    mapping.exposeMessage && mapping.message !== undefined
      ? mapping.message
      : `${GENERIC_MESSAGES[mapping.status] ?? GENERIC_MESSAGES[500]!} (correlation id ${correlationId})`;
  const details = error instanceof HttpError ? error.details : undefined;
  return jsonError(mapping.status, mapping.code, message, {
    correlationId,
    ...(details !== undefined ? { details } : {}),
    ...(mapping.headers !== undefined ? { headers: mapping.headers } : {}),
  });
}

function classNames(error: object): string[] {
  const names: string[] = [];
  for (let proto = Object.getPrototypeOf(error) as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string' && ctor.name !== '') names.push(ctor.name);
  }
  const own = (error as { name?: unknown }).name;
  if (typeof own === 'string' && !names.includes(own)) names.unshift(own);
  return names;
}

// A `code` alone is not enough: Node system errors carry codes too ('ECONNRESET'), and so do SDK errors. Only
// trust codes on the rotator's own hierarchy.
function isOurs(names: readonly string[]): boolean {
  return names.includes('RotatorError');
}
