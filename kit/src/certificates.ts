// Finds the client certificate App Service loaded for this app. On Linux (and in Windows containers) the platform
// writes every certificate named by WEBSITE_LOAD_CERTIFICATES to /var/ssl/private/<THUMBPRINT>.p12, a PKCS#12 file
// with an EMPTY password; WEBSITE_PRIVATE_CERTS_PATH names another directory. The platform only does that at start,
// so a process that loads once at start sees exactly what the platform loaded for it.
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';

export const DEFAULT_PRIVATE_CERTS_PATH = '/var/ssl/private';

export interface LoadedClientCertificate {
  /** Uppercase hex SHA-1 of the certificate (App Service form), checked against the file's content. */
  thumbprint: string;
  /** The subject as OpenSSL prints it, e.g. `CN=orders.contoso.example`. */
  subject: string;
  /** The subject's common name, when it has one. */
  commonName?: string;
  notBefore: Date;
  notAfter: Date;
  /** The file it came from. */
  path: string;
  /** The PKCS#12 bytes and their (empty) password: what `https.Agent` / `tls.connect` take as `pfx` + `passphrase`. */
  pfx: Buffer;
  passphrase: string;
}

export interface LoadClientCertificateOptions {
  /** Where settings are read from. Default `process.env` (App Service passes app settings as environment). */
  env?: Record<string, string | undefined>;
  /** A thumbprint to load; wins over every setting. */
  thumbprint?: string;
  /**
   * The name of an app setting that holds the thumbprint (`mtls-rotation-settings` tells the rotator to keep it
   * in step), e.g. `CLIENT_CERT_THUMBPRINT`. When it is unset or empty, WEBSITE_LOAD_CERTIFICATES decides.
   */
  thumbprintSetting?: string;
  /**
   * With several certificates loaded (`WEBSITE_LOAD_CERTIFICATES=*` or a list), only those whose subject common
   * name (or whole subject) equals this are considered; the newest of them wins.
   */
  subject?: string;
  /** The directory; default WEBSITE_PRIVATE_CERTS_PATH, else /var/ssl/private. */
  directory?: string;
}

/** The certificate this app should present is not there; the message says what to change. Nothing is loaded. */
export class ClientCertificateNotFoundError extends Error {
  override readonly name = 'ClientCertificateNotFoundError';
}

const THUMBPRINT = /^[0-9A-F]{40}$/;

/**
 * Loads the certificate the app should present:
 * - `thumbprint`, else the value of `thumbprintSetting`, else WEBSITE_LOAD_CERTIFICATES when it names exactly one;
 * - with `*` or several thumbprints: every loaded `.p12` (of those listed), filtered by `subject`, newest
 *   `notBefore` first (a renewal is issued later than what it replaces), then latest `notAfter`.
 */
export function loadClientCertificate(options: LoadClientCertificateOptions = {}): LoadedClientCertificate {
  const env = options.env ?? process.env;
  const directory = options.directory ?? nonEmpty(env.WEBSITE_PRIVATE_CERTS_PATH) ?? DEFAULT_PRIVATE_CERTS_PATH;
  const loadSetting = nonEmpty(env.WEBSITE_LOAD_CERTIFICATES);

  const explicit = nonEmpty(options.thumbprint);
  if (explicit !== undefined) return loadByThumbprint(directory, explicit, 'the thumbprint option', loadSetting);
  if (options.thumbprintSetting !== undefined) {
    const fromSetting = nonEmpty(env[options.thumbprintSetting]);
    if (fromSetting !== undefined) return loadByThumbprint(directory, fromSetting, options.thumbprintSetting, loadSetting);
  }
  if (loadSetting === undefined) {
    throw new ClientCertificateNotFoundError(
      'no client certificate is loaded: WEBSITE_LOAD_CERTIFICATES is not set (App Service loads no certificate into ' +
        `${directory} without it)${options.thumbprintSetting !== undefined ? ` and ${options.thumbprintSetting} is empty` : ''}`,
    );
  }
  const listed = loadSetting === '*' ? '*' : loadSetting.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (listed !== '*' && listed.length === 1 && options.subject === undefined) {
    return loadByThumbprint(directory, listed[0]!, 'WEBSITE_LOAD_CERTIFICATES', loadSetting);
  }
  return loadNewest(directory, listed, options.subject);
}

function loadByThumbprint(directory: string, raw: string, source: string, loadSetting: string | undefined): LoadedClientCertificate {
  const thumbprint = normaliseThumbprint(raw, source);
  const path = join(directory, `${thumbprint}.p12`);
  let pfx: Buffer;
  try {
    pfx = readFileSync(path);
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw error;
    const listedHere = loadSetting === '*' || (loadSetting ?? '').toUpperCase().includes(thumbprint);
    throw new ClientCertificateNotFoundError(
      `certificate ${thumbprint} named by ${source} is not loaded: ${path} does not exist (` +
        (listedHere
          ? 'WEBSITE_LOAD_CERTIFICATES lists it: the certificate must exist in the app\'s resource group and region, and the app must have restarted since)'
          : `WEBSITE_LOAD_CERTIFICATES${loadSetting === undefined ? ' is not set' : ` is '${loadSetting}', which does not list it`})`),
    );
  }
  const described = describePfx(pfx, path);
  if (described.thumbprint !== thumbprint) {
    throw new ClientCertificateNotFoundError(`${path} holds certificate ${described.thumbprint}, not ${thumbprint}`);
  }
  return described;
}

function loadNewest(directory: string, listed: string[] | '*', subject: string | undefined): LoadedClientCertificate {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw error;
    throw new ClientCertificateNotFoundError(`no client certificate is loaded: ${directory} does not exist`);
  }
  const wanted = listed === '*' ? undefined : new Set(listed.map((t) => normaliseThumbprint(t, 'WEBSITE_LOAD_CERTIFICATES')));
  const candidates: LoadedClientCertificate[] = [];
  for (const name of names) {
    const match = /^([0-9A-Fa-f]{40})\.p12$/.exec(name);
    if (match === null || (wanted !== undefined && !wanted.has(match[1]!.toUpperCase()))) continue;
    const path = join(directory, name);
    const certificate = describePfx(readFileSync(path), path);
    if (subject === undefined || certificate.commonName === subject || certificate.subject === subject) candidates.push(certificate);
  }
  if (candidates.length === 0) {
    const scope = listed === '*' ? `in ${directory}` : `of ${listed.join(', ')} in ${directory}`;
    throw new ClientCertificateNotFoundError(`no client certificate is loaded${subject !== undefined ? ` with subject '${subject}'` : ''} ${scope}`);
  }
  candidates.sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime() || b.notAfter.getTime() - a.notAfter.getTime());
  return candidates[0]!;
}

/**
 * Node has no PKCS#12 reader of its own, but OpenSSL opens the file for a TLS context, and an unconnected TLS socket
 * on that context reports the certificate it would present. So the kit needs no parser and no dependency.
 */
function describePfx(pfx: Buffer, path: string): LoadedClientCertificate {
  let raw: Buffer | undefined;
  try {
    const socket = new tls.TLSSocket(null as unknown as import('node:net').Socket, { secureContext: tls.createSecureContext({ pfx, passphrase: '' }) });
    try {
      const own = socket.getCertificate();
      raw = own !== null && 'raw' in own ? own.raw : undefined;
    } finally {
      socket.destroy();
    }
  } catch (error) {
    // OpenSSL 3 opens RC2/40-bit PKCS#12 files only with its legacy provider (`node --openssl-legacy-provider`).
    const code = codeOf(error) ?? (error instanceof Error ? error.message : String(error));
    throw new ClientCertificateNotFoundError(`${path} cannot be opened as a PKCS#12 file with an empty password (${code})`);
  }
  if (raw === undefined) throw new ClientCertificateNotFoundError(`${path} holds no certificate with a private key`);
  const x509 = new X509Certificate(raw);
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1];
  return {
    thumbprint: x509.fingerprint.replace(/:/g, '').toUpperCase(),
    subject: x509.subject.replace(/\n/g, ', '),
    ...(commonName !== undefined ? { commonName } : {}),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    path,
    pfx,
    passphrase: '',
  };
}

function normaliseThumbprint(raw: string, source: string): string {
  const thumbprint = raw.replace(/[\s:]/g, '').toUpperCase();
  if (!THUMBPRINT.test(thumbprint)) {
    throw new ClientCertificateNotFoundError(`${source} must be a SHA-1 thumbprint (40 hex characters), got '${raw.slice(0, 60)}'`);
  }
  return thumbprint;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
