// The App Service / Functions managed-identity endpoint, as the platform exposes it to an app: plain HTTP on
// loopback at IDENTITY_ENDPOINT, a per-app secret in IDENTITY_HEADER that every request must echo in the
// `X-IDENTITY-HEADER` header, `GET ?api-version=2019-08-01&resource=<audience>[&client_id=<user-assigned>]`,
// answered with `{access_token, expires_on, resource, token_type, client_id}` (expires_on in epoch seconds, as a
// string). That is exactly how @azure/identity 4's ManagedIdentityCredential calls it (through MSAL's AppService
// source: it reads both variables from process.env, and caches the source per process).
//
// The tokens are JWTs: `aud` is the requested resource, `iss` https://sts.windows.net/<tenant>/ (the v1 issuer
// Azurite's basic OAuth checks), `appid` the identity's client id, signed (HS256) with a key of this sandbox so
// that the sandbox's ARM and Key Vault can tell its tokens from forgeries and refuse one minted for another
// audience, as the real services do. Azurite checks issuer, audience and lifetime, not signatures.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const IDENTITY_API_VERSION = '2019-08-01';

/** Audiences a token can be issued for, by the service that accepts it (trailing slash optional). */
export const AUDIENCES = {
  arm: ['https://management.azure.com', 'https://management.core.windows.net'],
  keyVault: ['https://vault.azure.net'],
  storage: ['https://storage.azure.com'],
} as const;
export type TokenAudience = keyof typeof AUDIENCES;

const TOKEN_LIFETIME_S = 24 * 3600;

export interface ManagedIdentitySettings {
  /** Whether the app has a system-assigned identity (requests without client_id get its token). Default false. */
  systemAssigned?: boolean;
  /** Client ids of the user-assigned identities assigned to the app. */
  userAssigned?: string[];
  /** The IDENTITY_HEADER secret the endpoint expects. */
  header?: string;
}

export interface IdentityRequest {
  resource: string | undefined;
  clientId: string | undefined;
  status: number;
  /** Why it was refused; absent when a token was issued. */
  refused?: string;
}

export interface ManagedIdentityEndpoint {
  /** http://127.0.0.1:<port>/msi/token: the IDENTITY_ENDPOINT value. */
  endpoint: string;
  /** The IDENTITY_HEADER value (current setting). */
  readonly header: string;
  /** The client id of the app's (first) user-assigned identity. */
  readonly userAssignedClientId: string;
  /** IDENTITY_ENDPOINT and IDENTITY_HEADER, as the platform sets them in the app's environment. */
  env(): { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** Changes which identities the app has, or the header secret (omitted fields keep their value). */
  configure(settings: ManagedIdentitySettings): void;
  /** Every token request so far (never the tokens). */
  requests(): IdentityRequest[];
  /**
   * A token of this sandbox's signing key for `resource`, as Entra ID would issue it to the app `appId` (the
   * sandbox's token endpoint for a service principal, `sandbox/tenant.ts`). Undefined for a resource no service has.
   */
  issue(resource: string, appId: string): { token: string; expiresOn: number } | undefined;
  /** Whether `token` is one of this endpoint's, unexpired, for `audience`; a reason when not. */
  check(token: string, audience: TokenAudience): { ok: true; clientId: string } | { ok: false; reason: string };
  stop(): Promise<void>;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const normalise = (resource: string) => resource.trim().replace(/\/+$/, '').toLowerCase();

/** Whether a bearer token is shaped like a JWT (three base64url parts, a JSON header); opaque tokens are not. */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string';
  } catch {
    return false;
  }
}

export async function startManagedIdentityEndpoint(options: { tenantId: string }): Promise<ManagedIdentityEndpoint> {
  const signingKey = randomBytes(32);
  const settings: Required<ManagedIdentitySettings> = {
    systemAssigned: false,
    userAssigned: [randomUUID()],
    header: randomBytes(16).toString('hex'),
  };
  const log: IdentityRequest[] = [];
  // Principal (object) ids, stable per client id for the sandbox's lifetime.
  const principals = new Map<string, string>();
  const principalOf = (clientId: string) => {
    let id = principals.get(clientId);
    if (id === undefined) principals.set(clientId, (id = randomUUID()));
    return id;
  };

  const sign = (payload: Record<string, unknown>) => {
    const unsigned = `${b64url({ typ: 'JWT', alg: 'HS256' })}.${b64url(payload)}`;
    return `${unsigned}.${createHmac('sha256', signingKey).update(unsigned).digest('base64url')}`;
  };

  const refuse = (res: http.ServerResponse, status: number, message: string, entry: Omit<IdentityRequest, 'status'>) => {
    log.push({ ...entry, status, refused: message });
    const body = JSON.stringify({ statusCode: status, message, correlationId: randomUUID() });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const resource = url.searchParams.get('resource') ?? undefined;
    const clientId = url.searchParams.get('client_id') ?? undefined;
    const entry = { resource, clientId };
    if (req.method !== 'GET' || !/^\/msi\/token\/?$/.test(url.pathname)) return refuse(res, 404, `No such endpoint: ${req.method} ${url.pathname}`, entry);
    const header = req.headers['x-identity-header'];
    const expected = Buffer.from(settings.header);
    if (typeof header !== 'string' || header.length !== settings.header.length || !timingSafeEqual(Buffer.from(header), expected)) {
      return refuse(res, 401, 'The X-IDENTITY-HEADER header is missing or does not match the IDENTITY_HEADER secret of this app.', entry);
    }
    if (url.searchParams.get('api-version') !== IDENTITY_API_VERSION) {
      return refuse(res, 400, `api-version must be ${IDENTITY_API_VERSION}, got '${url.searchParams.get('api-version') ?? ''}'.`, entry);
    }
    if (url.searchParams.has('mi_res_id') || url.searchParams.has('principal_id') || url.searchParams.has('object_id')) {
      return refuse(res, 400, 'Only client_id selects a user-assigned identity in this sandbox.', entry);
    }
    if (resource === undefined || resource.trim() === '') return refuse(res, 400, "The 'resource' query parameter is required.", entry);
    const audience = (Object.keys(AUDIENCES) as TokenAudience[]).find((k) => AUDIENCES[k].some((a) => a === normalise(resource)));
    if (audience === undefined) {
      // What Entra ID answers for an audience no service principal has (AADSTS500011).
      return refuse(res, 400, `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${options.tenantId}.`, entry);
    }
    let identity: string;
    if (clientId !== undefined) {
      if (!settings.userAssigned.some((c) => c.toLowerCase() === clientId.toLowerCase())) {
        return refuse(res, 400, 'Unable to load the proper Managed Identity.', entry);
      }
      identity = clientId.toLowerCase();
    } else {
      if (!settings.systemAssigned) {
        return refuse(res, 400, 'Unable to load the proper Managed Identity.', entry);
      }
      identity = 'system-assigned';
    }
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + TOKEN_LIFETIME_S;
    const clientOf = identity === 'system-assigned' ? principalOf('system-assigned') : identity;
    const token = sign({
      aud: resource,
      iss: `https://sts.windows.net/${options.tenantId}/`,
      iat: now,
      nbf: now,
      exp: expiresOn,
      appid: clientOf,
      oid: principalOf(identity),
      sub: principalOf(identity),
      tid: options.tenantId,
      idtyp: 'app',
      ver: '1.0',
    });
    log.push({ ...entry, status: 200 });
    const body = JSON.stringify({ access_token: token, expires_on: String(expiresOn), resource, token_type: 'Bearer', client_id: clientOf });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`;

  return {
    endpoint,
    get header() {
      return settings.header;
    },
    get userAssignedClientId() {
      return settings.userAssigned[0] ?? '';
    },
    env: () => ({ IDENTITY_ENDPOINT: endpoint, IDENTITY_HEADER: settings.header }),
    configure(next) {
      if (next.systemAssigned !== undefined) settings.systemAssigned = next.systemAssigned;
      if (next.userAssigned !== undefined) settings.userAssigned = [...next.userAssigned];
      if (next.header !== undefined) {
        if (next.header === '') throw new RangeError('the identity header secret must not be empty');
        settings.header = next.header;
      }
    },
    requests: () => log.map((e) => ({ ...e })),
    issue(resource, appId) {
      if (!(Object.keys(AUDIENCES) as TokenAudience[]).some((k) => AUDIENCES[k].some((a) => a === normalise(resource)))) return undefined;
      const now = Math.floor(Date.now() / 1000);
      const expiresOn = now + TOKEN_LIFETIME_S;
      const token = sign({
        aud: resource,
        iss: `https://sts.windows.net/${options.tenantId}/`,
        iat: now,
        nbf: now,
        exp: expiresOn,
        appid: appId,
        oid: principalOf(appId),
        sub: principalOf(appId),
        tid: options.tenantId,
        idtyp: 'app',
        ver: '1.0',
      });
      return { token, expiresOn };
    },
    check(token, audience) {
      const [h, p, s] = token.split('.');
      if (h === undefined || p === undefined || s === undefined) return { ok: false, reason: 'the token is not a JWT' };
      const expectedSig = createHmac('sha256', signingKey).update(`${h}.${p}`).digest();
      const sig = Buffer.from(s, 'base64url');
      if (sig.length !== expectedSig.length || !timingSafeEqual(sig, expectedSig)) return { ok: false, reason: 'the token signature is invalid' };
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { aud?: string; exp?: number; appid?: string };
      if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return { ok: false, reason: 'the token is expired' };
      if (!AUDIENCES[audience].some((a) => a === normalise(claims.aud ?? ''))) {
        return { ok: false, reason: `the token was issued for the audience '${claims.aud ?? ''}'` };
      }
      return { ok: true, clientId: claims.appid ?? '' };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
