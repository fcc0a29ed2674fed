// Client-certificate authentication of the HTTP API (seed 004): reading `X-ARR-ClientCert` and answering for a
// refused caller. The settings and the decision on a certificate are src/core/clientCertPolicy.ts (the one parser,
// also run by loadConfig at start-up); this file is the HTTP side of it.
//
// App Service terminates TLS at its front ends. With client certificates enabled on the Function App it asks the
// caller for a certificate and forwards it, unvalidated, in `X-ARR-ClientCert` as base64 DER; it checks nothing
// (not the chain, not the dates), so everything is checked here. Other front ends send PEM (its newlines folded into
// spaces, since a header value has no line breaks) or URL-encoded PEM (nginx `$ssl_client_escaped_cert`); those are
// read too. Whatever the form, the header carries exactly one certificate and nothing else: the issuer chain comes
// from the configured CAs, never from the caller.
//
// A repeated header reaches the handler as one value: Node joins repeats with ", " and the Functions host's
// RpcHttp conversion joins them with "," (StringValues.ToString). No form of a certificate contains a comma, so a
// comma means a repeat, which is refused rather than resolved to "the first one".
//
// Caution: a certificate is public; the header proves possession of its key only when App Service's front end put
// it there from the TLS handshake. The template enables client certificates on the Function App; no other route to
// the app may let callers set the header themselves.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ClientCertVerifier, type ClientCertRejection, type ClientCertSettings } from '../../core/clientCertPolicy.js';
import type { RequestedBy } from '../../core/records.js';
import { derElementLength } from '../../crypto/x509Fields.js';
import { jsonError } from '../http/responses.js';

export const CLIENT_CERT_HEADER = 'x-arr-clientcert';
// A 4096-bit RSA certificate is ~2 KB of base64; URL-encoded PEM grows by a few percent more. 16 KiB leaves room for
// large extensions while refusing to parse a header someone has stuffed.
export const MAX_CLIENT_CERT_HEADER_BYTES = 16 * 1024;

/** Why the header itself cannot be used (400): not one certificate in a form we read. */
export type ClientCertHeaderProblem =
  | 'ClientCertificateHeaderTooLarge'
  | 'ClientCertificateHeaderRepeated'
  | 'ClientCertificateMultiple'
  | 'ClientCertificateTrailingBytes'
  | 'ClientCertificateUnreadable';

export type ClientCertCode = 'ClientCertificateMissing' | ClientCertHeaderProblem | ClientCertRejection;

/** The request path's view of the settings: off, or a verifier built once from them. */
export type ClientCertGate = { mode: 'off' } | { mode: 'required'; verifier: ClientCertVerifier };

export function clientCertGate(settings: ClientCertSettings): ClientCertGate {
  return settings.mode === 'off' ? { mode: 'off' } : { mode: 'required', verifier: new ClientCertVerifier(settings) };
}

export type HeaderReading = { ok: true; der: Buffer } | { ok: false; code: 'ClientCertificateMissing' | ClientCertHeaderProblem; reason: string };

const unreadable = (reason: string): HeaderReading => ({ ok: false, code: 'ClientCertificateUnreadable', reason });

/**
 * The DER of the one certificate in an `X-ARR-ClientCert` value: base64 DER (App Service), PEM with its line
 * breaks folded into spaces, URL-encoded PEM, or base64 of PEM. Anything else, or more than one certificate, or
 * bytes after the certificate, is a problem that says which.
 */
export function readClientCertificateHeader(value: string | null | undefined): HeaderReading {
  if (value === null || value === undefined || value.trim() === '') {
    return { ok: false, code: 'ClientCertificateMissing', reason: 'a client certificate is required (the X-ARR-ClientCert header is missing or empty)' };
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_CLIENT_CERT_HEADER_BYTES) {
    return { ok: false, code: 'ClientCertificateHeaderTooLarge', reason: `the X-ARR-ClientCert header exceeds ${MAX_CLIENT_CERT_HEADER_BYTES} bytes` };
  }
  if (value.includes(',')) {
    return {
      ok: false,
      code: 'ClientCertificateHeaderRepeated',
      reason: 'X-ARR-ClientCert was sent more than once (or holds a list); send exactly one certificate in one header',
    };
  }
  let text = value.trim();
  if (/%[0-9A-Fa-f]{2}/.test(text)) {
    try {
      text = decodeURIComponent(text).trim();
    } catch {
      return unreadable('the X-ARR-ClientCert header is not valid URL-encoded text');
    }
  }
  if (text.includes('-----')) return fromPem(text);
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) && !/^[A-Za-z0-9_-]+={0,2}$/.test(compact)) {
    return unreadable('the X-ARR-ClientCert header is neither base64 DER nor PEM');
  }
  const bytes = Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
  if (bytes.length === 0) return unreadable('the X-ARR-ClientCert header decodes to nothing');
  if (bytes.subarray(0, 64).toString('latin1').includes('-----BEGIN')) return fromPem(bytes.toString('utf8'));
  return oneDerCertificate(bytes);
}

function fromPem(text: string): HeaderReading {
  const begins = text.match(/-----BEGIN [A-Z0-9 ]+-----/g) ?? [];
  if (begins.length > 1) {
    return { ok: false, code: 'ClientCertificateMultiple', reason: `X-ARR-ClientCert holds ${begins.length} PEM blocks; send only the client's own certificate` };
  }
  const match = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----$/.exec(text.trim());
  if (match === null) return unreadable('the X-ARR-ClientCert header is not one PEM CERTIFICATE block with nothing around it');
  const body = match[1]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return unreadable('the PEM block in X-ARR-ClientCert is not valid base64');
  return oneDerCertificate(Buffer.from(body, 'base64'));
}

function oneDerCertificate(bytes: Buffer): HeaderReading {
  const length = derElementLength(bytes);
  if (length === undefined || bytes[0] !== 0x30) return unreadable('the X-ARR-ClientCert header is not a DER certificate');
  if (length < bytes.length) {
    const rest = bytes.subarray(length);
    // Two certificates joined are refused as such: the caller may think a chain is welcome. It is not.
    if (rest[0] === 0x30 && derElementLength(rest) !== undefined) {
      return { ok: false, code: 'ClientCertificateMultiple', reason: 'X-ARR-ClientCert holds more than one certificate; send only the client\'s own certificate' };
    }
    return { ok: false, code: 'ClientCertificateTrailingBytes', reason: `X-ARR-ClientCert has ${bytes.length - length} byte(s) after the certificate` };
  }
  return { ok: true, der: bytes };
}

export type Authentication = { ok: true; caller: RequestedBy } | { ok: false; status: 400 | 401 | 403; code: ClientCertCode; reason: string };

const HEADER_PROBLEMS: ReadonlySet<string> = new Set<ClientCertCode>([
  'ClientCertificateHeaderTooLarge',
  'ClientCertificateHeaderRepeated',
  'ClientCertificateMultiple',
  'ClientCertificateTrailingBytes',
  'ClientCertificateUnreadable',
]);

/**
 * Who is calling: with the gate off, the function key was the only credential (the host checked it); with it on,
 * the verified certificate. Statuses: 400 for a header that is not one readable certificate, 401 for a certificate
 * that does not authenticate (untrusted, expired, wrong usage) or none, 403 for a trusted certificate that the
 * allow-lists do not name.
 */
export function authenticateCaller(request: HttpRequest, gate: ClientCertGate, now: Date): Authentication {
  if (gate.mode === 'off') return { ok: true, caller: { via: 'functionKey' } };
  const reading = readClientCertificateHeader(request.headers.get(CLIENT_CERT_HEADER));
  if (!reading.ok) return { ok: false, status: reading.code === 'ClientCertificateMissing' ? 401 : 400, code: reading.code, reason: reading.reason };
  const verdict = gate.verifier.verify(reading.der, now);
  if (!verdict.ok) {
    const status = verdict.code === 'ClientCertificateNotAllowed' ? 403 : HEADER_PROBLEMS.has(verdict.code) ? 400 : 401;
    return { ok: false, status, code: verdict.code, reason: verdict.reason };
  }
  const { subject, issuer, thumbprint } = verdict.caller;
  return { ok: true, caller: { via: 'clientCertificate', subject, issuer, thumbprint } };
}

/** The refusal as the API answers it: `{ error: { code, message, correlationId } }`, logged as a warning. */
export function clientCertRefusal(result: Extract<Authentication, { ok: false }>, context: InvocationContext): HttpResponseInit {
  context.warn(`client certificate refused: ${result.code}: ${result.reason}`);
  const headers: Record<string, string> = result.status === 401 ? { 'www-authenticate': 'ClientCertificate header="X-ARR-ClientCert"' } : {};
  return jsonError(result.status, result.code, result.reason, { correlationId: context.invocationId, headers });
}
