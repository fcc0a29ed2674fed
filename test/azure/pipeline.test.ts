// The response-size bound of the Key Vault clients (a 50 MB "secret" once peaked at 3.6 GB), through the
// SDK's own HTTP client against a local HTTPS server: refused by Content-Length before the body is read, or as a
// chunked body runs past the bound; a body within the bound reaches the SDK's parser as text, as before.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createDefaultHttpClient, createEmptyPipeline, createPipelineRequest } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { responseSizeLimitPolicy, RESPONSE_TOO_LARGE } from '../../src/azure/pipeline.js';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/index.js';

const BOUND = 64 * 1024;
const ca = createCertificateAuthority({ commonName: 'pipeline test CA' });
const leaf = issueCertificate(ca, { commonName: '127.0.0.1', usage: 'server', altNames: ['127.0.0.1'] });
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const path = req.url ?? '/';
    const chunk = Buffer.alloc(16 * 1024, 'a');
    let sent = 0;
    const total = path === '/small' ? 100 : 4 * 1024 * 1024;
    res.writeHead(200, { 'content-type': 'application/json', ...(path === '/chunked' ? {} : { 'content-length': String(total + 2) }) });
    res.write('"');
    const pump = () => {
      while (sent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end('"');
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function fetchThroughPolicy(path: string) {
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(responseSizeLimitPolicy(BOUND));
  const request = createPipelineRequest({ url: `${base}${path}`, method: 'GET' });
  request.tlsSettings = { ca: ca.certPem };
  return pipeline.sendRequest(createDefaultHttpClient(), request);
}

describe('responseSizeLimitPolicy', () => {
  it.each([
    ['a body that declares 4 MB is refused before it is read', '/declared', /declares 4194306 bytes, more than the 65536 bytes allowed/],
    ['a chunked 4 MB body (no Content-Length) is refused once it runs past the bound', '/chunked', /runs past the bound/],
  ])('%s', async (_sentence, path, message) => {
    const error = (await fetchThroughPolicy(path).then(() => undefined, (e: unknown) => e)) as Error & { code?: string; statusCode?: number };
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(RESPONSE_TOO_LARGE);
    expect(error.message).toMatch(message);
    // Not a network fault the SDK would retry, and not a service answer.
    expect(error.statusCode).toBe(0);
  });

  it('a body within the bound arrives as text for the SDK to parse, not as a stream', async () => {
    const response = await fetchThroughPolicy('/small');
    expect(response.status).toBe(200);
    expect(response.readableStreamBody).toBeUndefined();
    expect(response.bodyAsText).toBe(`"${'a'.repeat(100)}"`);
    expect(response.request.streamResponseStatusCodes).toBeUndefined();
  });
});
