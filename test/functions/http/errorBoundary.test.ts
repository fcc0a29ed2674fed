import { HttpRequest, HttpResponse, InvocationContext, type HttpHandler } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ConflictError,
  LeaseLostError,
  NotFoundError,
  PreconditionError,
  TransientError,
} from '../../../src/core/errors.js';
import { withErrorBoundary } from '../../../src/functions/http/errorBoundary.js';
import { HttpError, RequestValidationError } from '../../../src/functions/http/errors.js';

interface Logged {
  level: string;
  text: string;
}

function context(): { ctx: InvocationContext; logs: Logged[] } {
  const logs: Logged[] = [];
  const ctx = new InvocationContext({
    functionName: 'rotationsPost',
    invocationId: 'inv-1234',
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(' ') }),
  });
  return { ctx, logs };
}

async function answer(thrown: unknown): Promise<{ status: number; headers: Headers; body: any; logs: Logged[] }> {
  const { ctx, logs } = context();
  const handler: HttpHandler = async () => {
    throw thrown;
  };
  const init = await withErrorBoundary(handler)(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/x' }), ctx);
  const response = init instanceof HttpResponse ? init : new HttpResponse(init ?? {});
  return { status: response.status, headers: response.headers, body: await response.json(), logs };
}

describe('withErrorBoundary', () => {
  it.each([
    ['a missing app is 404 with its own message', new NotFoundError("no managed app 'web-x'"), 404, 'NotFound', "no managed app 'web-x'"],
    ['a held lease is 409', new ConflictError('app web-a is being rotated by another run'), 409, 'Conflict', 'app web-a is being rotated by another run'],
    ['a lost lease counts as its parent class, a conflict', new LeaseLostError('lease lost'), 409, 'Conflict', 'lease lost'],
    ['a precondition is 409 PreconditionFailed', new PreconditionError('rotation r1 is committed and past its window'), 409, 'PreconditionFailed', 'rotation r1 is committed and past its window'],
    ['a request validation error is 400 with its code', new RequestValidationError('UnknownField', "unknown field 'x'"), 400, 'UnknownField', "unknown field 'x'"],
    ['an HttpError keeps its status', new HttpError(413, 'PayloadTooLarge', 'request body exceeds 16384 bytes'), 413, 'PayloadTooLarge', 'request body exceeds 16384 bytes'],
  ])('%s', async (_sentence, error, status, code, message) => {
    const res = await answer(error);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: expect.objectContaining({ code, message, correlationId: 'inv-1234' }) });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it.each([
    ['an unknown error', new Error('Cannot read properties of undefined (reading "x") at /srv/secret/path.ts:12'), 500, 'InternalServerError'],
    ['a thrown string', 'boom', 500, 'InternalServerError'],
    ['a Node system error whose code only looks like ours', Object.assign(new Error('socket hang up'), { code: 'NotFound' }), 500, 'InternalServerError'],
    ['a configuration error (its message names settings and values)', new ConfigError(["AZURE_STATIC_TOKEN must be set, got 'tok-123'"]), 500, 'ConfigurationError'],
    ['a transient fault, retryable', new TransientError('ARM 429 after 4 attempts'), 503, 'ServiceUnavailable'],
  ])('hides the details of %s behind a generic message and a correlation id', async (_sentence, error, status, code) => {
    const res = await answer(error);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(/\(correlation id inv-1234\)$/);
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/at \/|secret|tok-123|socket hang up|ARM 429|\.ts:/);
  });

  it('logs the full error of a 500, stack included, under the correlation id', async () => {
    const res = await answer(new Error('kaboom'));
    expect(res.logs).toEqual([{ level: 'error', text: expect.stringMatching(/^rotationsPost failed \[inv-1234\] Error: kaboom Error: kaboom\n\s+at /) }]);
  });

  it('tells a client to retry a transient fault later', async () => {
    const res = await answer(new TransientError('throttled'));
    expect(res.headers.get('retry-after')).toBe('30');
  });

  it('passes a successful response through untouched', async () => {
    const { ctx } = context();
    const ok = await withErrorBoundary(async () => ({ status: 202, jsonBody: { ids: ['r1'] } }))(
      new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/x' }),
      ctx,
    );
    expect(ok).toEqual({ status: 202, jsonBody: { ids: ['r1'] } });
  });
});
