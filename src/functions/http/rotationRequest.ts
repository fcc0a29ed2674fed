// The body of `POST /api/rotations`. Every field is optional, but the object itself is not: `{}` scans every
// opted-in app of every configured subscription and rotates what is due, and a missing body is refused. The
// Functions host copies a request body into the invocation only when Content-Length > 0, so a `{"dryRun":true}`
// sent with Transfer-Encoding: chunked reaches the handler empty; read as `{}` it would start real rotations.
import type { HttpRequest } from '@azure/functions';
import { readBodyText, readJsonBody, type ReadJsonOptions } from './body.js';
import { RequestValidationError } from './errors.js';
import type { Infer } from './schema.js';

export const rotationRequestSchema = {
  /** An app name (`site` or `site/slots/slot`) or its full ARM resource id. */
  app: { type: 'string', minLength: 1, maxLength: 512, pattern: /^[^\u0000-\u001f\u007f]+$/, patternHint: 'an app name or resource id without control characters' },
  subscription: {
    type: 'string',
    pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
    patternHint: 'a subscription id (GUID)',
  },
  dryRun: { type: 'boolean' },
  force: { type: 'boolean' },
} as const;

export type RotationRequest = Infer<typeof rotationRequestSchema>;

export async function readRotationRequest(request: HttpRequest, options: Omit<ReadJsonOptions, 'allowEmpty'> = {}): Promise<RotationRequest> {
  const text = await readBodyText(request, options);
  if (text.trim() === '') throw emptyBody(request);
  return readJsonBody(request, rotationRequestSchema, { ...options, text });
}

function emptyBody(request: HttpRequest): RequestValidationError {
  const chunked = /\bchunked\b/i.test(request.headers.get('transfer-encoding') ?? '');
  const cause = chunked
    ? 'it was sent with Transfer-Encoding: chunked, whose body the Functions host drops'
    : 'a missing body is not read as "rotate everything"';
  return new RequestValidationError(
    'EmptyBody',
    `request body is empty (${cause}): send a JSON object with a Content-Length header and Content-Type: application/json; {} rotates every app that is due, {"dryRun":true} only plans`,
  );
}
