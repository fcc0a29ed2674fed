// Real Azure SDK clients pointed at a sandbox: static bearer token, the sandbox CA through tlsOptions,
// and (Key Vault) challenge resource verification off because the vault host is 127.0.0.1.
import https from 'node:https';
import { WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Sandbox } from '../../sandbox/index.js';

export interface RetryOptions {
  maxRetries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
}

export function staticCredential(token: string): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

export function webClient(sb: Sandbox, subscriptionId: string, retryOptions?: RetryOptions): WebSiteManagementClient {
  return new WebSiteManagementClient(staticCredential(sb.token), subscriptionId, {
    endpoint: sb.armEndpoint,
    credentials: { scopes: [`${sb.armEndpoint}/.default`] },
    tlsOptions: { ca: sb.caPem },
    ...(retryOptions !== undefined ? { retryOptions } : {}),
  });
}

export function certificateClient(sb: Sandbox, vault: string, retryOptions?: RetryOptions): CertificateClient {
  return new CertificateClient(sb.vaultUrl(vault), staticCredential(sb.token), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: sb.caPem },
    ...(retryOptions !== undefined ? { retryOptions } : {}),
  });
}

export function secretClient(sb: Sandbox, vault: string): SecretClient {
  return new SecretClient(sb.vaultUrl(vault), staticCredential(sb.token), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: sb.caPem },
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: unknown;
}

/** A plain HTTPS request (no SDK) for what the SDK hides: headers, bodies of errors, missing tokens. */
export function rawRequest(
  sb: Sandbox,
  url: string,
  opts: { method?: string; token?: string | null; body?: unknown } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const token = opts.token === undefined ? sb.token : opts.token;
    const req = https.request(
      new URL(url),
      {
        method: opts.method ?? 'GET',
        ca: sb.caPem,
        agent: false,
        headers: {
          ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
