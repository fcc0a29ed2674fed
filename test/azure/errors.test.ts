// Translation of SDK errors at the adapter boundary: the class says retry or stop, the message names the operation
// and resource, and nothing of the request (PFX, password) survives.
import { createHttpHeaders, createPipelineRequest, RestError, type PipelineResponse } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import {
  AzureConflictError,
  AzureNotFoundError,
  AzurePreconditionError,
  AzureTransientError,
  callAzureOptional,
  scrub,
  translateAzureError,
} from '../../src/azure/errors.js';
import { ConflictError, NotFoundError, PreconditionError, TransientError, isTransient } from '../../src/core/errors.js';

const context = { operation: 'upload certificate', resource: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/certificates/c' };

function restError(status: number | undefined, options: { code?: string; headers?: Record<string, string>; body?: string; message?: string } = {}) {
  const request = createPipelineRequest({ url: 'https://management.example/x', method: 'PUT', body: options.body });
  const response =
    status === undefined ? undefined : ({ status, request, headers: createHttpHeaders(options.headers ?? {}) } as PipelineResponse);
  return new RestError(options.message ?? 'service message', { statusCode: status, code: options.code, request, response });
}

describe('translateAzureError', () => {
  it.each([
    ['a 429 is transient, with its Retry-After', restError(429, { headers: { 'retry-after': '7' } }), AzureTransientError, TransientError],
    ['a 500 is transient', restError(500), AzureTransientError, TransientError],
    ['a 503 is transient', restError(503), AzureTransientError, TransientError],
    ['a connection failure is transient', restError(undefined, { code: 'REQUEST_SEND_ERROR' }), AzureTransientError, TransientError],
    ['a 404 is NotFound', restError(404, { code: 'ResourceNotFound' }), AzureNotFoundError, NotFoundError],
    ['a 409 is a Conflict', restError(409, { code: 'Conflict' }), AzureConflictError, ConflictError],
    ['a 400 is a precondition', restError(400, { code: 'BadRequest' }), AzurePreconditionError, PreconditionError],
    ['a 403 is a precondition', restError(403, { code: 'AuthorizationFailed' }), AzurePreconditionError, PreconditionError],
  ])('%s', (_label, error, adapterClass, coreClass) => {
    const translated = translateAzureError(error, context);
    expect(translated).toBeInstanceOf(adapterClass);
    expect(translated).toBeInstanceOf(coreClass);
    expect(translated.message).toContain(context.operation);
    expect(translated.message).toContain(context.resource);
    expect(isTransient(translated)).toBe(coreClass === TransientError);
  });

  it('keeps the status, the service code and the Retry-After', () => {
    const translated = translateAzureError(restError(429, { code: 'SubscriptionRequestsThrottled', headers: { 'retry-after': '7' } }), context);
    expect((translated as AzureTransientError).details).toMatchObject({ status: 429, serviceCode: 'SubscriptionRequestsThrottled', retryAfterMs: 7000 });
  });

  it('drops the request (whose body is the PFX and password) and scrubs the secrets from any echo', () => {
    const password = 'Sup3r-Secret-Pa55word';
    const pfx = Buffer.alloc(600, 7).toString('base64');
    const error = restError(400, { body: JSON.stringify({ properties: { pfxBlob: pfx, password } }), message: `bad password ${password} for ${pfx}` });
    const translated = translateAzureError(error, context, [password, pfx]);
    const cause = translated.cause as Error & { request?: unknown; statusCode?: number };
    expect(cause.request).toBeUndefined();
    expect(cause.statusCode).toBe(400);
    const everything = `${translated.message} ${cause.message} ${JSON.stringify(translated)} ${JSON.stringify(cause)}`;
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(pfx.slice(0, 100));
    expect(translated.message).toContain('[redacted]');
  });

  it('turns a timeout (AbortError) into a TransientError', () => {
    const abort = new Error('The operation was aborted.');
    abort.name = 'AbortError';
    expect(translateAzureError(abort, context)).toBeInstanceOf(TransientError);
  });

  it('lets a 404 read as "absent" where the port says so', async () => {
    expect(await callAzureOptional(context, async () => Promise.reject(restError(404)))).toBeUndefined();
    await expect(callAzureOptional(context, async () => Promise.reject(restError(500)))).rejects.toBeInstanceOf(TransientError);
  });
});

describe('scrub', () => {
  it.each([
    ['a marked secret', 'password is hunter22!', ['hunter22!'], 'password is [redacted]'],
    ['a long base64 run even when unmarked', `blob ${'A'.repeat(250)} end`, [], 'blob [redacted] end'],
    ['nothing in a plain message', 'The specified PFX password is incorrect.', [], 'The specified PFX password is incorrect.'],
  ])('removes %s', (_label, text, secrets, expected) => {
    expect(scrub(text, secrets)).toBe(expected);
  });
});
