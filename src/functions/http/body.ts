// Request bodies are read with a hard size limit: the API's bodies are a few hundred bytes, and the Functions
// host itself accepts up to 100 MB, which would all be buffered before JSON.parse ever saw it.
import type { HttpRequest } from '@azure/functions';
import { HttpError, RequestValidationError } from './errors.js';
import { validateObject, type Infer, type ObjectSchema } from './schema.js';

export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024;

export interface ReadBodyOptions {
  limitBytes?: number;
}

/** The body as UTF-8 text. 413 `PayloadTooLarge` past the limit, 400 `InvalidEncoding` for bytes that are not UTF-8. */
export async function readBodyText(request: HttpRequest, options: ReadBodyOptions = {}): Promise<string> {
  const limit = options.limitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit) {
    throw tooLarge(limit, Number(declared));
  }
  const stream = request.body;
  if (stream === null) return '';
  // Stream it so a body without (or with a lying) Content-Length stops at the limit rather than in memory.
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new RequestValidationError('InvalidEncoding', 'request body is not valid UTF-8');
  }
}

export interface ReadJsonOptions extends ReadBodyOptions {
  /** An empty body (or only whitespace) reads as `{}`; for endpoints whose fields are all optional. */
  allowEmpty?: boolean;
  /** The body, already read by the caller (a request body can be read once). */
  text?: string;
}

/**
 * The body parsed as JSON and checked against `schema`: 413 when too large, 400 `EmptyBody`, `InvalidJson`,
 * `InvalidBody` (not an object), `UnknownField`, `InvalidField`. The Content-Type is not enforced: `curl -d`
 * sends form encoding by default, and the body is JSON or it is rejected either way.
 */
export async function readJsonBody<S extends ObjectSchema>(
  request: HttpRequest,
  schema: S,
  options: ReadJsonOptions = {},
): Promise<Infer<S>> {
  const text = options.text ?? (await readBodyText(request, options));
  if (text.trim() === '') {
    if (options.allowEmpty === true) return validateObject({}, schema);
    throw new RequestValidationError('EmptyBody', 'request body is empty; expected a JSON object');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message.slice(0, 200) : 'parse error';
    throw new RequestValidationError('InvalidJson', `request body is not valid JSON: ${detail}`);
  }
  return validateObject(parsed, schema);
}

function tooLarge(limit: number, declared?: number): HttpError {
  const got = declared !== undefined ? ` (Content-Length ${declared})` : '';
  return new HttpError(413, 'PayloadTooLarge', `request body exceeds ${limit} bytes${got}`, { limitBytes: limit });
}
