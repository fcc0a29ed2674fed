// The reliability suite's world: a sandbox scenario with one webspace per app (so every app uploads its own
// renewed certificate resource), the engine on the real adapters over Azurite, a clock that can be moved past a
// lease, and a capture of everything the engine says (logs, telemetry) for the secrets check.
import type { Sandbox, Scenario } from '../../sandbox/index.js';
import { seededRandom } from '../../sandbox/faults.js';
import type { SiteSpec } from '../../sandbox/scenario.js';
import { ArmAppServiceGateway } from '../../src/azure/appServiceGateway.js';
import { KeyVaultCertificateSource } from '../../src/azure/keyVaultSource.js';
import { SourceRegistry } from '../../src/core/sources/registry.js';
import { createDependencies, type Dependencies } from '../../src/composition.js';
import type { CrashBoundary } from '../../src/core/boundaries.js';
import { createRotator, loadConfig, type Config, type Rotator } from '../../src/core/index.js';
import type { Telemetry } from '../../src/core/events.js';
import type { Logger } from '../../src/core/logger.js';
import type { AppRef, Clock } from '../../src/core/ports.js';
import { readPfx } from '../../src/crypto/index.js';
import { uniqueName } from '../helpers/azurite.js';

export const SUB = '7e1a0c55-0b1d-4c3e-9f00-5e11ab1e0006';
export const VAULT = 'kv-rel';
export const KV_REFERENCE = '@Microsoft.KeyVault(SecretUri=https://kv-rel.vault.azure.net/secrets/db/)';
export const OWNED_SETTING = 'CLIENT_CERT_THUMBPRINT';

/** Seeded randomness: print the seed so a failure replays with RELIABILITY_SEED=<seed>. */
export function suiteSeed(group: string): number {
  const fromEnv = Number(process.env.RELIABILITY_SEED);
  const seed = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : (Date.now() % 1_000_000) + 1;
  console.log(`${group}: seed ${seed} (replay with RELIABILITY_SEED=${seed})`);
  return seed;
}

/** The sandbox's seeded generator (mulberry32), so cases and faults replay from the same seed. */
export const rng = seededRandom;

export type AppKind = 'ok' | 'rollback';

export function refOf(name: string): AppRef {
  return { subscriptionId: SUB, resourceGroup: `rg-${name}`, site: name };
}

/**
 * `ok` apps call a partner that trusts the old and the new issuer; `rollback` apps are tagged with that partner
 * (the direct preflight passes) but their code calls one that trusts only the old issuer, so verification via the
 * app fails and the rotation rolls back.
 */
export function reliabilityScenario(apps: { name: string; kind: AppKind }[]): Scenario {
  const site = (name: string, kind: AppKind): SiteSpec => ({
    name,
    tags: {
      'mtls-rotation': 'enabled',
      'mtls-rotation-source': `{{source:${VAULT}/client}}`,
      'mtls-rotation-health': '/healthz/outbound-mtls',
      'mtls-rotation-probe': '{{downstream:partner}}',
      'mtls-rotation-settings': OWNED_SETTING,
    },
    downstream: kind === 'ok' ? 'partner' : 'strict',
    restartMs: 20,
    settings: {
      WEBSITE_LOAD_CERTIFICATES: `{{thumbprint:${VAULT}/client/0}}`,
      [OWNED_SETTING]: `{{thumbprint:${VAULT}/client/0}}`,
      DB_PASSWORD: KV_REFERENCE,
      FEATURE_FLAGS: `a=1, b=2 ,${name}`,
      EMPTY: '',
    },
  });
  return {
    name: 'reliability',
    cas: [{ name: 'old-ca' }, { name: 'new-ca' }],
    vaults: [
      {
        name: VAULT,
        subscriptionId: SUB,
        resourceGroup: 'rg-kv',
        certificates: [
          {
            name: 'client',
            versions: [
              { issuer: 'old-ca', notAfterDays: 10, material: 'old' },
              { issuer: 'new-ca', notAfterDays: 365, material: 'new' },
            ],
          },
        ],
      },
    ],
    downstreams: [
      { name: 'partner', trusts: ['old-ca', 'new-ca'] },
      { name: 'strict', trusts: ['old-ca'] },
    ],
    subscriptions: [
      {
        id: SUB,
        resourceGroups: [
          { name: 'rg-kv', location: 'West Europe' },
          ...apps.map((a) => ({
            name: `rg-${a.name}`,
            location: 'West Europe',
            certificates: [{ name: `${a.name}-v0`, fromVault: { vault: VAULT, certificate: 'client', version: 0 } }],
            sites: [site(a.name, a.kind)],
          })),
        ],
      },
    ],
  };
}

export function sandboxEnv(sb: Sandbox, connectionString: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AZURE_SUBSCRIPTION_IDS: SUB,
    ARM_ENDPOINT: sb.armEndpoint,
    AZURE_CREDENTIAL: 'static',
    AZURE_STATIC_TOKEN: sb.token,
    KEYVAULT_CHALLENGE_VERIFICATION: 'false',
    KEYVAULT_ALLOWED_HOSTS: '127.0.0.1',
    AzureWebJobsStorage: connectionString,
    ROTATION_TABLE: uniqueName('rel'),
    PROBE_WARMUP_SECONDS: '0',
    // A restart that is not over yet answers 503 (transient): retried after 1 s, then 2 s. A refusal (502) stops
    // the attempts at once, so only transient failures cost time.
    PROBE_BACKOFF_SECONDS: '1',
    PROBE_TIMEOUT_SECONDS: '2',
    PROBE_ATTEMPTS: '3',
    LEASE_SECONDS: '60',
    // The sandbox's downstreams listen on loopback, which the probe target policy refuses unless allow-listed.
    PROBE_ALLOWED_TARGETS: '127.0.0.1',
    ...extra,
  };
}

/** Wall time plus an offset the test moves forward (a lease expiring, days passing). */
export class ShiftClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** Every line and envelope the engine produced, as text, for the secrets check. */
export class Capture {
  readonly lines: string[] = [];
  /** Key material the engine handled: PFX base64 (vault secrets and uploads), upload passwords, private key PEMs. */
  readonly secrets = { pfx: new Set<string>(), password: new Set<string>(), privateKey: new Set<string>() };
  readonly logger: Logger = {
    info: (m, d) => this.push('info', m, d),
    warn: (m, d) => this.push('warn', m, d),
    error: (m, d) => this.push('error', m, d),
  };
  /** Real Application Insights telemetry to send to as well (its envelopes are checked where they arrive). */
  forward: Telemetry | undefined;
  readonly telemetry: Telemetry = {
    event: (name, dims, meas) => {
      this.lines.push(`event ${name} ${JSON.stringify(dims ?? {})} ${JSON.stringify(meas ?? {})}`);
      this.forward?.event(name, dims, meas);
    },
    metric: (name, value, dims) => {
      this.lines.push(`metric ${name} ${value} ${JSON.stringify(dims ?? {})}`);
      this.forward?.metric(name, value, dims);
    },
    exception: (error, dims) => {
      this.lines.push(`exception ${error instanceof Error ? `${error.name}: ${error.message} ${error.stack ?? ''}` : String(error)} ${JSON.stringify(dims ?? {})}`);
      this.forward?.exception(error, dims);
    },
    flush: async () => this.forward?.flush(),
  };
  private push(level: string, message: string, data?: Record<string, unknown>): void {
    this.lines.push(`${level} ${message} ${safeJson(data)}`);
  }
  add(what: unknown): void {
    this.lines.push(typeof what === 'string' ? what : safeJson(what));
  }

  /** Occurrences of each kind of key material in every captured line (a 40-character slice of it counts too). */
  leaks(): { pfx: number; password: number; privateKey: number; lines: number } {
    const text = this.lines.join('\n');
    const count = (values: Set<string>, slice: (v: string) => string[]): number =>
      [...values].reduce((n, v) => n + slice(v).filter((s) => s.length > 0 && text.includes(s)).length, 0);
    const middle = (v: string): string[] => (v.length > 120 ? [v.slice(60, 100)] : [v]);
    const keyBody = (pem: string): string[] => {
      const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
      return [body.slice(40, 80)];
    };
    return {
      pfx: count(this.secrets.pfx, middle),
      password: count(this.secrets.password, (v) => [v]),
      privateKey: count(this.secrets.privateKey, keyBody) + (text.includes('PRIVATE KEY-----') ? 1 : 0),
      lines: this.lines.length,
    };
  }

  private keyOf(pfxBase64: string, password: string): void {
    try {
      this.secrets.privateKey.add(readPfx(Buffer.from(pfxBase64, 'base64'), password).keyPem);
    } catch {
      // A damaged secret (bad-input cases) has no key to look for.
    }
  }

  /** Spies on the two ports that handle key material, to learn what must never show up anywhere. */
  watch(deps: Dependencies): void {
    const upload = deps.gateway.uploadCertificate.bind(deps.gateway);
    deps.gateway.uploadCertificate = async (input) => {
      const pfx = Buffer.from(input.pfx).toString('base64');
      this.secrets.pfx.add(pfx);
      this.secrets.password.add(input.password);
      this.keyOf(pfx, input.password);
      return upload(input);
    };
    const getSecret = deps.keyVault.getSecret.bind(deps.keyVault);
    deps.keyVault.getSecret = async (source, version) => {
      const secret = await getSecret(source, version);
      if (/pem/i.test(secret.contentType)) {
        for (const m of secret.value.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/g)) this.secrets.privateKey.add(m[0]);
      } else {
        this.secrets.pfx.add(secret.value);
        this.keyOf(secret.value, '');
      }
      return secret;
    };
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v)) ?? '';
  } catch {
    return String(value);
  }
}

export interface Engine {
  deps: Dependencies;
  rotator: Rotator;
}

export function engine(
  sb: Sandbox,
  config: Config,
  parts: {
    clock: Clock;
    capture: Capture;
    owner: string;
    faultHook?: (b: CrashBoundary) => void | Promise<void>;
    /** Per-attempt timeout of the ARM and Key Vault clients (the composition root keeps the production defaults). */
    attemptTimeoutMs?: number;
  },
): Engine {
  const deps = createDependencies(config, {
    tlsCa: sb.caPem,
    clock: parts.clock,
    logger: parts.capture.logger,
    telemetry: parts.capture.telemetry,
    owner: parts.owner,
    ...(parts.faultHook ? { faultHook: parts.faultHook } : {}),
  });
  if (parts.attemptTimeoutMs !== undefined) {
    deps.gateway = new ArmAppServiceGateway({
      endpoint: config.armEndpoint,
      credential: deps.credential,
      tlsCa: sb.caPem,
      perRetryPolicies: [deps.pacer.policy()],
      attemptTimeoutMs: parts.attemptTimeoutMs,
    });
    deps.keyVault = new KeyVaultCertificateSource({
      credential: deps.credential,
      challengeVerification: config.keyVaultChallengeVerification,
      allowedHosts: config.keyVaultAllowedHosts,
      tlsCa: sb.caPem,
      attemptTimeoutMs: parts.attemptTimeoutMs,
    });
    deps.sources = new SourceRegistry().register(deps.keyVault);
  }
  parts.capture.watch(deps);
  return { deps, rotator: createRotator(deps, config) };
}

export function configFor(sb: Sandbox, connectionString: string, extra: Record<string, string> = {}): Config {
  return loadConfig(sandboxEnv(sb, connectionString, extra));
}

/** Settings but the owned keys: what a rotation must never change. */
export function unownedSettings(settings: Record<string, string>): Record<string, string> {
  const copy = { ...settings };
  delete copy.WEBSITE_LOAD_CERTIFICATES;
  delete copy[OWNED_SETTING];
  return copy;
}

/**
 * The app runs on a certificate that exists in its webspace and is valid now: at least one loaded thumbprint,
 * every loaded thumbprint a certificate resource of the app's resource group, inside its validity.
 */
export function loadsValidCertificate(sb: Sandbox, ref: AppRef, at: Date): boolean {
  const loaded = sb.control.loadedThumbprints(ref);
  if (loaded.length === 0) return false;
  const certs = sb.control.certificates(ref.subscriptionId).filter((c) => c.resourceGroup.toLowerCase() === ref.resourceGroup.toLowerCase());
  return loaded.every((t) => {
    const cert = certs.find((c) => c.thumbprint.toUpperCase() === t.toUpperCase());
    return cert !== undefined && Date.parse(cert.notBefore) <= at.getTime() && Date.parse(cert.notAfter) > at.getTime();
  });
}

/** Thumbprint of a vault version's certificate (uppercase SHA-1). */
export function thumbprintOf(sb: Sandbox, version: 0 | 'latest'): string {
  return sb.control.thumbprint(`${VAULT}/client/${version}`);
}
