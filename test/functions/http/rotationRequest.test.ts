import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/functions/http/errors.js';
import { readRotationRequest } from '../../../src/functions/http/rotationRequest.js';

const SUB = '00000000-0000-0000-0000-0000000000a1';

function post(body: string | Uint8Array | undefined, headers: Record<string, string> = {}): HttpRequest {
  const init = typeof body === 'string' ? { string: body } : body !== undefined ? { bytes: body } : undefined;
  return new HttpRequest({ method: 'POST', url: 'http://127.0.0.1:7071/api/rotations', headers, ...(init ? { body: init } : {}) });
}

async function rejection(request: HttpRequest, limitBytes?: number): Promise<HttpError> {
  try {
    await readRotationRequest(request, limitBytes !== undefined ? { limitBytes } : {});
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected the body to be rejected');
}

describe('readRotationRequest accepts', () => {
  it.each([
    ['an empty object as "every app that is due"', '{}', {}],
    ['a dry run for one app by name', '{"app":"web-a","dryRun":true}', { app: 'web-a', dryRun: true }],
    [
      'a forced run for an app by resource id in one subscription',
      `{"app":"/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/web-a","subscription":"${SUB}","force":true}`,
      { app: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/web-a`, subscription: SUB, force: true },
    ],
  ])('%s', async (_sentence, body, expected) => {
    await expect(readRotationRequest(post(body))).resolves.toEqual(expected);
  });
});

describe('readRotationRequest rejects', () => {
  it.each([
    ['a missing body, never read as "rotate everything"', undefined, {}, /request body is empty \(a missing body is not read as "rotate everything"\): send a JSON object with a Content-Length header/],
    ['a whitespace body like a missing one', '  \n', {}, /request body is empty .*\{\} rotates every app that is due/],
    [
      'the empty body of a chunked request, naming the cause',
      undefined,
      { 'transfer-encoding': 'chunked' },
      /request body is empty \(it was sent with Transfer-Encoding: chunked, whose body the Functions host drops\): send a JSON object with a Content-Length header/,
    ],
  ])('%s (400 EmptyBody)', async (_sentence, body, headers, message) => {
    const err = await rejection(post(body, headers));
    expect([err.status, err.code]).toEqual([400, 'EmptyBody']);
    expect(err.message).toMatch(message);
  });

  it.each([
    ['malformed JSON', '{"app":', 400, 'InvalidJson', /request body is not valid JSON/],
    ['a JSON array', '[1,2]', 400, 'InvalidBody', /must be a JSON object, got an array/],
    ['JSON null', 'null', 400, 'InvalidBody', /got null/],
    ['a misspelt field (dryrun)', '{"dryrun":true}', 400, 'UnknownField', /unknown field 'dryrun'; allowed: app, subscription, dryRun, force/],
    ['a __proto__ field', '{"__proto__":{"force":true}}', 400, 'UnknownField', /unknown field '__proto__'/],
    ['dryRun as a string', '{"dryRun":"yes"}', 400, 'InvalidField', /field 'dryRun' must be true or false, got the string 'yes'/],
    ['force as a number', '{"force":1}', 400, 'InvalidField', /field 'force' must be true or false, got number 1/],
    ['an empty app name', '{"app":""}', 400, 'InvalidField', /field 'app' must not be empty/],
    ['an app name with a control character', '{"app":"a\\u0000b"}', 400, 'InvalidField', /field 'app' must be an app name or resource id/],
    ['a subscription that is not a GUID', '{"subscription":"prod"}', 400, 'InvalidField', /field 'subscription' must be a subscription id \(GUID\), got 'prod'/],
  ])('%s', async (_sentence, body, status, code, message) => {
    const err = await rejection(post(body));
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('a body over the limit without reading it all (413)', async () => {
    const err = await rejection(post(`{"app":"${'x'.repeat(20_000)}"}`));
    expect([err.status, err.code]).toEqual([413, 'PayloadTooLarge']);
    expect(err.message).toBe('request body exceeds 16384 bytes');
  });

  it('a declared Content-Length over the limit before reading (413)', async () => {
    const err = await rejection(post('{}', { 'content-length': '99999' }), 1024);
    expect(err.message).toBe('request body exceeds 1024 bytes (Content-Length 99999)');
  });

  it('bytes that are not UTF-8 (400)', async () => {
    const err = await rejection(post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])));
    expect([err.status, err.code]).toEqual([400, 'InvalidEncoding']);
  });
});
