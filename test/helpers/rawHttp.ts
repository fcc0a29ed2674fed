// An HTTP request whose header lines are exactly the ones given (fetch folds repeated headers into one line, which
// hides what a front end or a hostile client can actually send).
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function rawRequest(url: string, method: string, headers: Array<[string, string]>, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    // With the headers given as a list Node adds none of its own, Host included.
    const flat: string[] = ['host', new URL(url).host];
    for (const [name, value] of headers) flat.push(name, value);
    if (body !== undefined) flat.push('content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)));
    const req = request(url, { method, headers: flat }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
