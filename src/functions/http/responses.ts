// Every HTTP answer of the API that is not a success has one shape, `{ error: { code, message } }`, so
// clients and alert rules can key on `code` without parsing prose.
import type { HttpResponseInit } from '@azure/functions';

export interface ErrorBody {
  error: {
    /** Stable, PascalCase, e.g. `UnknownField`, `NotFound`, `ClientCertificateExpired`. */
    code: string;
    /** Says what is wrong in words a caller can act on; never a stack trace or secret material. */
    message: string;
    /** The invocation id, to find the matching log lines. */
    correlationId?: string;
    details?: Record<string, unknown>;
  };
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

export function jsonError(
  status: number,
  code: string,
  message: string,
  extra: { correlationId?: string; details?: Record<string, unknown>; headers?: Record<string, string> } = {},
): HttpResponseInit {
  const error: ErrorBody['error'] = { code, message };
  if (extra.correlationId !== undefined) error.correlationId = extra.correlationId;
  if (extra.details !== undefined) error.details = extra.details;
  return jsonResponse(status, { error } satisfies ErrorBody, extra.headers);
}
