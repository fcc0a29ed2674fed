// The rotator's error hierarchy. Expected outcomes (skipped, aborted, rolledBack) are returned values;
// these classes are for faults, and the class says what the caller should do about one:
// retry later (TransientError) or stop and tell someone (everything else).

export interface RotatorErrorOptions {
  cause?: unknown;
}

export class RotatorError extends Error {
  /** Stable machine-readable code, also used as a telemetry dimension. */
  readonly code: string = 'RotatorError';
  /** True when the same call may succeed later without anyone changing anything. */
  readonly retryable: boolean = false;

  constructor(message: string, options: RotatorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** Throttling, timeouts, 5xx, a lost connection: try again later. */
export class TransientError extends RotatorError {
  override readonly code: string = 'Transient';
  override readonly retryable: boolean = true;
}

/** The world is not in the state the step needs; retrying without a change will not help. */
export class PreconditionError extends RotatorError {
  override readonly code: string = 'Precondition';
}

/** Invalid settings. Every problem is listed, each naming its setting. */
export class ConfigError extends RotatorError {
  override readonly code: string = 'Config';
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: RotatorErrorOptions = {}) {
    super(
      problems.length === 1
        ? `Invalid configuration: ${problems[0]}`
        : `Invalid configuration (${problems.length} problems):\n- ${problems.join('\n- ')}`,
      options,
    );
    this.problems = [...problems];
  }
}

/** Someone else changed the same thing (ETag mismatch, lease held, setting changed underneath). */
export class ConflictError extends RotatorError {
  override readonly code: string = 'Conflict';
}

export class NotFoundError extends RotatorError {
  override readonly code: string = 'NotFound';
}

/** The lease expired or was taken over while a rotation was running: stop touching the app. */
export class LeaseLostError extends ConflictError {
  override readonly code: string = 'LeaseLost';
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set([
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'REQUEST_SEND_ERROR',
]);

function statusOf(error: object): number | undefined {
  const candidate = (error as { statusCode?: unknown; status?: unknown }).statusCode ??
    (error as { status?: unknown }).status;
  return typeof candidate === 'number' ? candidate : undefined;
}

function codeOf(error: object): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Normalises anything thrown into a RotatorError, once, at the boundary where core catches it.
 * Adapters may throw our classes directly; SDK errors carry `statusCode` (RestError) or a Node `code`.
 */
export function toRotatorError(error: unknown, context?: string): RotatorError {
  if (error instanceof RotatorError) return error;
  const prefix = context ? `${context}: ` : '';
  if (error instanceof Error || (typeof error === 'object' && error !== null)) {
    const message = error instanceof Error ? error.message : safeString(error);
    const status = statusOf(error);
    const code = codeOf(error);
    const text = `${prefix}${message}${status !== undefined ? ` (HTTP ${status})` : ''}`;
    if ((status !== undefined && TRANSIENT_STATUS.has(status)) || (code !== undefined && TRANSIENT_CODES.has(code))) {
      return new TransientError(text, { cause: error });
    }
    if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
      return new TransientError(text, { cause: error });
    }
    if (status === 404) return new NotFoundError(text, { cause: error });
    if (status === 409 || status === 412) return new ConflictError(text, { cause: error });
    return new PreconditionError(text, { cause: error });
  }
  return new PreconditionError(`${prefix}${safeString(error)}`, { cause: error });
}

export function isTransient(error: unknown): boolean {
  return toRotatorError(error).retryable;
}

/** A short, single-line description of an error for records and telemetry (never a stack). */
export function describeError(error: unknown): string {
  const normalised = toRotatorError(error);
  return `${normalised.code}: ${normalised.message}`.replace(/\s+/g, ' ').slice(0, 500);
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A scan that reached none of its subscriptions: nothing was inventoried, so nothing can be rotated. */
export class ScanFailedError extends RotatorError {
  override readonly code: string = 'ScanFailed';
  readonly failedSubscriptions: readonly string[];

  constructor(failed: ReadonlyArray<{ subscriptionId: string; error?: string }>, options: RotatorErrorOptions = {}) {
    super(
      `the scan reached none of its ${failed.length} subscription(s): ${failed.map((s) => `${s.subscriptionId} (${s.error ?? 'failed'})`).join('; ')}`,
      options,
    );
    this.failedSubscriptions = failed.map((s) => s.subscriptionId);
  }
}
