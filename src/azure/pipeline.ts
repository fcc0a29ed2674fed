// Small pipeline policies shared by the ARM and Key Vault clients.
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/**
 * Bounds one attempt until its response headers arrive. The SDKs set no timeout, and a service that accepts the
 * connection and never answers would otherwise hold a rotation (and its lease) forever. A timed-out attempt ends as
 * an AbortError, which the adapters translate into a TransientError.
 */
export function attemptTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'mtlsRotatorAttemptTimeout',
    sendRequest: (request, next) => {
      if (!request.timeout) request.timeout = timeoutMs;
      return next(request);
    },
  };
}

/** The error code a response refused by responseSizeLimitPolicy carries (translated to a precondition, not retried). */
export const RESPONSE_TOO_LARGE = 'ResponseTooLarge';

class ResponseTooLarge extends Error {
  override readonly name = 'ResponseTooLargeError';
  readonly code = RESPONSE_TOO_LARGE;
  readonly statusCode = 0;
}

/**
 * Reads a response body up to `maxBytes` and refuses it beyond: by Content-Length before reading anything, else as
 * the bytes arrive. The SDK's HTTP client would otherwise buffer the whole body into one string before any policy
 * or parser sees it. The body is asked for as a stream and turned back into text here, so the SDK parses it as ever.
 */
export function responseSizeLimitPolicy(maxBytes: number): PipelinePolicy {
  return {
    name: 'mtlsRotatorResponseSizeLimit',
    async sendRequest(request, next) {
      const wanted = request.streamResponseStatusCodes;
      request.streamResponseStatusCodes = new Set([Number.POSITIVE_INFINITY]);
      let response;
      try {
        response = await next(request);
      } finally {
        request.streamResponseStatusCodes = wanted;
      }
      const stream = response.readableStreamBody as NodeJS.ReadableStream & { destroy(): void } | undefined;
      if (stream === undefined || wanted?.has(response.status) || wanted?.has(Number.POSITIVE_INFINITY)) return response;
      const refuse = (what: string) => {
        stream.destroy();
        return new ResponseTooLarge(`the response body ${what}, more than the ${maxBytes} bytes allowed; it was not read`);
      };
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) throw refuse(`declares ${declared} bytes`);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of stream) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        total += bytes.length;
        if (total > maxBytes) throw refuse('runs past the bound');
        chunks.push(bytes);
      }
      response.readableStreamBody = undefined;
      response.bodyAsText = Buffer.concat(chunks).toString('utf8');
      return response;
    },
  };
}
