// The body of `POST /api/rotations`. Every field is optional: an empty body scans every opted-in app of every
// configured subscription and rotates what is due.
import type { HttpRequest } from '@azure/functions';
import { readJsonBody, type ReadJsonOptions } from './body.js';
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

export function readRotationRequest(request: HttpRequest, options: Omit<ReadJsonOptions, 'allowEmpty'> = {}): Promise<RotationRequest> {
  return readJsonBody(request, rotationRequestSchema, { ...options, allowEmpty: true });
}
