// The Key Vault data-plane surface of one vault (one HTTPS port per vault): certificates, their versions and
// policy, and the certificate secrets, after the recordings in shared/azure-examples/recordings. Requests
// without a bearer token get the real challenge, so the SDK's challenge-based authentication runs for real.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultFaultCode, type FaultRegistry } from './faults.js';
import { bearerToken, epochSeconds, HttpError, sendJson } from './http.js';
import { looksLikeJwt, type ManagedIdentityEndpoint } from './identity.js';
import type { SecretForm } from './materials.js';
import type { Recorder } from './observe.js';
import type { VaultCertificate, VaultState, VaultVersion } from './state.js';

export const KEYVAULT_API_VERSIONS = ['2016-10-01', '7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6', '2025-06-01', '2025-07-01'];
const LATEST_API_VERSION = '2025-07-01';
const KV_MAX_PAGE = 25;
const RECOVERY = { recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 } as const;

export interface KeyVaultContext {
  vault: VaultState;
  tenantId: string;
  pageSize: number;
  recorder: Recorder;
  faults: FaultRegistry;
  secretOf(vault: VaultState, cert: VaultCertificate, version: VaultVersion): SecretForm;
  /** Checks a JWT bearer (the managed-identity endpoint's); opaque bearers are accepted as before. */
  tokens?: Pick<ManagedIdentityEndpoint, 'check'>;
  log?: (line: string) => void;
}

interface KvOperation {
  operation: 'GetCertificate' | 'GetCertificateVersions' | 'GetCertificatePolicy' | 'GetSecret';
  run(url: URL): unknown;
}

export function createKeyVaultHandler(ctx: KeyVaultContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = performance.now();
    handle(ctx, req, res, started).catch((err: unknown) => {
      ctx.log?.(`Key Vault sandbox error on ${req.method} ${req.url?.split('?')[0]}: ${err instanceof Error ? err.message : String(err)}`);
      sendJson(res, 500, { error: { code: 'InternalServerError', message: 'The sandbox failed to serve the request.' } });
    });
  };
}

async function handle(ctx: KeyVaultContext, req: IncomingMessage, res: ServerResponse, started: number): Promise<void> {
  const { vault } = ctx;
  const url = new URL(req.url ?? '/', vault.url);
  const method = (req.method ?? 'GET').toUpperCase();
  const hadBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const auth = bearerToken(req);
  // A JWT must be the identity endpoint's, for Key Vault's audience (Key Vault refuses an ARM or storage token).
  const refused = auth.token !== undefined && ctx.tokens !== undefined && looksLikeJwt(auth.token) ? ctx.tokens.check(auth.token, 'keyVault') : undefined;
  if (refused !== undefined && !refused.ok) auth.token = undefined;
  req.resume(); // every supported operation is a bodyless GET
  const record = (status: number, extra: { operation?: string; fault?: string } = {}) =>
    ctx.recorder.record({
      surface: 'kv',
      vault: vault.name,
      method,
      path: url.pathname,
      status,
      authorized: auth.token !== undefined,
      hadBody,
      durationMs: performance.now() - started,
      ...extra,
    });
  const headers = { 'x-ms-keyvault-service-version': '1.9.3070.2', 'x-ms-keyvault-region': vault.location.replace(/\s+/g, '').toLowerCase() };
  const fail = (err: HttpError, extra: { operation?: string; fault?: string } = {}) => {
    sendJson(res, err.status, { error: { code: err.code, message: err.message, ...err.extra } }, { ...headers, ...err.headers });
    record(err.status, extra);
  };

  if (refused !== undefined && !refused.ok) {
    const audience = /audience '([^']*)'/.exec(refused.reason)?.[1];
    fail(
      new HttpError(
        401,
        'Unauthorized',
        audience !== undefined ? `AKV10022: Invalid audience. Expected https://vault.azure.net, found: ${audience}.` : `AKV10000: The bearer token is invalid: ${refused.reason}.`,
        { 'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${ctx.tenantId}", resource="https://vault.azure.net"` },
      ),
    );
    return;
  }

  if (auth.token === undefined) {
    // The SDK's first request carries no token (and no body): answer the challenge, act on nothing.
    fail(
      new HttpError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token.', {
        'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${ctx.tenantId}", resource="https://vault.azure.net"`,
      }),
    );
    return;
  }

  let op: KvOperation;
  try {
    op = route(ctx, method, url.pathname);
  } catch (err) {
    if (err instanceof HttpError) return fail(err);
    throw err;
  }

  const apiVersion = url.searchParams.get('api-version');
  if (apiVersion === null || apiVersion === '') {
    return fail(new HttpError(400, 'BadParameter', 'The api-version query parameter is required.'), { operation: op.operation });
  }
  if (!KEYVAULT_API_VERSIONS.includes(apiVersion)) {
    return fail(
      new HttpError(400, 'BadParameter', `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (${LATEST_API_VERSION}).`),
      { operation: op.operation },
    );
  }

  const fault = ctx.faults.match({ surface: 'kv', operation: op.operation, subscriptionId: vault.subscriptionId, path: url.pathname });
  if (fault !== undefined) {
    if (fault.latencyMs !== undefined && fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.hang) {
      record(0, { operation: op.operation, fault: fault.id });
      return;
    }
    if (fault.status !== undefined) {
      const retryAfter = fault.retryAfterSeconds ?? (fault.status === 429 || fault.status === 503 ? 1 : undefined);
      const code = fault.code ?? (fault.status === 429 ? 'Throttled' : defaultFaultCode(fault.status));
      return fail(
        new HttpError(fault.status, code, fault.message ?? `Injected fault ${fault.id} (${fault.status}).`, retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}),
        { operation: op.operation, fault: fault.id },
      );
    }
  }

  try {
    const body = op.run(url);
    sendJson(res, 200, body, headers);
    record(200, { operation: op.operation, ...(fault !== undefined ? { fault: fault.id } : {}) });
  } catch (err) {
    if (err instanceof HttpError) return fail(err, { operation: op.operation });
    throw err;
  }
}

function forbidden(vault: VaultState, action: string): HttpError {
  return new HttpError(
    403,
    'Forbidden',
    `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nAction: '${action}'\r\nResource: '${vault.id.toLowerCase()}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: ${vault.name};location=${vault.location.replace(/\s+/g, '').toLowerCase()}\r\n`,
    {},
    { innererror: { code: 'ForbiddenByRbac' } },
  );
}

const certificateNotFound = (id: string) =>
  new HttpError(
    404,
    'CertificateNotFound',
    `A certificate with (name/id) ${id} was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
const secretNotFound = (id: string) =>
  new HttpError(
    404,
    'SecretNotFound',
    `A secret with (name/id) ${id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );

function route(ctx: KeyVaultContext, method: string, path: string): KvOperation {
  const { vault } = ctx;
  const seg = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new HttpError(400, 'BadParameter', 'The request URI is not correctly encoded.');
      }
    });
  const kind = seg[0]?.toLowerCase();
  const name = seg[1];
  if ((kind !== 'certificates' && kind !== 'secrets') || name === undefined || seg.length > 3) {
    throw new HttpError(404, 'NotFound', `The sandbox vault serves no resource at '${path}'.`);
  }
  if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', `The sandbox vault does not implement ${method} on '${path}'.`);
  const third = seg[2];

  const lookup = (action: string, notFound: (id: string) => HttpError): VaultCertificate => {
    if (vault.forbidden) throw forbidden(vault, action);
    const cert = vault.certificates.get(name.toLowerCase());
    if (cert === undefined) throw notFound(name);
    if (cert.forbidden) throw forbidden(vault, action);
    return cert;
  };
  const versionOf = (cert: VaultCertificate, version: string | undefined, notFound: (id: string) => HttpError): VaultVersion => {
    if (version === undefined || version === '') return cert.versions[cert.versions.length - 1]!;
    const v = cert.byVersion.get(version.toLowerCase());
    if (v === undefined) throw notFound(`${name}/${version}`);
    return v;
  };

  if (kind === 'certificates') {
    if (third?.toLowerCase() === 'versions') {
      return {
        operation: 'GetCertificateVersions',
        run: (url) => {
          const cert = lookup('Microsoft.KeyVault/vaults/certificates/read', certificateNotFound);
          return versionsPage(ctx, cert, url);
        },
      };
    }
    if (third?.toLowerCase() === 'policy') {
      return {
        operation: 'GetCertificatePolicy',
        run: () => policyJson(vault, lookup('Microsoft.KeyVault/vaults/certificates/read', certificateNotFound)),
      };
    }
    return {
      operation: 'GetCertificate',
      run: () => {
        const cert = lookup('Microsoft.KeyVault/vaults/certificates/read', certificateNotFound);
        return certificateBundleJson(vault, cert, versionOf(cert, third, certificateNotFound));
      },
    };
  }
  return {
    operation: 'GetSecret',
    run: () => {
      const cert = lookup('Microsoft.KeyVault/vaults/secrets/getSecret/action', secretNotFound);
      const v = versionOf(cert, third, secretNotFound);
      if (!v.enabled) {
        throw new HttpError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', {}, { innererror: { code: 'SecretDisabled' } });
      }
      const secret = ctx.secretOf(vault, cert, v);
      return {
        value: secret.value,
        contentType: secret.contentType,
        id: `${vault.url}/secrets/${cert.name}/${v.version}`,
        managed: true,
        attributes: attributesJson(v),
        ...(Object.keys(cert.tags).length > 0 ? { tags: { ...cert.tags } } : {}),
        kid: `${vault.url}/keys/${cert.name}/${v.version}`,
      };
    },
  };
}

function attributesJson(v: VaultVersion): Record<string, unknown> {
  return {
    enabled: v.enabled,
    nbf: epochSeconds(v.material.notBefore),
    exp: epochSeconds(v.material.notAfter),
    created: epochSeconds(v.created),
    updated: epochSeconds(v.updated),
    ...RECOVERY,
  };
}

export function certificateBundleJson(vault: VaultState, cert: VaultCertificate, v: VaultVersion): Record<string, unknown> {
  return {
    id: `${vault.url}/certificates/${cert.name}/${v.version}`,
    kid: `${vault.url}/keys/${cert.name}/${v.version}`,
    sid: `${vault.url}/secrets/${cert.name}/${v.version}`,
    x5t: v.material.x5t,
    cer: v.material.der.toString('base64'),
    attributes: attributesJson(v),
    ...(Object.keys(cert.tags).length > 0 ? { tags: { ...cert.tags } } : {}),
    policy: policyJson(vault, cert),
  };
}

function policyJson(vault: VaultState, cert: VaultCertificate): Record<string, unknown> {
  const latest = cert.versions[cert.versions.length - 1]!;
  const first = cert.versions[0]!;
  const months = Math.max(1, Math.round((latest.material.notAfter.getTime() - latest.material.notBefore.getTime()) / (30.44 * 86_400_000)));
  return {
    id: `${vault.url}/certificates/${cert.name}/policy`,
    key_props: { exportable: true, kty: 'RSA', key_size: 2048, reuse_key: false },
    secret_props: { contentType: cert.contentType },
    x509_props: {
      subject: latest.material.subject,
      sans: {},
      ekus: ['1.3.6.1.5.5.7.3.2'],
      key_usage: ['digitalSignature', 'keyEncipherment'],
      validity_months: months,
      basic_constraints: { ca: false },
    },
    lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: 'EmailContacts' } }],
    // Issued by a CA Key Vault has no integration with (the scenario's CAs): Key Vault says "Unknown".
    issuer: { name: 'Unknown' },
    attributes: { enabled: true, created: epochSeconds(first.created), updated: epochSeconds(latest.updated) },
  };
}

function versionsPage(ctx: KeyVaultContext, cert: VaultCertificate, url: URL): { value: unknown[]; nextLink: string | null } {
  const maxRaw = url.searchParams.get('maxresults');
  let size = ctx.pageSize;
  if (maxRaw !== null) {
    const n = Number(maxRaw);
    if (!Number.isInteger(n) || n < 1 || n > KV_MAX_PAGE) {
      throw new HttpError(400, 'BadParameter', `maxresults must be an integer from 1 to ${KV_MAX_PAGE}.`);
    }
    size = n;
  }
  const token = url.searchParams.get('$skiptoken');
  let offset = 0;
  if (token !== null) {
    offset = Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10);
    if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'BadParameter', 'The $skiptoken is not valid.');
  }
  const end = Math.min(cert.versions.length, offset + size);
  const value = cert.versions.slice(offset, end).map((v) => ({
    id: `${ctx.vault.url}/certificates/${cert.name}/${v.version}`,
    x5t: v.material.x5t,
    attributes: attributesJson(v),
    ...(Object.keys(cert.tags).length > 0 ? { tags: { ...cert.tags } } : {}),
  }));
  let nextLink: string | null = null;
  if (end < cert.versions.length) {
    const next = new URL(url.pathname, ctx.vault.url);
    for (const [k, v] of url.searchParams) if (k !== '$skiptoken') next.searchParams.set(k, v);
    next.searchParams.set('$skiptoken', Buffer.from(String(end)).toString('base64url'));
    nextLink = next.toString();
  }
  return { value, nextLink };
}
