// A POST whose body goes out with Transfer-Encoding: chunked and no Content-Length, written in several parts, as
// curl does with `-H 'Transfer-Encoding: chunked'` or a client streaming its body. fetch() cannot be told to do this
// for a string body, so it is a plain node:http request.
import { request } from 'node:http';

export interface ChunkedResponse {
  status: number;
  text: string;
}

export function postChunked(url: string, headers: Record<string, string>, parts: readonly string[]): Promise<ChunkedResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const part of parts) req.write(part);
    req.end();
  });
}
