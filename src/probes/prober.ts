// The Prober port over real HTTPS.
// - direct: the rotator itself opens an mTLS connection to a downstream, presenting the candidate certificate
//   (the preflight, before anything on the app changes).
// - viaApp: a GET to the app's own health path, which makes the app's outbound mTLS call (after the restart); its
//   answer is judged by the verification contract (healthContract.ts). Redirects are never followed.
// Results carry public data only: status, a short reason, the thumbprint the other side reports.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import tls from 'node:tls';
import type { ClientCredential, ProbeResult, Prober, ViaAppOptions } from '../core/ports.js';
import { judgeHealthAnswer, type HealthExpectation } from './healthContract.js';
import { STRICT_PROBE_TARGET_POLICY } from '../core/probeTargets.js';
import { pinnedLookup, ProbeTargetGate, type AdmittedTarget } from './targetPolicy.js';

export interface HttpsProberOptions {
  /** PROBE_TIMEOUT_SECONDS, in ms: the whole probe (connect, handshake, answer) must fit. */
  timeoutMs: number;
  /** CA certificates (PEM) trusted besides the system roots: the sandbox CA, a private PKI's root. */
  extraCaPems?: string[];
  now?: () => Date;
  /** Which downstreams a direct probe may reach (PROBE_ALLOWED_TARGETS); default: public addresses only. */
  targets?: ProbeTargetGate;
}

/** Secure contexts kept (one per client certificate in use): a rotation probes with at most a few. */
const MAX_CACHED_CONTEXTS = 64;

/** Enough for any health answer; a larger body is cut (the verdict needs only the status and a few fields). */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_DETAIL_CHARS = 200;
/** Network failures worth retrying. A TLS refusal (alert, untrusted certificate) is not one of them. */
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Gateway trouble, overload and restarts; 502 from the health path means "the outbound call failed": real. */
const TRANSIENT_STATUS_DIRECT = new Set([429, 502, 503, 504]);

interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

class ProbeTimeout extends Error {
  override readonly name = 'ProbeTimeout';
}

export class HttpsProber implements Prober {
  private readonly extraCaPems: string[];
  private readonly now: () => Date;
  /**
   * One context per client certificate in use (this is not session reuse: no session is cached or offered without
   * an agent, every probe still makes a full handshake).
   */
  private readonly contexts = new Map<string, tls.SecureContext>();
  private readonly targets: ProbeTargetGate;

  constructor(private readonly options: HttpsProberOptions) {
    this.targets = options.targets ?? new ProbeTargetGate(STRICT_PROBE_TARGET_POLICY);
    const extra = options.extraCaPems ?? [];
    // A context's own store (see trustingExtraCas) starts from the bundled roots without NODE_EXTRA_CA_CERTS, which
    // Node adds to its shared default store only: they are added again along with the extra CAs.
    this.extraCaPems = extra.length > 0 ? [...nodeExtraCaCerts(), ...extra] : [];
    this.now = options.now ?? (() => new Date());
  }

  /** The probe target policy: undefined when `url` may be probed directly, else why not (see targetPolicy.ts). */
  async admitTarget(url: string): Promise<string | undefined> {
    const admission = await this.targets.admit(url);
    return admission.ok ? undefined : admission.reason;
  }

  async direct(url: string, credential: ClientCredential): Promise<ProbeResult> {
    // The candidate's certificate goes only to an admitted address, and the socket connects to that very address.
    const admission = await this.targets.admit(url);
    if (!admission.ok) {
      return { kind: 'direct', target: url, ok: false, transient: false, detail: `probe target refused: ${admission.reason}`, at: this.now().toISOString(), durationMs: 0 };
    }
    return this.run('direct', url, { cert: credential.certPem, key: credential.keyPem }, (answer) => {
      const json = parseJson(answer.body);
      const observed = stringField(json, 'clientThumbprint') ?? stringField(json, 'thumbprint');
      const ok = answer.status >= 200 && answer.status < 300;
      const reason = stringField(json, 'reason');
      return {
        ok,
        transient: !ok && TRANSIENT_STATUS_DIRECT.has(answer.status),
        observedThumbprint: observed?.toUpperCase(),
        detail: ok
          ? `downstream accepted ${credential.thumbprint}`
          : `downstream answered ${answer.status}${reason ? `: ${short(reason)}` : ''} (presented ${credential.thumbprint})`,
      };
    }, admission.target);
  }

  async viaApp(url: string, expectedThumbprint?: string, options: ViaAppOptions = {}): Promise<ProbeResult> {
    const expectation: HealthExpectation = {};
    if (expectedThumbprint) expectation.thumbprint = expectedThumbprint;
    if (options.requireReport) expectation.requireReport = true;
    return this.run('via-app', url, {}, (answer) => {
      const { strength, ...verdict } = judgeHealthAnswer(answer, expectation);
      return strength ? { ...verdict, verification: strength } : verdict;
    });
  }

  private async run(
    kind: ProbeResult['kind'],
    url: string,
    tlsOptions: { cert?: string; key?: string },
    judge: (answer: HttpAnswer) => Pick<ProbeResult, 'ok' | 'transient' | 'detail' | 'observedThumbprint' | 'verification' | 'unhealthy'>,
    /** The admitted address a direct probe connects to (the via-app probe goes to the app's own host from ARM). */
    pinned?: AdmittedTarget,
  ): Promise<ProbeResult> {
    const at = this.now();
    const started = Date.now();
    const finish = (fields: Pick<ProbeResult, 'ok' | 'transient' | 'detail'> & Partial<ProbeResult>): ProbeResult => ({
      kind,
      target: url,
      at: at.toISOString(),
      durationMs: Date.now() - started,
      ...fields,
    });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return finish({ ok: false, transient: false, detail: 'probe target is not a URL' });
    }
    if (target.protocol !== 'https:') return finish({ ok: false, transient: false, detail: 'probe target must be an https URL' });
    try {
      const answer = await this.get(target, tlsOptions, pinned);
      const verdict = judge(answer);
      return finish({ ...verdict, status: answer.status });
    } catch (error) {
      return finish(describeFailure(error, this.options.timeoutMs));
    }
  }

  private contextFor(tlsOptions: { cert?: string; key?: string }): tls.SecureContext {
    // A digest as the key, so the map does not hold a second copy of the private key.
    const id = createHash('sha256').update(tlsOptions.cert ?? '').update('\0').update(tlsOptions.key ?? '').digest('base64');
    let context = this.contexts.get(id);
    if (context === undefined) {
      context = trustingExtraCas(tls.createSecureContext(tlsOptions), this.extraCaPems, tlsOptions);
      if (this.contexts.size >= MAX_CACHED_CONTEXTS) this.contexts.delete(this.contexts.keys().next().value!);
      this.contexts.set(id, context);
    }
    return context;
  }

  private get(target: URL, tlsOptions: { cert?: string; key?: string }, pinned?: AdmittedTarget): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      // `secureContext` reaches tls.connect; @types/node lists it for tls only.
      const options: https.RequestOptions & Pick<tls.ConnectionOptions, 'secureContext'> = {
        method: 'GET',
        headers: { accept: 'application/json', 'user-agent': 'mtls-rotator-probe' },
        secureContext: this.contextFor(tlsOptions),
        rejectUnauthorized: true,
        // A fresh connection and handshake each time: a pooled or resumed session would present an older verdict.
        agent: false,
        ...(pinned ? { lookup: pinnedLookup(pinned) } : {}),
      };
      const request = https.request(target, options);
      // One deadline for the whole exchange; a downstream that accepts TCP and never answers is a timeout.
      const timer = setTimeout(() => request.destroy(new ProbeTimeout(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      request.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (size < MAX_BODY_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        response.once('end', () => {
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY_BYTES) });
        });
        response.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      request.end();
    });
  }
}

/** Turns a failed request into a verdict; only error codes and fixed phrases, never certificate or key text. */
function describeFailure(error: unknown, timeoutMs: number): Pick<ProbeResult, 'ok' | 'transient' | 'detail'> {
  if (error instanceof ProbeTimeout) return { ok: false, transient: true, detail: `timed out after ${timeoutMs} ms` };
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  if (code !== undefined && TRANSIENT_ERRNO.has(code)) return { ok: false, transient: true, detail: `connection failed: ${code}` };
  if (code?.startsWith('ERR_OSSL')) {
    return { ok: false, transient: false, detail: `the client certificate or key could not be used: ${code}` };
  }
  if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ALTNAME/.test(code)) {
    return { ok: false, transient: false, detail: `the server's certificate is not trusted: ${code}` };
  }
  if (code !== undefined && /SSL|TLS|EPROTO/.test(code)) {
    return { ok: false, transient: false, detail: `TLS handshake refused: ${code}` };
  }
  const name = error instanceof Error ? error.name : typeof error;
  return { ok: false, transient: false, detail: `request failed: ${code ?? name}` };
}

/**
 * A context that trusts what Node trusts by default (the bundled roots and NODE_EXTRA_CA_CERTS) plus the extra CAs
 * (`extraCaPems` holds NODE_EXTRA_CA_CERTS and the extras when there are extras). The `ca` option would replace the
 * default store, so every root would have to be passed along, and parsing ~140 PEM roots costs ~25 ms of CPU per
 * context: with a certificate of its own per app, that was most of a rotation's CPU in the 100-app fan-out.
 * Adding the CAs to the context's own copy of the bundled roots (already parsed, once per process)
 * parses only them. Should a Node version not offer that, the context is built the slow way.
 */
function trustingExtraCas(context: tls.SecureContext, extraCaPems: string[], tlsOptions: tls.SecureContextOptions): tls.SecureContext {
  if (extraCaPems.length === 0) return context;
  const native = (context as tls.SecureContext & { context?: { addCACert?: (pem: string) => void } }).context;
  if (typeof native?.addCACert !== 'function') {
    return tls.createSecureContext({ ...tlsOptions, ca: [...tls.rootCertificates, ...extraCaPems] });
  }
  for (const pem of extraCaPems) native.addCACert(pem);
  return context;
}

function nodeExtraCaCerts(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    // Node itself only warns about an unreadable file; the probe then trusts what Node trusts by default.
    return [];
  }
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function stringField(json: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = json?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Reasons come from the other side: kept short and free of anything that looks like encoded key material. */
function short(text: string): string {
  const clean = text.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[pem]').replace(/[A-Za-z0-9+/=]{120,}/g, '[redacted]').replace(/\s+/g, ' ');
  return clean.length > MAX_DETAIL_CHARS ? `${clean.slice(0, MAX_DETAIL_CHARS)}…` : clean;
}
