// Errors of the Azure adapters. SDK errors (`RestError` and friends) are translated once, here at the boundary, into
// a class that says what the caller should do: retry later (TransientError) or stop and tell someone
// (PreconditionError, NotFoundError). The SDK error itself is never kept as `cause`: its non-enumerable `request`
// holds the request body, which for a certificate upload is the PFX and its password.

import { ConflictError, NotFoundError, PreconditionError, TransientError } from '../core/errors.js';

export interface AzureErrorContext {
  /** What we were doing, e.g. "upload certificate". */
  operation: string;
  /** Which resource, e.g. an ARM id or a Key Vault certificate id. Public data only. */
  resource: string;
}

/** What the service said, kept on every translated error (public data only). */
export interface AzureErrorDetails extends AzureErrorContext {
  /** HTTP status when the service answered. */
  status?: number;
  /** The service's own error code (e.g. "BadRequest", "Forbidden", "CertificateNotFound"). */
  serviceCode?: string;
  /** From Retry-After, for 429/503. */
  retryAfterMs?: number;
}

// Subclasses of the core classes, so the engine's `instanceof TransientError` / `retryable` decide what to do, and
// the adapter's details stay available for logs and records.
export class AzureTransientError extends TransientError {
  constructor(message: string, readonly details: AzureErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
  }
}
export class AzurePreconditionError extends PreconditionError {
  constructor(message: string, readonly details: AzureErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
  }
}
export class AzureNotFoundError extends NotFoundError {
  constructor(message: string, readonly details: AzureErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
  }
}
export class AzureConflictError extends ConflictError {
  constructor(message: string, readonly details: AzureErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type AzureAdapterError = AzureTransientError | AzurePreconditionError | AzureNotFoundError | AzureConflictError;

function isAzureAdapterError(error: unknown): error is AzureAdapterError {
  return (
    error instanceof AzureTransientError ||
    error instanceof AzurePreconditionError ||
    error instanceof AzureNotFoundError ||
    error instanceof AzureConflictError
  );
}

interface RestErrorLike {
  name: string;
  message: string;
  statusCode?: number;
  code?: string;
  response?: { headers?: { get(name: string): string | undefined } };
}

function isRestErrorLike(error: Error): boolean {
  return error.name === 'RestError' || 'statusCode' in error;
}

const TRANSIENT_NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
]);

/** Service-provided messages are kept short and scrubbed of every value the caller marks secret. */
export function scrub(text: string, secrets: readonly (string | null | undefined)[] = []): string {
  let out = typeof text === 'string' ? text : String(text ?? '');
  for (const secret of secrets) {
    // App settings can hold null (ARM returns it): nothing to redact, and no TypeError in place of the real error.
    if (typeof secret === 'string' && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  // A long base64 run is PFX or key material whatever produced it; public ids are never this long.
  out = out.replace(/[A-Za-z0-9+/=_-]{200,}/g, '[redacted]');
  return out.length > 400 ? `${out.slice(0, 400)}…` : out;
}

function retryAfterMs(error: RestErrorLike): number | undefined {
  const header = error.response?.headers?.get('retry-after');
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** A cause that keeps what helps diagnosis (class, status, code, scrubbed message) and drops request/response. */
function safeCause(error: Error, secrets: readonly string[]): Error {
  const copy = new Error(scrub(error.message, secrets)) as Error & { statusCode?: number; code?: string };
  copy.name = error.name;
  const e = error as Error & { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') copy.statusCode = e.statusCode;
  if (typeof e.code === 'string') copy.code = e.code;
  return copy;
}

/**
 * Turns whatever an SDK call threw into one of our classes. `secrets` are values that must not appear in the
 * message even if a service echoes them (the PFX password, the base64 PFX).
 */
export function translateAzureError(
  error: unknown,
  context: AzureErrorContext,
  secrets: readonly string[] = [],
): AzureAdapterError {
  if (isAzureAdapterError(error)) return error;
  const where = `${context.operation} (${context.resource})`;
  if (!(error instanceof Error)) {
    return new AzureTransientError(`${where} failed with a non-Error value (${typeof error})`, context);
  }
  const cause = safeCause(error, secrets);
  const detail = scrub(error.message, secrets);

  if (error.name === 'AbortError' || error.name === 'TimeoutError') {
    return new AzureTransientError(`${where} timed out or was aborted: ${detail}`, context, { cause });
  }
  if (error.name === 'CredentialUnavailableError') {
    return new AzurePreconditionError(`${where}: no usable Azure credential: ${detail}`, context, { cause });
  }
  if (isRestErrorLike(error)) {
    const restError = error as RestErrorLike;
    const status = restError.statusCode;
    const code = typeof restError.code === 'string' ? restError.code : undefined;
    const ctx: AzureErrorDetails = { ...context, status, serviceCode: code };
    if (status === undefined || status <= 0) {
      if (code === undefined || TRANSIENT_NETWORK_CODES.has(code)) {
        return new AzureTransientError(`${where} could not reach the service: ${detail}`, ctx, { cause });
      }
      return new AzurePreconditionError(`${where} failed (${code}): ${detail}`, ctx, { cause });
    }
    const answered = `answered ${status}${code ? ` ${code}` : ''}`;
    if (status === 404) return new AzureNotFoundError(`${where}: not found (${answered}: ${detail})`, ctx, { cause });
    if (status === 408 || status === 429 || status >= 500) {
      return new AzureTransientError(`${where} ${answered}: ${detail}`, { ...ctx, retryAfterMs: retryAfterMs(restError) }, { cause });
    }
    if (status === 401 || status === 403) {
      return new AzurePreconditionError(`${where}: not authorized (${answered}: ${detail})`, ctx, { cause });
    }
    if (status === 409 || status === 412) {
      return new AzureConflictError(`${where}: conflict (${answered}: ${detail})`, ctx, { cause });
    }
    return new AzurePreconditionError(`${where} was refused (${answered}: ${detail})`, ctx, { cause });
  }
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) {
    return new AzureTransientError(`${where} could not reach the service (${code}): ${detail}`, { ...context, serviceCode: code }, { cause });
  }
  // An unknown failure (an identity library error, a bug): not retried blindly, but reported with its class.
  return new AzurePreconditionError(`${where} failed: ${error.name}: ${detail}`, context, { cause });
}

/** Runs an SDK call and translates its failure; a 404 becomes `undefined` when `notFoundAsUndefined`. */
export async function callAzure<T>(
  context: AzureErrorContext,
  fn: () => Promise<T>,
  options: { secrets?: readonly string[] } = {},
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateAzureError(error, context, options.secrets);
  }
}

export async function callAzureOptional<T>(
  context: AzureErrorContext,
  fn: () => Promise<T>,
  options: { secrets?: readonly string[] } = {},
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    const translated = translateAzureError(error, context, options.secrets);
    if (translated instanceof AzureNotFoundError) return undefined;
    throw translated;
  }
}
