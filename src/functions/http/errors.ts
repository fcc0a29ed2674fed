// A fault in the request itself (size, encoding, JSON, schema). It carries the HTTP status so the error
// boundary can answer it as is; everything it says is about the caller's own input.
export class HttpError extends Error {
  override readonly name: string = 'HttpError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** 400: the body or a parameter does not satisfy the API's schema. */
export class RequestValidationError extends HttpError {
  override readonly name: string = 'RequestValidationError';

  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(400, code, message, details);
  }
}
