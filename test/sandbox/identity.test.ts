// The sandbox's App Service managed-identity endpoint over raw HTTP: what it refuses (each with the reason), the token
// shape it answers (what MSAL's AppService source reads: access_token, expires_on in epoch seconds, resource,
// token_type) and how its tokens are checked by audience.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCES, IDENTITY_API_VERSION, looksLikeJwt, startManagedIdentityEndpoint, type ManagedIdentityEndpoint } from '../../sandbox/identity.js';

const TENANT = '72f988bf-0000-4000-8000-00000000a11e';
let mi: ManagedIdentityEndpoint;

beforeAll(async () => {
  mi = await startManagedIdentityEndpoint({ tenantId: TENANT });
});
afterAll(async () => {
  await mi?.stop();
});

async function ask(query: Record<string, string>, header: string | null = mi.header) {
  const url = new URL(mi.endpoint);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const response = await fetch(url, { headers: header === null ? {} : { 'X-IDENTITY-HEADER': header } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('the managed-identity endpoint refuses, saying why', () => {
  it.each([
    ['a request without the X-IDENTITY-HEADER secret', { resource: 'https://vault.azure.net' }, 'none', 401, /X-IDENTITY-HEADER header is missing or does not match/],
    ['a request with another secret', { resource: 'https://vault.azure.net' }, 'wrong', 401, /X-IDENTITY-HEADER header is missing or does not match/],
    ['another api-version', { resource: 'https://vault.azure.net', 'api-version': '2017-09-01' }, 'right', 400, /api-version must be 2019-08-01/],
    ['no resource', {}, 'right', 400, /'resource' query parameter is required/],
    ['a resource no service has (the ARM endpoint of a private cloud or the sandbox)', { resource: 'https://127.0.0.1:8443' }, 'right', 400, /AADSTS500011: The resource principal named https:\/\/127\.0\.0\.1:8443 was not found/],
    ['a client_id that is not assigned to the app', { resource: 'https://vault.azure.net', client_id: '0b0b0b0b-1111-4222-8333-444444444444' }, 'right', 400, /Unable to load the proper Managed Identity/],
    ['no client_id when the app has no system-assigned identity', { resource: 'https://vault.azure.net', client_id: '' }, 'right', 400, /Unable to load the proper Managed Identity/],
  ])('%s', async (_sentence, query: Record<string, string>, header, status, message) => {
    const q: Record<string, string> = { 'api-version': IDENTITY_API_VERSION, client_id: mi.userAssignedClientId, ...query };
    if (q.client_id === '') delete q.client_id;
    const before = mi.requests().length;
    const answer = await ask(q, header === 'none' ? null : header === 'wrong' ? `${mi.header}x` : mi.header);
    expect(answer.status).toBe(status);
    expect(String(answer.body.message)).toMatch(message);
    expect(answer.body).not.toHaveProperty('access_token');
    expect(mi.requests().slice(before)).toEqual([expect.objectContaining({ status, refused: expect.stringMatching(message) })]);
  });
});

describe('the tokens it issues', () => {
  it.each(Object.entries(AUDIENCES).map(([kind, [audience]]) => [kind, audience!] as const))(
    'a %s token (%s) has the shape MSAL reads and is accepted only for that audience',
    async (kind, resource) => {
      const answer = await ask({ 'api-version': IDENTITY_API_VERSION, resource, client_id: mi.userAssignedClientId });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ resource, token_type: 'Bearer', client_id: mi.userAssignedClientId });
      const expiresOn = Number(answer.body.expires_on);
      expect(typeof answer.body.expires_on).toBe('string');
      expect(expiresOn * 1000).toBeGreaterThan(Date.now());
      const token = String(answer.body.access_token);
      expect(looksLikeJwt(token)).toBe(true);
      // What Azurite's basic OAuth checks: a v1 issuer prefix, the audience and the lifetime claims.
      expect(claims(token)).toMatchObject({ aud: resource, iss: `https://sts.windows.net/${TENANT}/`, appid: mi.userAssignedClientId, tid: TENANT });
      for (const other of Object.keys(AUDIENCES) as (keyof typeof AUDIENCES)[]) {
        expect(mi.check(token, other).ok, `${kind} token checked for ${other}`).toBe(other === kind);
      }
    },
  );

  it('a token whose claims were edited (another audience) fails the signature check', async () => {
    const answer = await ask({ 'api-version': IDENTITY_API_VERSION, resource: 'https://vault.azure.net', client_id: mi.userAssignedClientId });
    const [h, p, s] = String(answer.body.access_token).split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')), aud: 'https://management.azure.com' })).toString('base64url');
    expect(mi.check(`${h}.${forged}.${s}`, 'arm')).toEqual({ ok: false, reason: 'the token signature is invalid' });
  });

  it('a system-assigned identity, once the app has one, answers requests without client_id', async () => {
    mi.configure({ systemAssigned: true });
    try {
      const answer = await ask({ 'api-version': IDENTITY_API_VERSION, resource: 'https://management.azure.com/' });
      expect(answer.status).toBe(200);
      expect(answer.body.client_id).not.toBe(mi.userAssignedClientId);
      expect(mi.check(String(answer.body.access_token), 'arm').ok).toBe(true);
    } finally {
      mi.configure({ systemAssigned: false });
    }
  });
});
