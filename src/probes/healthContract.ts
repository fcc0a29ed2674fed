// The verification contract of the via-app probe (docs/operations.md, "Verification contract"): how an answer of an
// app's own health path is judged. Pure, so every shape is tested without a network; the prober only fetches.
//
// Apps are not ours: most health paths answer a bare 2xx (ASP.NET Core `Healthy`, Spring Boot `{"status":"UP"}`,
// `OK`, 204) and report no certificate. So a 2xx passes, unless its body says the app is unhealthy; when the answer
// reports the certificate the app presented, that report must match. A 3xx never passes: a redirect (typically to a
// login page) proves nothing about the outbound call.
import type { ProbeResult } from '../core/ports.js';

export interface HealthAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HealthExpectation {
  /** The thumbprint the app should present; undefined when the rotation cannot tell (several bindings). */
  thumbprint?: string;
  /** `<p>-health-expect=thumbprint`: a 2xx without a thumbprint report fails. */
  requireReport?: boolean;
}

export type HealthVerdict = Pick<ProbeResult, 'ok' | 'transient' | 'detail' | 'observedThumbprint' | 'unhealthy'> & {
  /** On a pass: `thumbprint` when the app reported the expected certificate, otherwise `status`. */
  strength?: 'thumbprint' | 'status';
};

/** Headers that report the presented certificate (lower case, as Node gives them). */
export const THUMBPRINT_HEADERS = ['x-presented-thumbprint', 'x-client-cert-thumbprint'] as const;

/** JSON keys that report it, compared case-insensitively. */
export const THUMBPRINT_KEYS = [
  'presentedThumbprint',
  'clientCertificateThumbprint',
  'clientCertThumbprint',
  'certificateThumbprint',
  'certThumbprint',
  'thumbprint',
] as const;

/**
 * How deep a report may sit in the JSON body: ASP.NET Core's JSON writer nests check data under
 * `entries.<check>.data`, Spring Boot actuator under `components.<indicator>.details` (both depth 3).
 */
export const MAX_REPORT_DEPTH = 4;

/**
 * Top-level JSON `status` values that mean unhealthy although the answer was 2xx: Spring Boot actuator (`DOWN`,
 * `OUT_OF_SERVICE`, which answer 503 by default but are often mapped to 200), ASP.NET Core's JSON writer
 * (`Unhealthy`) and the IETF health+json draft (`fail`). `Degraded` and `warn` pass: ASP.NET answers 200 for them.
 */
export const UNHEALTHY_JSON_STATUSES = ['down', 'out_of_service', 'unhealthy', 'fail'] as const;

/** Overload, gateway time-outs and a restart in progress: worth asking again. Everything else is an answer. */
export const TRANSIENT_HEALTH_STATUSES: ReadonlySet<number> = new Set([429, 503, 504]);

const KEYS = new Set(THUMBPRINT_KEYS.map((k) => k.toLowerCase()));
const MAX_DETAIL_CHARS = 200;

export function judgeHealthAnswer(answer: HealthAnswer, expectation: HealthExpectation = {}): HealthVerdict {
  const json = parseJson(answer.body);
  const reported = reportedThumbprints(answer, json);
  const observedThumbprint = reported[0];
  const observed = observedThumbprint === undefined ? {} : { observedThumbprint };
  const { status } = answer;
  if (status >= 300 && status < 400) {
    const location = headerValues(answer.headers, 'location')[0];
    return {
      ok: false,
      transient: false,
      ...observed,
      detail: `app answered ${status}${location ? ` redirecting to ${short(location)}` : ''}: a redirect proves nothing`,
    };
  }
  if (status < 200 || status >= 300) {
    const reason = stringAt(json, 'reason') ?? stringAt(json, 'status');
    // ASP.NET Core, Spring Boot and the app-side kit answer 503 with their verdict: still retried as a 503, but the
    // rollback uses it to tell "the candidate was unhealthy" from "the app never came back" (rollbackRotation.ts).
    const verdict = unhealthySaying(answer.body, json) !== undefined ? { unhealthy: true } : {};
    return {
      ok: false,
      transient: TRANSIENT_HEALTH_STATUSES.has(status),
      ...verdict,
      ...observed,
      detail: `app answered ${status}${reason ? `: ${short(reason)}` : ''}`,
    };
  }
  const unhealthy = unhealthySaying(answer.body, json);
  if (unhealthy) return { ok: false, transient: false, unhealthy: true, ...observed, detail: `app answered ${status} but says ${unhealthy}` };

  const expected = expectation.thumbprint ? normaliseThumbprint(expectation.thumbprint) : undefined;
  if (expected !== undefined) {
    const other = reported.find((t) => t !== expected);
    if (other !== undefined) return { ok: false, transient: false, observedThumbprint: other, detail: `app presented ${other}, expected ${expected}` };
  }
  if (reported.length === 0) {
    if (expectation.requireReport) {
      return { ok: false, transient: false, detail: `app answered ${status} without reporting the certificate it presented (a thumbprint report is required)` };
    }
    return { ok: true, transient: false, strength: 'status', detail: `app answered ${status} (status only: no certificate reported)` };
  }
  return {
    ok: true,
    transient: false,
    ...observed,
    strength: expected !== undefined ? 'thumbprint' : 'status',
    detail: `app answered ${status} presenting ${observedThumbprint}${expected !== undefined ? '' : ' (no single expected thumbprint to compare)'}`,
  };
}

/** 40 hex digits once colons and spaces are removed (the forms tools print), upper case; else undefined. */
export function normaliseThumbprint(value: string): string | undefined {
  const compact = value.replace(/[:\s]/g, '');
  return /^[0-9A-Fa-f]{40}$/.test(compact) ? compact.toUpperCase() : undefined;
}

/** Every thumbprint the answer reports (headers first, then the body), de-duplicated. */
export function reportedThumbprints(answer: HealthAnswer, json: unknown = parseJson(answer.body)): string[] {
  const found = new Set<string>();
  for (const name of THUMBPRINT_HEADERS) {
    for (const value of headerValues(answer.headers, name)) {
      const thumbprint = normaliseThumbprint(value);
      if (thumbprint) found.add(thumbprint);
    }
  }
  collectFromJson(json, 0, found);
  return [...found];
}

function collectFromJson(value: unknown, depth: number, found: Set<string>): void {
  if (depth > MAX_REPORT_DEPTH || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) collectFromJson(item, depth + 1, found);
    return;
  }
  for (const [key, inner] of Object.entries(value)) {
    if (typeof inner === 'string' && KEYS.has(key.toLowerCase())) {
      const thumbprint = normaliseThumbprint(inner);
      if (thumbprint) found.add(thumbprint);
    } else {
      collectFromJson(inner, depth + 1, found);
    }
  }
}

/** What in a 2xx body says unhealthy, quoted for the detail; undefined when nothing does. */
function unhealthySaying(body: string, json: unknown): string | undefined {
  if (body.trim().toLowerCase() === 'unhealthy') return `'${body.trim()}'`;
  const status = stringAt(json, 'status');
  if (status !== undefined && (UNHEALTHY_JSON_STATUSES as readonly string[]).includes(status.trim().toLowerCase())) {
    return `status '${short(status)}'`;
  }
  return undefined;
}

function headerValues(headers: HealthAnswer['headers'], name: string): string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function parseJson(body: string): unknown {
  const text = body.trim();
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function stringAt(json: unknown, key: string): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const value = (json as Record<string, unknown>)[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Text from the app: kept short and free of anything that looks like encoded key material. */
function short(text: string): string {
  const clean = text.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[pem]').replace(/[A-Za-z0-9+/=]{120,}/g, '[redacted]').replace(/\s+/g, ' ');
  return clean.length > MAX_DETAIL_CHARS ? `${clean.slice(0, MAX_DETAIL_CHARS)}…` : clean;
}
