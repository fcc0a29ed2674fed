// Presenting the loaded certificate on outbound calls: an https.Agent for node:https (and everything built on it:
// axios, got, the Azure SDKs' Node transport), and an undici dispatcher for fetch.
import https from 'node:https';
import type { LoadedClientCertificate } from './certificates.js';

export interface ClientTlsOptions {
  /**
   * CA certificates (PEM) that sign the PARTNER's server certificate, when it is not a public one. Like Node's own
   * `ca` option this replaces the default roots for these connections.
   */
  ca?: string | string[];
}

/** The TLS options that present `certificate`; for `https.request`, `tls.connect` or an agent of your own. */
export function clientTlsOptions(certificate: LoadedClientCertificate, options: ClientTlsOptions = {}): { pfx: Buffer; passphrase: string; ca?: string | string[] } {
  return { pfx: certificate.pfx, passphrase: certificate.passphrase, ...(options.ca !== undefined ? { ca: options.ca } : {}) };
}

/**
 * An agent that presents `certificate` on every connection it opens. The certificate cannot change under a
 * running process (App Service writes new ones only at a restart), so pooled connections stay right.
 */
export function createClientAgent(certificate: LoadedClientCertificate, options: ClientTlsOptions & https.AgentOptions = {}): https.Agent {
  const { ca, ...agentOptions } = options;
  return new https.Agent({ keepAlive: true, ...agentOptions, ...clientTlsOptions(certificate, { ca }) });
}

/** The part of undici's Agent the kit relies on; undici's own types apply once it is installed. */
export interface UndiciDispatcher {
  close(): Promise<void>;
}

/**
 * A dispatcher for `fetch(url, { dispatcher })`. Node's global fetch is undici, but Node does not export undici's
 * Agent, so a fetch that presents a client certificate needs the `undici` package: the kit imports it only when
 * this is called and does not depend on it. Use it with undici's own `fetch` (`import { fetch } from 'undici'`):
 * a dispatcher from a different undici version than the one inside Node is not guaranteed to work with the global
 * fetch. Without undici, use `createClientAgent` with node:https.
 */
export async function createUndiciDispatcher(certificate: LoadedClientCertificate, options: ClientTlsOptions = {}): Promise<UndiciDispatcher> {
  // A variable specifier: the kit compiles and runs without undici installed.
  const specifier = 'undici';
  let undici: { Agent: new (options: { connect: Record<string, unknown> }) => UndiciDispatcher };
  try {
    undici = (await import(specifier)) as typeof undici;
  } catch {
    throw new Error("createUndiciDispatcher needs the 'undici' package (npm install undici); or present the certificate with createClientAgent and node:https");
  }
  return new undici.Agent({ connect: clientTlsOptions(certificate, options) });
}
