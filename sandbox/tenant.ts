// The tenant around the subscriptions: the sign-in a service principal uses (an AD FS-style token endpoint on
// the ARM host, which is what lets the real `az` sign in to a cloud on 127.0.0.1) and the tenant-level ARM
// reads every client makes first (Subscriptions_List, Subscriptions_Get, Tenants_List; Microsoft.Resources,
// shaped after the 2022-12-01 examples GetSubscriptions.json / GetSubscription.json / GetTenants.json).
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readBody, sendJson } from './http.js';
import type { ManagedIdentityEndpoint } from './identity.js';
import type { SubscriptionState, World } from './state.js';

/** Microsoft.Resources api-versions for subscriptions and tenants (az 2.45 sends 2019-11-01, the JS SDK 2022-12-01). */
export const RESOURCES_API_VERSIONS = [
  '2016-06-01', '2018-06-01', '2019-06-01', '2019-11-01', '2020-01-01', '2021-01-01', '2022-01-01', '2022-12-01',
];

/** The service principal the sandbox's token endpoint knows (what `az login --service-principal` is given). */
export interface ServicePrincipal {
  clientId: string;
  secret: string;
}

export function newServicePrincipal(): ServicePrincipal {
  return { clientId: randomUUID(), secret: randomBytes(24).toString('base64url') };
}

/** The AD FS-style authority on the ARM host: a path ending in `/adfs` makes MSAL skip instance discovery. */
export const AUTHORITY_PATH = '/adfs';

export interface LoginContext {
  endpoint: () => string;
  principal: ServicePrincipal;
  tokens: Pick<ManagedIdentityEndpoint, 'issue'>;
}

function oauthError(res: ServerResponse, status: number, error: string, description: string): void {
  // The OAuth 2.0 error shape (RFC 6749 §5.2), with Entra ID's codes in the description as az prints them.
  sendJson(res, status, { error, error_description: description, error_codes: [], timestamp: new Date().toISOString(), trace_id: randomUUID() });
}

/**
 * Serves `/adfs/.well-known/openid-configuration` and the token endpoint (client credentials only). Returns false
 * for any other path, which the ARM handler then treats as ARM. Nothing here needs a bearer: it is where one comes from.
 */
export async function handleLogin(ctx: LoginContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname.replace(/\/+$/, '');
  if (path !== AUTHORITY_PATH && !path.startsWith(`${AUTHORITY_PATH}/`)) return false;
  const base = `${ctx.endpoint()}${AUTHORITY_PATH}`;
  if (req.method === 'GET' && path === `${AUTHORITY_PATH}/.well-known/openid-configuration`) {
    req.resume();
    sendJson(res, 200, {
      issuer: base,
      authorization_endpoint: `${base}/oauth2/authorize`,
      token_endpoint: `${base}/oauth2/token`,
      jwks_uri: `${base}/discovery/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      grant_types_supported: ['client_credentials'],
      response_types_supported: ['code'],
      scopes_supported: ['openid'],
    });
    return true;
  }
  if (req.method === 'POST' && path === `${AUTHORITY_PATH}/oauth2/token`) {
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    let clientId = form.get('client_id') ?? '';
    let secret = form.get('client_secret') ?? '';
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (basic !== null) {
      const [id, pw] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      clientId = decodeURIComponent(id ?? '');
      secret = decodeURIComponent(pw ?? '');
    }
    if (form.get('grant_type') !== 'client_credentials') {
      oauthError(res, 400, 'unsupported_grant_type', 'AADSTS70003: The sandbox signs in service principals only (grant_type=client_credentials).');
      return true;
    }
    if (clientId.toLowerCase() !== ctx.principal.clientId.toLowerCase()) {
      oauthError(res, 400, 'unauthorized_client', `AADSTS700016: Application with identifier '${clientId}' was not found in the directory.`);
      return true;
    }
    const expected = Buffer.from(ctx.principal.secret);
    const given = Buffer.from(secret);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      oauthError(res, 401, 'invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${ctx.principal.clientId}'.`);
      return true;
    }
    // v2 requests name a scope (`<resource>/.default`), v1 a resource.
    const scope = (form.get('scope') ?? '').split(' ').find((s) => s.endsWith('/.default'));
    const resource = scope !== undefined ? scope.slice(0, -'/.default'.length) : form.get('resource') ?? '';
    const issued = ctx.tokens.issue(resource, ctx.principal.clientId);
    if (issued === undefined) {
      oauthError(res, 400, 'invalid_resource', `AADSTS500011: The resource principal named ${resource} was not found in the tenant.`);
      return true;
    }
    sendJson(res, 200, {
      token_type: 'Bearer',
      expires_in: issued.expiresOn - Math.floor(Date.now() / 1000),
      ext_expires_in: issued.expiresOn - Math.floor(Date.now() / 1000),
      access_token: issued.token,
    });
    return true;
  }
  req.resume();
  oauthError(res, 404, 'invalid_request', `The sandbox's token endpoint serves no ${req.method ?? 'GET'} ${url.pathname}.`);
  return true;
}

export function subscriptionJson(s: SubscriptionState, tenantId: string): Record<string, unknown> {
  return {
    id: `/subscriptions/${s.id}`,
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: s.id,
    tenantId,
    displayName: s.displayName,
    state: s.state,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
    tags: {},
  };
}

export function tenantJson(tenantId: string): Record<string, unknown> {
  return {
    id: `/tenants/${tenantId}`,
    tenantId,
    countryCode: 'NL',
    displayName: 'mtls-rotator sandbox',
    domains: ['sandbox.onmicrosoft.com'],
    tenantCategory: 'Home',
    defaultDomain: 'sandbox.onmicrosoft.com',
    tenantType: 'AAD',
  };
}

/** Which tenant-level read a path is, or undefined when it is not one (then it is a subscription-scoped ARM path). */
export function tenantRead(world: World, method: string, segments: string[]): { operation: string; subscription?: string } | undefined {
  if (method !== 'GET') return undefined;
  const lc = segments.map((s) => s.toLowerCase());
  if (lc.length === 1 && lc[0] === 'subscriptions') return { operation: 'Subscriptions_List' };
  if (lc.length === 1 && lc[0] === 'tenants') return { operation: 'Tenants_List' };
  if (lc.length === 2 && lc[0] === 'subscriptions') {
    if (world.subscription(segments[1]!) === undefined) {
      throw new HttpError(404, 'SubscriptionNotFound', `The subscription '${segments[1]!}' could not be found.`);
    }
    return { operation: 'Subscriptions_Get', subscription: segments[1]! };
  }
  return undefined;
}
