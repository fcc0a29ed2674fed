// The ARM surface: the subset of Microsoft.Web (sites, slots, app settings, restart, certificates) and
// Microsoft.KeyVault/vaults the rotator uses, with ARM's auth, api-version, error and throttling behaviour.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CertificateFormatError, readKeyVaultSecret, readPfx, type CertificateBundle } from '../src/crypto/index.js';
import { appSettingsJson, certificateJson, publishingProfileXml, siteConfigJson, siteJson, slotConfigNamesJson, vaultJson } from './arm-shapes.js';
import { defaultFaultCode, type FaultRegistry } from './faults.js';
import { bearerToken, HttpError, readJson, sendJson } from './http.js';
import { looksLikeJwt, type ManagedIdentityEndpoint } from './identity.js';

export type TokenChecker = Pick<ManagedIdentityEndpoint, 'check'>;
import type { SecretForm } from './materials.js';
import { materialFromBundle } from './materials.js';
import type { Recorder } from './observe.js';
import {
  certificateResourceId,
  webspaceKey,
  type AppState,
  type SubscriptionState,
  type VaultCertificate,
  type VaultState,
  type VaultVersion,
  type WebCertificate,
  type World,
} from './state.js';
import type { ArmThrottle, RequestClass } from './throttling.js';
import { handleLogin, RESOURCES_API_VERSIONS, subscriptionJson, tenantJson, tenantRead, type LoginContext } from './tenant.js';

/** Microsoft.Web api-versions the sandbox accepts (2025-05-01 is what @azure/arm-appservice 19 sends). */
export const WEB_API_VERSIONS = [
  '2016-08-01', '2018-02-01', '2019-08-01', '2020-06-01', '2020-09-01', '2020-10-01', '2020-12-01', '2021-01-01',
  '2021-01-15', '2021-02-01', '2021-03-01', '2022-03-01', '2022-09-01', '2023-01-01', '2023-12-01', '2024-04-01',
  '2024-11-01', '2025-03-01', '2025-05-01',
];
export const KEYVAULT_ARM_API_VERSIONS = [
  '2019-09-01', '2021-10-01', '2022-07-01', '2023-02-01', '2023-07-01', '2024-11-01', '2024-12-01-preview', '2025-05-01',
];

export interface ArmContext {
  world: World;
  tenantId: string;
  now: () => Date;
  endpoint: () => string;
  pageSize: number;
  restartOnSettingsWrite: boolean;
  recorder: Recorder;
  throttle: ArmThrottle;
  faults: FaultRegistry;
  /** Restarts the app (simulated or counted); resolves when done if `wait`. */
  restart(app: AppState, wait: boolean): Promise<void>;
  /** The secret of a vault certificate version, as GET /secrets would return it. */
  secretOf(vault: VaultState, cert: VaultCertificate, version: VaultVersion): SecretForm;
  control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  /** Checks a JWT bearer (the managed-identity endpoint's); opaque bearers are accepted as before. */
  tokens?: TokenChecker;
  /** The service principal sign-in on this host (`/adfs/…`, sandbox/tenant.ts); absent: no sign-in served. */
  login?: LoginContext;
  /** The publishing password every app's publishing profile carries (fake, per sandbox start). */
  publishingPassword?: string;
  log?: (line: string) => void;
}

interface ArmAnswer {
  status: number;
  body?: unknown;
  /** An XML answer (publishing profiles) instead of JSON. */
  xml?: string;
}

interface ArmOperation {
  operation: string;
  cls: RequestClass;
  subscriptionId: string;
  /** Which api-version list applies. */
  provider: 'web' | 'keyvault' | 'resources';
  run(req: IncomingMessage, url: URL): Promise<ArmAnswer>;
}

const notFound = (type: string, name: string, rg: string) =>
  new HttpError(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string, options: { nullable?: boolean } = {}): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new HttpError(400, 'BadRequest', `${what} must be an object of strings.`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === null && options.nullable) {
      out[k] = val as unknown as string;
      continue;
    }
    if (typeof val !== 'string') throw new HttpError(400, 'BadRequest', `${what}: the value of '${k}' must be a string.`);
    out[k] = val;
  }
  return out;
}

export function createArmHandler(ctx: ArmContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = performance.now();
    handle(ctx, req, res, started).catch((err: unknown) => {
      // Never a stack trace (or anything from the request) in the answer: the message names the sandbox fault.
      ctx.log?.(`ARM sandbox error on ${req.method} ${req.url?.split('?')[0]}: ${err instanceof Error ? err.message : String(err)}`);
      sendJson(res, 500, { error: { code: 'InternalServerError', message: 'The sandbox failed to serve the request.' } });
    });
  };
}

async function handle(ctx: ArmContext, req: IncomingMessage, res: ServerResponse, started: number): Promise<void> {
  const url = new URL(req.url ?? '/', ctx.endpoint());
  const method = (req.method ?? 'GET').toUpperCase();
  const hadBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const auth = bearerToken(req);
  // A JWT must be the identity endpoint's, for ARM's audience (ARM refuses a Key Vault or storage token).
  const refused = auth.token !== undefined && ctx.tokens !== undefined && looksLikeJwt(auth.token) ? ctx.tokens.check(auth.token, 'arm') : undefined;
  if (refused !== undefined && !refused.ok) auth.token = undefined;

  const record = (status: number, extra: Partial<Parameters<Recorder['record']>[0]> = {}) =>
    ctx.recorder.record({
      surface: url.pathname.startsWith('/_sandbox') ? 'control' : 'arm',
      method,
      path: url.pathname,
      status,
      authorized: auth.token !== undefined,
      hadBody,
      durationMs: performance.now() - started,
      ...extra,
    });

  // Sign-in comes before any bearer: it is where the bearer comes from.
  if (ctx.login !== undefined && (await handleLogin(ctx.login, req, res, url))) {
    record(res.statusCode, { surface: 'login' });
    return;
  }

  if (refused !== undefined && !refused.ok) {
    req.resume();
    const audience = /audience '([^']*)'/.exec(refused.reason)?.[1];
    sendJson(
      res,
      401,
      {
        error:
          audience !== undefined
            ? {
                code: 'InvalidAuthenticationTokenAudience',
                message: `The access token has been obtained for wrong audience or resource '${audience}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
              }
            : { code: 'InvalidAuthenticationToken', message: `The access token is invalid: ${refused.reason}.` },
      },
      { 'www-authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/${ctx.tenantId}", error="invalid_token", error_description="${refused.reason}"` },
    );
    record(401);
    return;
  }

  if (auth.token === undefined) {
    // Not acted on: the body is discarded unread.
    req.resume();
    const missing = !auth.present;
    sendJson(
      res,
      401,
      {
        error: missing
          ? { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." }
          : { code: 'AuthenticationFailedInvalidHeader', message: "Authentication failed. The 'Authorization' header is provided in an invalid format." },
      },
      {
        'www-authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/${ctx.tenantId}", error="invalid_token", error_description="The authentication failed because of ${missing ? "missing 'Authorization' header" : "an invalid 'Authorization' header"}."`,
      },
    );
    record(401);
    return;
  }

  if (url.pathname === '/_sandbox' || url.pathname.startsWith('/_sandbox/')) {
    await ctx.control(req, res, url);
    record(res.statusCode);
    return;
  }

  let op: ArmOperation;
  try {
    op = route(ctx, method, url.pathname);
  } catch (err) {
    req.resume();
    if (!(err instanceof HttpError)) throw err;
    sendJson(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
    record(err.status);
    return;
  }

  // Tenant-level reads (Subscriptions_List, Tenants_List) belong to no subscription: their bucket is the tenant's.
  const tenantLevel = op.provider === 'resources' && op.operation !== 'Subscriptions_Get';
  const rec = { ...(tenantLevel ? {} : { subscriptionId: op.subscriptionId }), operation: op.operation, class: op.cls };
  const apiVersion = url.searchParams.get('api-version');
  const versions = op.provider === 'web' ? WEB_API_VERSIONS : op.provider === 'keyvault' ? KEYVAULT_ARM_API_VERSIONS : RESOURCES_API_VERSIONS;
  const quota = ctx.throttle.take(op.subscriptionId, op.cls);
  const quotaHeader = { [`x-ms-ratelimit-remaining-subscription-${op.cls === 'read' ? 'reads' : 'writes'}`]: String(quota.remaining) };

  if (!quota.allowed) {
    req.resume();
    const spec = op.cls === 'read' ? ctx.throttle.options.reads : ctx.throttle.options.writes;
    const seconds = Math.max(1, Math.ceil(quota.retryAfterMs / 1000));
    const scaled = ctx.throttle.options.timeScale !== 1;
    sendJson(
      res,
      429,
      {
        error: {
          code: 'SubscriptionRequestsThrottled',
          message: `Number of ${op.cls} requests for subscription '${op.subscriptionId}' exceeded the limit of '${spec.burst}' for time interval '00:00:${String(Math.ceil(spec.burst / spec.perSecond)).padStart(2, '0')}'. Please try again after '${seconds}' seconds.`,
        },
      },
      {
        ...quotaHeader,
        'retry-after': String(seconds),
        // A compressed clock needs sub-second waits; the SDK prefers this header when present.
        ...(scaled ? { 'retry-after-ms': String(Math.max(1, quota.retryAfterMs)) } : {}),
      },
    );
    record(429, { ...rec, throttled: true });
    return;
  }

  if (apiVersion === null || apiVersion === '') {
    req.resume();
    sendJson(res, 400, { error: { code: 'MissingApiVersionParameter', message: 'The api-version query parameter (?api-version=) is required for all requests.' } }, quotaHeader);
    record(400, rec);
    return;
  }
  if (!versions.includes(apiVersion)) {
    req.resume();
    const ns = op.provider === 'web' ? 'Microsoft.Web' : op.provider === 'keyvault' ? 'Microsoft.KeyVault' : 'Microsoft.Resources';
    sendJson(
      res,
      400,
      {
        error: {
          code: 'NoRegisteredProviderFound',
          message: `No registered resource provider found for API version '${apiVersion}' of namespace '${ns}'. The supported api-versions are '${versions.join(', ')}'.`,
        },
      },
      quotaHeader,
    );
    record(400, rec);
    return;
  }

  const fault = ctx.faults.match({ surface: 'arm', operation: op.operation, subscriptionId: op.subscriptionId, path: url.pathname });
  if (fault !== undefined) {
    if (fault.latencyMs !== undefined && fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.hang) {
      req.resume();
      record(0, { ...rec, fault: fault.id });
      return; // the socket stays open until the client gives up or the sandbox stops
    }
    if (fault.status !== undefined) {
      req.resume();
      const retryAfter = fault.retryAfterSeconds ?? (fault.status === 429 || fault.status === 503 ? 1 : undefined);
      sendJson(
        res,
        fault.status,
        { error: { code: fault.code ?? defaultFaultCode(fault.status), message: fault.message ?? `Injected fault ${fault.id} (${fault.status}).` } },
        { ...quotaHeader, ...(retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}) },
      );
      record(fault.status, { ...rec, fault: fault.id });
      return;
    }
  }

  let answer: ArmAnswer;
  try {
    answer = await op.run(req, url);
  } catch (err) {
    req.resume();
    if (!(err instanceof HttpError)) throw err;
    sendJson(res, err.status, { error: { code: err.code, message: err.message, ...err.extra } }, { ...quotaHeader, ...err.headers });
    record(err.status, rec);
    return;
  }
  if (answer.xml !== undefined) {
    res.writeHead(answer.status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(answer.xml)), ...quotaHeader });
    res.end(answer.xml);
  } else {
    sendJson(res, answer.status, answer.body, quotaHeader);
  }
  record(answer.status, { ...rec, ...(fault !== undefined ? { fault: fault.id } : {}) });
}

function segmentsOf(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new HttpError(400, 'BadRequest', 'The request path is not correctly URL-encoded.');
      }
    });
}

function route(ctx: ArmContext, method: string, path: string): ArmOperation {
  const seg = segmentsOf(path);
  const lc = seg.map((s) => s.toLowerCase());
  const tenantLevel = tenantRead(ctx.world, method, seg);
  if (tenantLevel !== undefined) return tenantOperation(ctx, tenantLevel);
  if (lc[0] !== 'subscriptions' || seg[1] === undefined) {
    throw new HttpError(404, 'NotFound', `The sandbox serves no resource at '${path}'.`);
  }
  const subscriptionId = seg[1];
  let i = 2;
  let rg: string | undefined;
  if (lc[i] === 'resourcegroups') {
    rg = seg[i + 1];
    if (rg === undefined) throw new HttpError(404, 'NotFound', `The sandbox serves no resource at '${path}'.`);
    i += 2;
  }
  if (lc[i] !== 'providers' || lc[i + 1] === undefined || lc[i + 2] === undefined) {
    throw new HttpError(404, 'NotFound', `The sandbox serves no resource at '${path}'.`);
  }
  const ns = lc[i + 1];
  const type = lc[i + 2];
  const rest = seg.slice(i + 3);
  const restLc = lc.slice(i + 3);
  const unsupported = (): never => {
    throw new HttpError(405, 'MethodNotAllowed', `The sandbox does not implement ${method} on '${path}'.`);
  };
  const unknownType = (): never => {
    throw new HttpError(
      404,
      'InvalidResourceType',
      `The resource type '${seg[i + 2]}' could not be found in the namespace '${seg[i + 1]}' (sandbox).`,
    );
  };

  const sub = (): SubscriptionState => {
    const s = ctx.world.subscription(subscriptionId);
    if (s === undefined) throw new HttpError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
    return s;
  };
  const group = (s: SubscriptionState, name: string) => {
    const g = s.groups.get(name.toLowerCase());
    if (g === undefined) throw new HttpError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
    return g;
  };
  const op = (operation: string, cls: RequestClass, run: ArmOperation['run'], provider: ArmOperation['provider'] = 'web'): ArmOperation => ({
    operation,
    cls,
    subscriptionId,
    provider,
    // A disabled subscription is read-only in ARM: every write is refused, reads still answer.
    run: cls === 'write' ? async (req, url) => (refuseWriteWhenDisabled(ctx, subscriptionId), run(req, url)) : run,
  });

  if (ns === 'microsoft.keyvault') {
    if (type !== 'vaults') unknownType();
    if (rg === undefined || rest.length !== 1) unsupported();
    if (method !== 'GET') unsupported();
    return op(
      'Vaults_Get',
      'read',
      async () => {
        const s = sub();
        group(s, rg!);
        const v = ctx.world.vault(rest[0]!);
        if (v === undefined || v.subscriptionId.toLowerCase() !== s.id.toLowerCase() || v.resourceGroup.toLowerCase() !== rg!.toLowerCase()) {
          throw notFound('Microsoft.KeyVault/vaults', rest[0]!, rg!);
        }
        return { status: 200, body: vaultJson(v, ctx.tenantId) };
      },
      'keyvault',
    );
  }
  if (ns !== 'microsoft.web') unknownType();

  if (type === 'certificates') {
    if (rest.length === 0) {
      if (method !== 'GET') unsupported();
      return rg === undefined
        ? op('Certificates_List', 'read', async (_req, url) => {
            const s = sub();
            return { status: 200, body: page(ctx, url, [...s.certificates.values()], (c) => certificateJson(c, ctx.now())) };
          })
        : op('Certificates_ListByResourceGroup', 'read', async (_req, url) => {
            const s = sub();
            group(s, rg!);
            const items = [...(s.certificatesByGroup.get(rg!.toLowerCase())?.values() ?? [])];
            return { status: 200, body: page(ctx, url, items, (c) => certificateJson(c, ctx.now())) };
          });
    }
    if (rg === undefined || rest.length !== 1) unsupported();
    const name = rest[0]!;
    switch (method) {
      case 'GET':
        return op('Certificates_Get', 'read', async () => {
          const s = sub();
          group(s, rg!);
          const c = ctx.world.certificate(s.id, rg!, name);
          if (c === undefined) throw notFound('Microsoft.Web/certificates', name, rg!);
          return { status: 200, body: certificateJson(c, ctx.now()) };
        });
      case 'PUT':
        return op('Certificates_CreateOrUpdate', 'write', async (req) => {
          const s = sub();
          const g = group(s, rg!);
          const c = await putCertificate(ctx, s, g.name, name, await readJson(req));
          return { status: 200, body: certificateJson(c, ctx.now()) };
        });
      case 'DELETE':
        return op('Certificates_Delete', 'write', async () => {
          const s = sub();
          group(s, rg!);
          return { status: ctx.world.deleteCertificate(s.id, rg!, name) ? 200 : 204 };
        });
      default:
        return unsupported();
    }
  }

  if (type !== 'sites') unknownType();
  if (rest.length === 0) {
    if (method !== 'GET') unsupported();
    return rg === undefined
      ? op('WebApps_List', 'read', async (_req, url) => {
          const s = sub();
          return { status: 200, body: page(ctx, url, s.sites, (a) => siteJson(a, false)) };
        })
      : op('WebApps_ListByResourceGroup', 'read', async (_req, url) => {
          const s = sub();
          group(s, rg!);
          // includeSlots=true is accepted and, as in ARM's default, slots are listed only by WebApps_ListSlots.
          const items = s.sitesByGroup.get(rg!.toLowerCase()) ?? [];
          return { status: 200, body: page(ctx, url, items, (a) => siteJson(a, false)) };
        });
  }
  if (rg === undefined) unsupported();
  const siteName = rest[0]!;
  const findSite = (): AppState => {
    const s = sub();
    group(s, rg!);
    const a = s.siteByKey.get(`${rg}/${siteName}`.toLowerCase());
    if (a === undefined) throw notFound('Microsoft.Web/sites', siteName, rg!);
    return a;
  };
  let tail = restLc.slice(1);
  let slotName: string | undefined;
  if (tail[0] === 'slots') {
    if (tail.length === 1) {
      if (method !== 'GET') unsupported();
      return op('WebApps_ListSlots', 'read', async (_req, url) => {
        const site = findSite();
        return { status: 200, body: page(ctx, url, site.slots ?? [], (a) => siteJson(a, false)) };
      });
    }
    slotName = rest[2];
    tail = tail.slice(2);
  }
  const suffix = slotName !== undefined ? 'Slot' : '';
  const findApp = (): AppState => {
    const site = findSite();
    if (slotName === undefined) return site;
    const slot = site.slotByName?.get(slotName.toLowerCase());
    if (slot === undefined) throw notFound('Microsoft.Web/sites/slots', `${siteName}/${slotName}`, rg!);
    return slot;
  };
  const tailKey = tail.join('/');

  if (tailKey === '' && method === 'GET') {
    return op(`WebApps_Get${suffix}`, 'read', async () => ({ status: 200, body: siteJson(findApp(), true) }));
  }
  if (tailKey === 'config/slotconfignames' && slotName === undefined) {
    // Slot settings belong to the site (there is no slot variant of this resource): they say which names stay put in a swap.
    if (method === 'GET') {
      return op('WebApps_ListSlotConfigurationNames', 'read', async () => ({ status: 200, body: slotConfigNamesJson(findSite()) }));
    }
    if (method === 'PUT') {
      return op('WebApps_UpdateSlotConfigurationNames', 'write', async (req) => {
        const site = findSite();
        const body = await readJson(req);
        if (!isRecord(body) || (body.properties !== undefined && !isRecord(body.properties))) {
          throw new HttpError(400, 'BadRequest', 'The request body must be a SlotConfigNamesResource: { "properties": { "appSettingNames": [ … ] } }.');
        }
        const props = (body.properties ?? {}) as Record<string, unknown>;
        const names = (key: string): string[] | null => {
          const v = props[key];
          if (v === undefined || v === null) return null;
          if (!Array.isArray(v) || !v.every((n) => typeof n === 'string')) throw new HttpError(400, 'BadRequest', `properties.${key} must be an array of strings.`);
          return [...(v as string[])];
        };
        // PUT replaces the resource: a list that is absent is cleared.
        site.slotConfigNames = {
          appSettingNames: names('appSettingNames'),
          connectionStringNames: names('connectionStringNames'),
          azureStorageConfigNames: names('azureStorageConfigNames'),
        };
        site.lastModified = ctx.now();
        return { status: 200, body: slotConfigNamesJson(site) };
      });
    }
  }
  if (tailKey === 'config/web' && method === 'GET') {
    return op(`WebApps_GetConfiguration${suffix}`, 'read', async () => ({ status: 200, body: siteConfigJson(findApp()) }));
  }
  if (tailKey === 'publishxml' && method === 'POST') {
    // A POST action that answers XML with the deployment credentials (fake ones here), as az webapp show reads it.
    return op(`WebApps_ListPublishingProfileXmlWithSecrets${suffix}`, 'write', async (req) => {
      const body = await readJson(req);
      const format = isRecord(body) && typeof body.format === 'string' ? body.format : 'WebDeploy';
      if (!['WebDeploy', 'FileZilla3', 'Ftp'].includes(format)) {
        throw new HttpError(400, 'BadRequest', `The publishing profile format '${format}' is not one of WebDeploy, FileZilla3, Ftp.`);
      }
      return { status: 200, xml: publishingProfileXml(findApp(), ctx.publishingPassword ?? 'sandbox') };
    });
  }
  if (tailKey === 'config/appsettings/list' && method === 'POST') {
    // A POST …/list action: ARM counts it as a write.
    return op(`WebApps_ListApplicationSettings${suffix}`, 'write', async (req) => {
      req.resume();
      return { status: 200, body: appSettingsJson(findApp()) };
    });
  }
  if (tailKey === 'config/appsettings' && method === 'PUT') {
    return op(`WebApps_UpdateApplicationSettings${suffix}`, 'write', async (req) => {
      const app = findApp();
      const body = await readJson(req);
      if (!isRecord(body)) throw new HttpError(400, 'BadRequest', 'The request body must be a StringDictionary: { "properties": { "<name>": "<value>" } }.');
      // PUT replaces the whole dictionary, as the real API does: keys that are absent are deleted.
      // ARM returns null for a setting set to null, and takes it back on a PUT (a read-modify-write must keep it).
      app.settings = stringMap(body.properties, 'properties', { nullable: true });
      app.lastModified = ctx.now();
      if (ctx.restartOnSettingsWrite) void ctx.restart(app, false);
      return { status: 200, body: appSettingsJson(app) };
    });
  }
  if (tailKey === 'restart' && method === 'POST') {
    return op(`WebApps_Restart${suffix}`, 'write', async (req, url) => {
      req.resume();
      const app = findApp();
      const synchronous = url.searchParams.get('synchronous')?.toLowerCase() === 'true';
      await ctx.restart(app, synchronous);
      return { status: 200 };
    });
  }
  return unsupported();
}

// The code and message ARM answers, as users report them (e.g. microsoft/vscode-azureappservice#1646).
function refuseWriteWhenDisabled(ctx: ArmContext, subscriptionId: string): void {
  const s = ctx.world.subscription(subscriptionId);
  if (s !== undefined && (s.state === 'Disabled' || s.state === 'Deleted')) {
    throw new HttpError(
      409,
      'ReadOnlyDisabledSubscription',
      `The subscription '${s.id}' is disabled and therefore marked as read only. You cannot perform any write actions on this subscription until it is re-enabled.`,
    );
  }
}

function tenantOperation(ctx: ArmContext, read: { operation: string; subscription?: string }): ArmOperation {
  // Tenant-level reads count against the tenant's own bucket, not a subscription's.
  const base = { operation: read.operation, cls: 'read' as const, subscriptionId: read.subscription ?? ctx.tenantId, provider: 'resources' as const };
  switch (read.operation) {
    case 'Subscriptions_List':
      return { ...base, run: async (_req, url) => ({ status: 200, body: page(ctx, url, [...ctx.world.subscriptions.values()], (s) => subscriptionJson(s, ctx.tenantId)) }) };
    case 'Tenants_List':
      return { ...base, run: async (_req, url) => ({ status: 200, body: page(ctx, url, [ctx.tenantId], (t) => tenantJson(t)) }) };
    default:
      return { ...base, run: async () => ({ status: 200, body: subscriptionJson(ctx.world.subscription(read.subscription!)!, ctx.tenantId) }) };
  }
}

/** One page of a list; `$skiptoken` is the offset of the page (opaque to clients, as in ARM). */
function page<T>(ctx: ArmContext, url: URL, items: readonly T[], render: (item: T) => unknown): { value: unknown[]; nextLink: string | null } {
  const raw = url.searchParams.get('$skiptoken');
  let offset = 0;
  if (raw !== null) {
    offset = Number.parseInt(Buffer.from(raw, 'base64url').toString('utf8'), 10);
    if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'InvalidSkipToken', 'The $skiptoken is not valid.');
  }
  const end = Math.min(items.length, offset + ctx.pageSize);
  const value: unknown[] = [];
  for (let k = offset; k < end; k++) value.push(render(items[k]!));
  let nextLink: string | null = null;
  if (end < items.length) {
    const next = new URL(url.pathname, ctx.endpoint());
    for (const [k, v] of url.searchParams) if (k !== '$skiptoken') next.searchParams.set(k, v);
    next.searchParams.set('$skiptoken', Buffer.from(String(end)).toString('base64url'));
    nextLink = next.toString();
  }
  return { value, nextLink };
}

/**
 * ARM's naming rule for Microsoft.Web/certificates (learn.microsoft.com, resource name rules and the certificates
 * template reference): 1–260 characters, no '/', not ending in a space or period. `az webapp config ssl upload`
 * names certificates `<THUMBPRINT>__<location>_<resourceGroup>`, spaces included ("…__West Europe_rg-demo").
 * Characters ARM cannot route in a path segment ('#', '?', '%', '&', '\\', controls) are refused as well.
 */
export function isValidCertificateName(name: string): boolean {
  return name.length >= 1 && name.length <= 260 && !/[/#?%&\\\u0000-\u001f\u007f]/.test(name) && !/[ .]$/.test(name);
}

const FORMAT_MESSAGES: Record<CertificateFormatError['code'], string> = {
  WrongPassword: 'The specified PFX password is incorrect.',
  NoPrivateKey: 'The certificate does not contain a private key. Upload a PFX that includes the private key.',
  NoCertificate: 'The PFX does not contain a certificate.',
  Corrupt: 'The certificate data is not a valid PFX (PKCS#12) file.',
  KeyMismatch: 'The private key in the PFX does not match the certificate.',
  UnsupportedContentType: 'The Key Vault secret has a content type App Service cannot import.',
  TooManyIterations: 'The certificate data is not a valid PFX (PKCS#12) file.',
};

/**
 * Uploads opened, by a digest of bytes and password. A batch of rotations uploads one PFX into many webspaces; the
 * simulated platform opens it once (App Service does its own work elsewhere, not on the machine under test). Only
 * successful reads are kept, so a bad upload is refused every time.
 */
const openedUploads = new Map<string, CertificateBundle>();
const MAX_OPENED_UPLOADS = 64;
function openUpload(pfx: Buffer, password: string): CertificateBundle {
  const key = createHash('sha256').update(pfx).update('\0').update(password).digest('base64');
  const known = openedUploads.get(key);
  if (known) return known;
  const bundle = readPfx(pfx, password);
  if (openedUploads.size >= MAX_OPENED_UPLOADS) openedUploads.delete(openedUploads.keys().next().value as string);
  openedUploads.set(key, bundle);
  return bundle;
}

async function putCertificate(ctx: ArmContext, s: SubscriptionState, rg: string, name: string, body: unknown): Promise<WebCertificate> {
  if (!isValidCertificateName(name)) {
    throw new HttpError(
      400,
      'InvalidResourceName',
      `The resource name '${name}' is invalid. A Microsoft.Web/certificates name has 1 to 260 characters, no '/' (nor '#', '?', '%', '&', '\\' or control characters), and does not end with a space or a period.`,
    );
  }
  if (!isRecord(body)) throw new HttpError(400, 'BadRequest', 'The request body is required: { "location": …, "properties": { … } }.');
  if (typeof body.location !== 'string' || body.location.trim() === '') {
    throw new HttpError(400, 'LocationRequired', 'The location property is required for this definition.');
  }
  const location = body.location;
  const tags = stringMap(body.tags, 'tags');
  const props = isRecord(body.properties) ? body.properties : {};
  const serverFarmId = typeof props.serverFarmId === 'string' ? props.serverFarmId : undefined;

  let bundle: CertificateBundle;
  let keyVaultId: string | undefined;
  let keyVaultSecretName: string | undefined;
  if (typeof props.pfxBlob === 'string' && props.pfxBlob !== '') {
    if (props.password !== undefined && typeof props.password !== 'string') {
      throw new HttpError(400, 'BadRequest', 'The parameter password has an invalid value: it must be a string.');
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(props.pfxBlob.replace(/\s+/g, ''))) {
      throw new HttpError(400, 'BadRequest', 'The parameter pfxBlob has an invalid value: it must be base64.');
    }
    const pfx = Buffer.from(props.pfxBlob, 'base64');
    try {
      bundle = openUpload(pfx, (props.password as string | undefined) ?? '');
    } catch (err) {
      if (err instanceof CertificateFormatError) throw new HttpError(400, 'BadRequest', FORMAT_MESSAGES[err.code] ?? 'The certificate could not be read.');
      throw err;
    }
  } else if (typeof props.keyVaultId === 'string' && typeof props.keyVaultSecretName === 'string') {
    keyVaultId = props.keyVaultId;
    keyVaultSecretName = props.keyVaultSecretName;
    bundle = importFromVault(ctx, keyVaultId, keyVaultSecretName);
  } else {
    throw new HttpError(
      400,
      'BadRequest',
      'The certificate needs either properties.pfxBlob (with properties.password) or properties.keyVaultId and properties.keyVaultSecretName.',
    );
  }

  const material = materialFromBundle(bundle);
  const webspace = webspaceKey(s.id, rg, location);
  const duplicate = ctx.world.certificateWithThumbprint(webspace, material.thumbprint, name);
  if (duplicate !== undefined) {
    // App Service keeps one resource per thumbprint in a webspace.
    throw new HttpError(
      409,
      'Conflict',
      `Another certificate exists with same thumbprint ${material.thumbprint} at location ${duplicate.location} in the Resource Group ${duplicate.resourceGroup}.`,
    );
  }
  const hostNames = Array.isArray(props.hostNames) && props.hostNames.every((h) => typeof h === 'string')
    ? (props.hostNames as string[])
    : [material.subjectCommonName ?? material.subject];
  const cert: WebCertificate = {
    id: certificateResourceId(s.id, rg, name),
    name,
    subscriptionId: s.id,
    resourceGroup: rg,
    location,
    webspace,
    tags,
    material,
    keyVaultId,
    keyVaultSecretName,
    serverFarmId,
    hostNames,
  };
  ctx.world.putCertificate(cert);
  return cert;
}

function importFromVault(ctx: ArmContext, keyVaultId: string, secretName: string): CertificateBundle {
  const vault = ctx.world.vaultById(keyVaultId);
  if (vault === undefined) {
    throw new HttpError(400, 'BadRequest', `The Key Vault '${keyVaultId}' does not exist.`);
  }
  const cert = vault.certificates.get(secretName.toLowerCase());
  if (vault.forbidden || cert?.forbidden) {
    throw new HttpError(
      400,
      'BadRequest',
      `The service does not have access to '${keyVaultId}' Key Vault. Please make sure that you have granted necessary permissions to the service to perform the request operation.`,
    );
  }
  if (cert === undefined) throw new HttpError(400, 'BadRequest', `The secret '${secretName}' does not exist in Key Vault '${vault.name}'.`);
  const latest = cert.versions[cert.versions.length - 1]!;
  if (!latest.enabled) throw new HttpError(400, 'BadRequest', `The current version of secret '${secretName}' in Key Vault '${vault.name}' is disabled.`);
  const secret = ctx.secretOf(vault, cert, latest);
  try {
    return readKeyVaultSecret(secret.contentType, secret.value);
  } catch (err) {
    if (err instanceof CertificateFormatError) {
      throw new HttpError(400, 'BadRequest', `The secret '${secretName}' in Key Vault '${vault.name}' cannot be imported: ${FORMAT_MESSAGES[err.code]}`);
    }
    throw err;
  }
}
