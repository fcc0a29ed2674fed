// Client-certificate authentication for the HTTP API (seed 004).
//
// App Service terminates TLS at its front ends. With `clientCertEnabled=true` on the Function App it asks the
// caller for a certificate and forwards it, unvalidated, in the `X-ARR-ClientCert` header (base64 DER). The
// platform checks nothing (not the chain, not the dates), so everything is checked here. Other proxies send
// PEM, or PEM URL-encoded (nginx `$ssl_client_escaped_cert`); all three are read.
//
// The chain check is a real signature verification against the configured CA(s): the seed's sample compares
// issuer names only, which a self-made certificate with a copied issuer DN passes.
//
// Caution: a certificate is public; the header proves possession of its key only when App Service's front end
// put it there from the TLS handshake. So `clientCertEnabled=true` (client certificate mode Required) must be
// set on the Function App itself, and no other route to the app may let callers set the header themselves.
import { X509Certificate } from 'node:crypto';
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ConfigError } from '../../core/errors.js';
import { normaliseThumbprint } from '../../core/thumbprints.js';
import { derToPem, describeCertificate, splitPemCertificates, verifyIssuedBy } from '../../crypto/index.js';
import { jsonError } from '../http/responses.js';

export const CLIENT_CERT_HEADER = 'x-arr-clientcert';
// A 4096-bit RSA certificate is ~2 KB of base64; URL-encoded PEM grows by a few percent more. 16 KiB leaves room
// for large extensions while refusing to parse a header someone has stuffed.
export const MAX_CLIENT_CERT_HEADER_BYTES = 16 * 1024;

const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

export type ClientCertRejection =
  | 'ClientCertificateMissing'
  | 'ClientCertificateTooLarge'
  | 'ClientCertificateUnreadable'
  | 'ClientCertificateIsCa'
  | 'ClientCertificateWrongUsage'
  | 'ClientCertificateUntrusted'
  | 'ClientCertificateIssuerNotValid'
  | 'ClientCertificateNotYetValid'
  | 'ClientCertificateExpired'
  | 'ClientCertificateNotAllowed';

export interface ClientCertPolicy {
  /** PEM of each CA that may issue client certificates (the direct issuer of the caller's certificate). */
  trustedCaPems: string[];
  /** Uppercase or lowercase hex SHA-1 thumbprints; when given, only these certificates pass. */
  allowedThumbprints?: string[];
  now: Date;
}

export type ClientCertResult =
  | { ok: true; thumbprint: string; subject: string; issuer: string; notAfter: Date }
  | { ok: false; status: 403; code: ClientCertRejection; reason: string; thumbprint?: string };

/** Checks the value of `X-ARR-ClientCert` against the policy. Never throws: every failure is a 403 result. */
export function authenticateClientCertificate(headerValue: string | null | undefined, policy: ClientCertPolicy): ClientCertResult {
  if (headerValue === null || headerValue === undefined || headerValue.trim() === '') {
    return reject('ClientCertificateMissing', 'a client certificate is required (X-ARR-ClientCert header is missing or empty)');
  }
  if (Buffer.byteLength(headerValue, 'utf8') > MAX_CLIENT_CERT_HEADER_BYTES) {
    return reject('ClientCertificateTooLarge', `the X-ARR-ClientCert header exceeds ${MAX_CLIENT_CERT_HEADER_BYTES} bytes`);
  }
  const der = decodeClientCertificateHeader(headerValue);
  let x509: X509Certificate | undefined;
  if (der !== undefined) {
    try {
      x509 = new X509Certificate(der);
    } catch {
      x509 = undefined;
    }
  }
  if (x509 === undefined || der === undefined) {
    return reject('ClientCertificateUnreadable', 'the X-ARR-ClientCert header is not a readable X.509 certificate (expected base64 DER or PEM)');
  }
  try {
    return checkCertificate(x509, derToPem(der), policy);
  } catch {
    // A certificate OpenSSL parses but whose fields cannot be read or verified: still the caller's fault.
    return reject('ClientCertificateUnreadable', 'the client certificate could not be read or verified');
  }
}

function checkCertificate(x509: X509Certificate, pem: string, policy: ClientCertPolicy): ClientCertResult {
  const description = describeCertificate(pem);
  const thumbprint = description.thumbprint;
  const who = `certificate ${thumbprint} (${description.subject})`;

  if (x509.ca) {
    return reject('ClientCertificateIsCa', `${who} is a CA certificate, not a client certificate`, thumbprint);
  }
  // X509Certificate#keyUsage is, despite its name, the extended key usage list (undefined when absent).
  const eku = x509.keyUsage;
  if (eku !== undefined && eku.length > 0 && !eku.includes(CLIENT_AUTH_EKU) && !eku.includes(ANY_EKU)) {
    return reject('ClientCertificateWrongUsage', `${who} is not valid for client authentication (extended key usage lacks clientAuth)`, thumbprint);
  }
  const issuer = policy.trustedCaPems.find((ca) => verifyIssuedBy(pem, [ca]));
  if (issuer === undefined) {
    return reject(
      'ClientCertificateUntrusted',
      `${who} is not signed by a trusted CA (issuer ${description.issuer}); the signature does not verify against CLIENT_CERT_TRUSTED_CA`,
      thumbprint,
    );
  }
  const ca = describeCertificate(issuer);
  if (policy.now < ca.notBefore || policy.now > ca.notAfter) {
    return reject('ClientCertificateIssuerNotValid', `${who} was issued by ${ca.subject}, which is outside its validity period (${ca.notBefore.toISOString()} to ${ca.notAfter.toISOString()})`, thumbprint);
  }
  if (policy.now < description.notBefore) {
    return reject('ClientCertificateNotYetValid', `${who} is not valid before ${description.notBefore.toISOString()}`, thumbprint);
  }
  if (policy.now > description.notAfter) {
    return reject('ClientCertificateExpired', `${who} expired at ${description.notAfter.toISOString()}`, thumbprint);
  }
  if (policy.allowedThumbprints !== undefined && policy.allowedThumbprints.length > 0) {
    const allowed = policy.allowedThumbprints.some((t) => t.trim().toUpperCase() === thumbprint);
    if (!allowed) return reject('ClientCertificateNotAllowed', `${who} is not in CLIENT_CERT_ALLOWED_THUMBPRINTS`, thumbprint);
  }
  return { ok: true, thumbprint, subject: description.subject, issuer: description.issuer, notAfter: description.notAfter };
}

function reject(code: ClientCertRejection, reason: string, thumbprint?: string): ClientCertResult {
  return thumbprint === undefined ? { ok: false, status: 403, code, reason } : { ok: false, status: 403, code, reason, thumbprint };
}

/**
 * DER bytes of the certificate in a header value: base64 DER (App Service), PEM (possibly with its newlines
 * folded into spaces by a proxy), URL-encoded PEM, or base64 of PEM. Only the first certificate is used when a
 * proxy forwards a chain. Undefined when the value is none of these.
 */
export function decodeClientCertificateHeader(value: string): Buffer | undefined {
  let text = value.trim();
  if (/%[0-9A-Fa-f]{2}/.test(text)) {
    try {
      text = decodeURIComponent(text).trim();
    } catch {
      return undefined;
    }
  }
  if (text.includes('-----BEGIN')) return firstPemCertificate(text);
  const compact = text.replace(/\s+/g, '');
  // base64url too: some gateways forward it that way.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) return undefined;
  const bytes = Buffer.from(compact.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length === 0) return undefined;
  const asText = bytes.subarray(0, 64).toString('latin1');
  if (asText.includes('-----BEGIN')) return firstPemCertificate(bytes.toString('utf8'));
  return bytes;
}

function firstPemCertificate(text: string): Buffer | undefined {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/.exec(text);
  if (match === null) return undefined;
  const der = Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
  return der.length > 0 ? der : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Settings

export interface ClientCertSettings {
  mode: 'off' | 'required';
  /** Normalised PEM, one entry per CA. Empty when mode is off. */
  trustedCaPems: string[];
  /** Uppercase thumbprints; undefined when the allow-list is not set. */
  allowedThumbprints?: string[];
}

/**
 * Reads CLIENT_CERT_AUTH, CLIENT_CERT_TRUSTED_CA and CLIENT_CERT_ALLOWED_THUMBPRINTS. Throws ConfigError listing
 * every problem, each naming its setting. With CLIENT_CERT_AUTH off the other two are not read at all, so a
 * stale value cannot stop the app from starting.
 */
export function parseClientCertSettings(env: Readonly<Record<string, string | undefined>>): ClientCertSettings {
  const rawMode = (env.CLIENT_CERT_AUTH ?? '').trim().toLowerCase();
  if (rawMode === '' || rawMode === 'off') return { mode: 'off', trustedCaPems: [] };
  if (rawMode !== 'required') {
    throw new ConfigError([`CLIENT_CERT_AUTH must be 'off' or 'required', got '${truncate(env.CLIENT_CERT_AUTH ?? '')}'`]);
  }
  const problems: string[] = [];
  let trustedCaPems: string[] = [];
  try {
    trustedCaPems = parseTrustedCaSetting(env.CLIENT_CERT_TRUSTED_CA);
  } catch (err) {
    problems.push((err as Error).message);
  }
  let allowedThumbprints: string[] | undefined;
  try {
    allowedThumbprints = parseAllowedThumbprints(env.CLIENT_CERT_ALLOWED_THUMBPRINTS);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return allowedThumbprints === undefined ? { mode: 'required', trustedCaPems } : { mode: 'required', trustedCaPems, allowedThumbprints };
}

/**
 * The same settings from `loadConfig` (src/core/config.ts), which validates them at start-up too: use this in
 * the composition root so there is one source of truth; `parseClientCertSettings` is for callers without a
 * Config (and is stricter: it also refuses a trusted "CA" that is not a CA certificate).
 */
export function clientCertSettingsFromConfig(config: {
  clientCertAuth: 'off' | 'required';
  clientCertTrustedCaPems: string[];
  clientCertAllowedThumbprints?: string[];
}): ClientCertSettings {
  if (config.clientCertAuth === 'off') return { mode: 'off', trustedCaPems: [] };
  const settings: ClientCertSettings = { mode: 'required', trustedCaPems: [...config.clientCertTrustedCaPems] };
  if (config.clientCertAllowedThumbprints !== undefined && config.clientCertAllowedThumbprints.length > 0) {
    settings.allowedThumbprints = config.clientCertAllowedThumbprints.map((t) => t.toUpperCase());
  }
  return settings;
}

const CA_SETTING = 'CLIENT_CERT_TRUSTED_CA';

/** PEM text (one or several certificates) or base64 of it; throws an Error whose message names the setting. */
export function parseTrustedCaSetting(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') {
    throw new Error(`${CA_SETTING} is required when CLIENT_CERT_AUTH is 'required' (PEM of the CA(s) that issue client certificates, or base64 of that PEM)`);
  }
  // The portal and many pipelines store multi-line values with literal "\n" sequences.
  let text = value.trim().replace(/\\r\\n|\\n/g, '\n');
  if (!text.includes('-----BEGIN')) {
    const compact = text.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
      throw new Error(`${CA_SETTING} is neither PEM text nor base64 of it`);
    }
    const decoded = Buffer.from(compact, 'base64');
    if (!decoded.toString('latin1').includes('-----BEGIN')) {
      throw new Error(`${CA_SETTING} is base64 but does not decode to PEM text ("-----BEGIN CERTIFICATE-----")`);
    }
    text = decoded.toString('utf8');
  }
  let pems: string[];
  try {
    pems = splitPemCertificates(text);
  } catch {
    throw new Error(`${CA_SETTING} contains a CERTIFICATE block that is not valid base64`);
  }
  if (pems.length === 0) throw new Error(`${CA_SETTING} contains no "-----BEGIN CERTIFICATE-----" block`);
  pems.forEach((pem, i) => {
    const label = pems.length > 1 ? `${CA_SETTING} certificate #${i + 1}` : CA_SETTING;
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(pem);
    } catch {
      throw new Error(`${label} is not a readable X.509 certificate`);
    }
    if (!x509.ca) {
      throw new Error(`${label} (${x509.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:TRUE); trust the issuing CA, not a client certificate`);
    }
  });
  return pems;
}

const THUMBPRINT_SETTING = 'CLIENT_CERT_ALLOWED_THUMBPRINTS';

/** Comma list; undefined when unset or empty. Throws an Error naming the setting and the bad entry. */
export function parseAllowedThumbprints(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const out: string[] = [];
  const entries = value.split(/[,;]/).map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) {
    // Copied from the Windows certificate dialog a thumbprint starts with an invisible U+200E and has spaces
    // between bytes; from OpenSSL it has colons.
    const cleaned = entry.replace(/[\u200e\u200f\u202a-\u202e\ufeff\s:]/g, '');
    const thumbprint = normaliseThumbprint(cleaned);
    if (thumbprint === undefined) {
      throw new Error(`${THUMBPRINT_SETTING} entry '${truncate(entry)}' is not a SHA-1 thumbprint (40 hexadecimal characters)`);
    }
    if (!out.includes(thumbprint)) out.push(thumbprint);
  }
  return out.length > 0 ? out : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP glue

const authenticated = new WeakMap<HttpRequest, Extract<ClientCertResult, { ok: true }>>();

/** The caller's certificate once `withClientCertificateAuth` has accepted it (undefined when auth is off). */
export function clientCertificateOf(request: HttpRequest): Extract<ClientCertResult, { ok: true }> | undefined {
  return authenticated.get(request);
}

/** 403 `{ error: { code, message } }` for a rejected certificate. */
export function clientCertForbidden(result: Extract<ClientCertResult, { ok: false }>, correlationId?: string): HttpResponseInit {
  return jsonError(403, result.code, result.reason, correlationId !== undefined ? { correlationId } : {});
}

/**
 * Checks one request: undefined when it may proceed (auth off, or an accepted certificate), else the 403 to send.
 */
export function checkClientCertificate(
  request: HttpRequest,
  context: InvocationContext,
  settings: ClientCertSettings,
  now: Date,
): HttpResponseInit | undefined {
  if (settings.mode === 'off') return undefined;
  const policy: ClientCertPolicy = { trustedCaPems: settings.trustedCaPems, now };
  if (settings.allowedThumbprints !== undefined) policy.allowedThumbprints = settings.allowedThumbprints;
  const result = authenticateClientCertificate(request.headers.get(CLIENT_CERT_HEADER), policy);
  if (result.ok) {
    authenticated.set(request, result);
    return undefined;
  }
  context.warn(`client certificate rejected: ${result.code}: ${result.reason}`);
  return clientCertForbidden(result, context.invocationId);
}

/**
 * Wraps a handler so it runs only for an accepted client certificate when CLIENT_CERT_AUTH is `required`.
 * `settings` is a function so the composition root can parse the settings once and share them.
 */
export function withClientCertificateAuth(
  handler: HttpHandler,
  options: { settings: () => ClientCertSettings; now?: () => Date },
): HttpHandler {
  return async (request, context) => {
    const refusal = checkClientCertificate(request, context, options.settings(), options.now?.() ?? new Date());
    return refusal ?? handler(request, context);
  };
}

function truncate(s: string, max = 60): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
