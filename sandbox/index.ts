// The local Azure: starts ARM and one Key Vault per scenario vault over HTTPS on 127.0.0.1 (free ports, a
// server certificate from a CA generated at start), the scenario's downstream partner APIs and one simulated
// app per site and slot, and hands back the endpoints, the CA to trust and the control object.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppRef } from '../src/core/ports.js';
import { createCertificateAuthority, issueCertificate, type IssuedCertificate } from '../src/crypto/index.js';
import { startSimulatedApp } from './apps.js';
import { createArmHandler } from './arm.js';
import { hostNameOf } from './arm-shapes.js';
import { createControlRoutes, type KeyVaultVersionInfo, type SandboxCertificateInfo, type SandboxControl } from './control.js';
import { startDownstream, type Downstream } from './downstream.js';
import { FaultRegistry } from './faults.js';
import { startHttpsServer, type StartedServer, type TlsMaterial } from './http.js';
import { startManagedIdentityEndpoint, type ManagedIdentityEndpoint } from './identity.js';
import { createKeyVaultHandler } from './keyvault.js';
import { buildSecret, MaterialFactory, materialFromPems, versionId, type Material, type SecretForm } from './materials.js';
import { Recorder } from './observe.js';
import { ScenarioError, validateScenario, type AppBehaviourSpec, type CertificateVersionSpec, type Scenario } from './scenario.js';
import {
  appKey,
  certificateResourceId,
  siteResourceId,
  vaultResourceId,
  webspaceKey,
  World,
  type AppBehaviour,
  type AppState,
  type VaultCertificate,
  type VaultState,
  type VaultVersion,
} from './state.js';
import { ArmThrottle, type ThrottlingOptions } from './throttling.js';
import { AUTHORITY_PATH, newServicePrincipal, type ServicePrincipal } from './tenant.js';
import { SandboxEventGrid } from './eventGrid.js';

export type { Scenario } from './scenario.js';
export type { SandboxControl, KeyVaultVersionInfo, SandboxCertificateInfo, RenewSpec, RestartBehaviour, RequestFilter } from './control.js';
export type { FaultSpec, ActiveFault } from './faults.js';
export type { ManagedIdentityEndpoint, ManagedIdentitySettings, IdentityRequest, TokenAudience } from './identity.js';
export type { ThrottlingOptions, BucketSpec } from './throttling.js';
export type { ServicePrincipal } from './tenant.js';
export type { Counters, RequestLogEntry } from './observe.js';
export { quotaFloorSeconds, ARM_READS, ARM_WRITES } from './throttling.js';
export { ScenarioError, HEALTH_SHAPES, type HealthShape } from './scenario.js';
export { demoScenario, scaleScenario, scaleSubscriptionId, DEMO_SUBSCRIPTION_ID, DEMO_EXPECTED_OUTCOMES } from './scenarios.js';
export type { ScaleScenarioOptions, ScaleScenarioFacts } from './scenarios.js';

export const DEFAULT_TENANT_ID = '72f988bf-0000-4000-8000-00000000a11e';
const DAY_MS = 86_400_000;
const DEFAULT_RESTART_MS = 100;
const DEFAULT_HEALTH_PATH = '/healthz/outbound-mtls';
// Starting thousands of app servers at once would only queue on two cores.
const APP_START_CONCURRENCY = 16;

export interface SandboxOptions {
  throttling?: ThrottlingOptions;
  /** Start one HTTPS app per site and slot (default true). False: no servers; restarts are only counted. */
  simulateApps?: boolean;
  /** One line per request and diagnostics; never key material. */
  log?: (line: string) => void;
  /** Seed of the fault RNG (default 1). */
  seed?: number;
  /** The instant relative days refer to (default: now). */
  now?: Date;
  /** Bound of a simulated app's outbound call (default 5000 ms). */
  appOutboundTimeoutMs?: number;
}

export interface Sandbox {
  /** https://127.0.0.1:<port> */
  armEndpoint: string;
  /** Trust this (SDK `tlsOptions: { ca }`, or NODE_EXTRA_CA_CERTS=<caFile> for child processes). */
  caPem: string;
  caFile: string;
  tenantId: string;
  /**
   * A bearer token the sandbox accepts. Any opaque (non-JWT) bearer is accepted: the static-token path. A JWT must
   * come from `identity` and name the service's audience.
   */
  token: string;
  /**
   * The service principal the sandbox's token endpoint signs in (client credentials), e.g. `az login
   * --service-principal -u <clientId> -p <secret> --tenant <tenantId>`; its tokens are JWTs ARM checks.
   */
  servicePrincipal: ServicePrincipal;
  /** `<armEndpoint>/adfs`: the AD FS-style authority of that sign-in (no instance discovery, so no internet). */
  authority: string;
  /** The App Service managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER) whose tokens ARM and Key Vault check. */
  identity: ManagedIdentityEndpoint;
  /** The sandbox's HTTPS server certificate and key (signed by `caPem`, for 127.0.0.1): Azurite over HTTPS uses it. */
  serverTls: { certPem: string; keyPem: string };
  /** The instant the scenario's relative days refer to. */
  startedAt: Date;
  scenario: Scenario;
  /** https://127.0.0.1:<port> (one port per vault, no trailing slash). */
  vaultUrl(vaultName: string): string;
  /** https://127.0.0.1:<port> of the simulated app (throws when apps are not simulated). */
  appUrl(ref: AppRef): string;
  downstreamUrl(name: string): string;
  control: SandboxControl;
  /** Key Vault's Event Grid system topic: subscribe a webhook; renew() publishes CertificateNewVersionCreated (sandbox/eventGrid.ts). */
  eventGrid: SandboxEventGrid;
  stop(): Promise<void>;
}

export async function startSandbox(scenario: Scenario, opts: SandboxOptions = {}): Promise<Sandbox> {
  validateScenario(scenario);
  const now = opts.now ?? new Date();
  const tenantId = scenario.tenantId ?? DEFAULT_TENANT_ID;
  const simulateApps = opts.simulateApps !== false;
  const seed = opts.seed ?? 1;
  const log = opts.log;

  const sandboxCa = createCertificateAuthority({
    commonName: 'mtls-rotator sandbox root CA',
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
  });
  const serverCert = issueCertificate(sandboxCa, {
    commonName: '127.0.0.1',
    usage: 'server',
    altNames: ['127.0.0.1', 'localhost'],
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
  });
  const tls: TlsMaterial = { certPem: serverCert.certPem, keyPem: serverCert.keyPem, caPem: sandboxCa.certPem };
  const caDir = mkdtempSync(join(tmpdir(), 'mtls-sandbox-'));
  const caFile = join(caDir, 'sandbox-ca.pem');
  writeFileSync(caFile, sandboxCa.certPem);

  const materials = new MaterialFactory(now, scenario.cas);
  const world = new World();
  const recorder = new Recorder(log);
  const throttle = new ArmThrottle(opts.throttling);
  const faults = new FaultRegistry(seed);
  const servers: StartedServer[] = [];
  const downstreams = new Map<string, Downstream>();
  let spareKeyPem: string | undefined;

  const secretOf = (vault: VaultState, cert: VaultCertificate, v: VaultVersion): SecretForm => {
    if (v.secret === undefined) {
      // A key that belongs to no certificate, for the keyMismatch defect (generated once, only if needed).
      if (v.defect === 'keyMismatch' && spareKeyPem === undefined) {
        spareKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      }
      v.secret = buildSecret(v.material, cert.contentType, v.defect, spareKeyPem ?? '');
    }
    return v.secret;
  };

  const restart = async (app: AppState, wait: boolean): Promise<void> => {
    app.restarts += 1;
    recorder.countRestart();
    if (app.app === undefined) return;
    const done = app.app.restart();
    if (wait) await done;
    else done.catch((err: unknown) => log?.(`restart of ${app.id} failed: ${err instanceof Error ? err.message : String(err)}`));
  };

  let identity: ManagedIdentityEndpoint | undefined;
  const eventGrid = new SandboxEventGrid(() => world.vaults.values(), log);
  const stopAll = async () => {
    eventGrid.stop();
    await Promise.allSettled([
      identity?.stop(),
      ...[...world.apps.values()].map((a) => a.app?.stop()),
      ...[...downstreams.values()].map((d) => d.stop()),
      ...servers.map((s) => s.close()),
    ]);
    rmSync(caDir, { recursive: true, force: true });
  };

  try {
    identity = await startManagedIdentityEndpoint({ tenantId });
    const tokens = identity;
    // ARM first: nextLinks need its endpoint.
    let armEndpoint = '';
    let control: SandboxControl | undefined;
    let infoFn: () => Record<string, unknown> = () => ({});
    const servicePrincipal = newServicePrincipal();
    const controlRoutes = (req: Parameters<ReturnType<typeof createControlRoutes>>[0], res: Parameters<ReturnType<typeof createControlRoutes>>[1], url: URL) =>
      createControlRoutes(control!, infoFn)(req, res, url);
    const arm = await startHttpsServer(
      tls,
      createArmHandler({
        world,
        tenantId,
        now: () => new Date(),
        endpoint: () => armEndpoint,
        pageSize: scenario.armPageSize ?? 100,
        restartOnSettingsWrite: scenario.restartOnSettingsWrite === true,
        recorder,
        throttle,
        faults,
        restart,
        secretOf,
        control: controlRoutes,
        tokens,
        login: { endpoint: () => armEndpoint, principal: servicePrincipal, tokens },
        publishingPassword: randomUUID().replace(/-/g, ''),
        log,
      }),
    );
    servers.push(arm);
    armEndpoint = arm.url;

    for (const sub of scenario.subscriptions) {
      const s = world.addSubscription(sub.id, sub.displayName ?? `Sandbox subscription ${sub.id.slice(0, 8)}`, sub.state);
      for (const rg of sub.resourceGroups) s.groups.set(rg.name.toLowerCase(), { name: rg.name, location: rg.location });
    }

    // Vaults: materials for every version, one HTTPS port each.
    for (const v of scenario.vaults ?? []) {
      const rg = world.subscription(v.subscriptionId)!.groups.get(v.resourceGroup.toLowerCase())!;
      const vault: VaultState = {
        name: v.name,
        subscriptionId: v.subscriptionId,
        resourceGroup: rg.name,
        location: v.location ?? rg.location,
        forbidden: v.forbidden === true,
        url: '',
        id: vaultResourceId(v.subscriptionId, rg.name, v.name),
        certificates: new Map(),
      };
      for (const c of v.certificates ?? []) {
        const cert: VaultCertificate = {
          name: c.name,
          contentType: c.contentType ?? 'application/x-pkcs12',
          forbidden: c.forbidden === true,
          tags: withDefaultConsumers(c.tags, scenario),
          versions: [],
          byVersion: new Map(),
        };
        c.versions.forEach((spec, i) => addVersion(vault, cert, spec, i, materials, now, false));
        vault.certificates.set(c.name.toLowerCase(), cert);
      }
      const server = await startHttpsServer(
        tls,
        createKeyVaultHandler({ vault, tenantId, pageSize: scenario.keyVaultPageSize ?? 25, recorder, faults, secretOf, tokens, log }),
      );
      servers.push(server);
      vault.url = server.url;
      world.vaults.set(v.name.toLowerCase(), vault);
    }

    // Generated App Service certificates, so that every {{thumbprint:<material>}} resolves below.
    const generated = new Map<string, Material>();
    for (const sub of scenario.subscriptions) {
      for (const rg of sub.resourceGroups) {
        for (const c of rg.certificates ?? []) {
          if ('generate' in c) generated.set(`${sub.id}/${rg.name}/${c.name}`.toLowerCase(), materials.issue(c.generate, c.name));
        }
      }
    }

    const thumbprintOf = (ref: string): string => {
      const parts = ref.split('/');
      if (parts.length === 3) {
        const [vn, cn, idx] = parts as [string, string, string];
        const cert = world.vault(vn)?.certificates.get(cn.toLowerCase());
        if (cert === undefined) throw new ScenarioError(`thumbprint reference '${ref}': no vault certificate ${vn}/${cn}`);
        const n = idx === 'latest' ? cert.versions.length - 1 : Number(idx) < 0 ? cert.versions.length + Number(idx) : Number(idx);
        const v = cert.versions[n];
        if (v === undefined) throw new ScenarioError(`thumbprint reference '${ref}': no version ${idx}`);
        return v.material.thumbprint;
      }
      const m = materials.namedMaterial(ref);
      if (m === undefined) throw new ScenarioError(`thumbprint reference '${ref}': no material of that name`);
      return m.thumbprint;
    };
    const downstreamUrlOf = (name: string): string => {
      const d = downstreams.get(name);
      if (d === undefined) throw new ScenarioError(`no downstream '${name}'`);
      return d.url;
    };
    const resolve = (text: string, where: string): string =>
      text.replace(/\{\{\s*(\w+)\s*:\s*([^}]+?)\s*\}\}/g, (_m, kind: string, arg: string) => {
        const vault = () => {
          const v = world.vault(arg.split('/')[0]!);
          if (v === undefined) throw new ScenarioError(`${where}: placeholder {{${kind}:${arg}}} names no vault`);
          return v;
        };
        switch (kind) {
          case 'vault':
            return vault().url;
          case 'vaultId':
            return vault().id;
          case 'source': {
            const [, cert] = arg.split('/');
            if (cert === undefined) throw new ScenarioError(`${where}: {{source:<vault>/<certificate>}} needs both parts`);
            return `${vault().url}/certificates/${cert}`;
          }
          case 'downstream':
            return downstreamUrlOf(arg);
          case 'thumbprint':
            return thumbprintOf(arg);
          default:
            throw new ScenarioError(`${where}: unknown placeholder {{${kind}:${arg}}}`);
        }
      });
    const resolveMap = (m: Record<string, string> | undefined, where: string): Record<string, string> =>
      Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, resolve(v, `${where} '${k}'`)]));

    for (const d of scenario.downstreams ?? []) {
      const started = await startDownstream({
        name: d.name,
        trustedCaPems: d.trusts.map((t) => materials.ca(t).certPem),
        allowedThumbprints: d.allowedThumbprints?.map((t) => resolve(t, `downstream '${d.name}' allowedThumbprints`)),
        serverCert,
      });
      downstreams.set(d.name, started);
      if (d.hang) started.setHang(true);
    }

    // App Service certificates, in their webspaces.
    for (const sub of scenario.subscriptions) {
      for (const rg of sub.resourceGroups) {
        for (const c of rg.certificates ?? []) {
          let material: Material;
          let keyVaultId: string | undefined;
          let keyVaultSecretName: string | undefined;
          if ('fromVault' in c) {
            const vault = world.vault(c.fromVault.vault)!;
            const cert = vault.certificates.get(c.fromVault.certificate.toLowerCase())!;
            const idx = c.fromVault.version === 'latest' ? cert.versions.length - 1 : c.fromVault.version;
            material = cert.versions[idx]!.material;
            if (c.linked) {
              keyVaultId = vault.id;
              keyVaultSecretName = cert.name;
            }
          } else {
            material = generated.get(`${sub.id}/${rg.name}/${c.name}`.toLowerCase())!;
          }
          const location = c.location ?? rg.location;
          const ws = webspaceKey(sub.id, rg.name, location);
          const dup = world.certificateWithThumbprint(ws, material.thumbprint, c.name);
          if (dup !== undefined) {
            throw new ScenarioError(`certificate '${c.name}' (${sub.id}/${rg.name}) has the same thumbprint as '${dup.name}' in its webspace; App Service refuses that`);
          }
          world.putCertificate({
            id: certificateResourceId(sub.id, rg.name, c.name),
            name: c.name,
            subscriptionId: sub.id,
            resourceGroup: rg.name,
            location,
            webspace: ws,
            tags: resolveMap(c.tags, `certificate '${c.name}' tag`),
            material,
            keyVaultId,
            keyVaultSecretName,
            hostNames: [material.subjectCommonName ?? material.subject],
          });
        }
      }
    }

    // Sites and slots.
    const behaviourOf = (b: AppBehaviourSpec): AppBehaviour => ({
      downstream: b.downstream,
      healthPath: b.healthPath ?? DEFAULT_HEALTH_PATH,
      restartMs: b.restartMs ?? DEFAULT_RESTART_MS,
      hangRestart: b.hangRestart === true,
      ...(b.health !== undefined ? { health: b.health } : {}),
      ...(b.warmupMs !== undefined ? { warmupMs: b.warmupMs } : {}),
    });
    for (const sub of scenario.subscriptions) {
      for (const rg of sub.resourceGroups) {
        for (const site of rg.sites ?? []) {
          const location = site.location ?? rg.location;
          const serverFarmId = `/subscriptions/${sub.id}/resourceGroups/${rg.name}/providers/Microsoft.Web/serverfarms/${site.plan ?? `${rg.name}-plan`}`;
          const mk = (ref: AppRef, spec: AppBehaviourSpec & { tags?: Record<string, string>; settings?: Record<string, string> }): AppState => {
            const where = ref.slot !== undefined ? `site '${ref.site}' slot '${ref.slot}'` : `site '${ref.site}'`;
            const behaviour = behaviourOf(spec);
            return {
              ref,
              key: appKey(ref),
              id: siteResourceId(ref),
              location,
              webspace: webspaceKey(sub.id, rg.name, location),
              kind: site.kind ?? 'app,linux',
              serverFarmId,
              tags: resolveMap(spec.tags, `${where} tag`),
              settings: resolveMap(spec.settings, `${where} setting`),
              behaviour,
              initialBehaviour: { ...behaviour },
              restarts: 0,
              lastModified: now,
            };
          };
          const siteState = mk({ subscriptionId: sub.id, resourceGroup: rg.name, site: site.name }, site);
          siteState.slotConfigNames = {
            appSettingNames: site.slotSettings !== undefined ? [...site.slotSettings] : null,
            connectionStringNames: null,
            azureStorageConfigNames: null,
          };
          world.addApp(siteState);
          for (const slot of site.slots ?? []) {
            world.addApp(mk({ subscriptionId: sub.id, resourceGroup: rg.name, site: site.name, slot: slot.name }, { ...slot }), siteState);
          }
        }
      }
    }

    if (simulateApps) {
      const queue = [...world.apps.values()];
      const worker = async () => {
        for (let app = queue.shift(); app !== undefined; app = queue.shift()) {
          const a = app;
          a.app = await startSimulatedApp({
            id: a.id,
            serverCert,
            sandboxCaPem: sandboxCa.certPem,
            loadCertificates: () => world.loadCertificates(a),
            settings: () => a.settings,
            downstreamUrl: () => (a.behaviour.downstream !== undefined ? downstreams.get(a.behaviour.downstream)?.url : undefined),
            restartMs: () => a.behaviour.restartMs,
            hangRestart: () => a.behaviour.hangRestart,
            staleRestart: () => a.behaviour.staleRestart === true,
            healthPath: a.behaviour.healthPath,
            health: a.behaviour.health,
            warmupMs: a.behaviour.warmupMs,
            outboundTimeoutMs: opts.appOutboundTimeoutMs,
            log,
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(APP_START_CONCURRENCY, queue.length) }, worker));
    }

    control = createControl({ world, materials, recorder, throttle, faults, downstreams, seed, now, serverCert, thumbprintOf, onVersionCreated: (v, c, x) => eventGrid.versionCreated(v, c, x) });
    const token = `sandbox.${randomUUID()}`;
    const sandbox: Sandbox = {
      armEndpoint,
      caPem: sandboxCa.certPem,
      caFile,
      tenantId,
      token,
      servicePrincipal,
      authority: `${armEndpoint}${AUTHORITY_PATH}`,
      identity,
      serverTls: { certPem: serverCert.certPem, keyPem: serverCert.keyPem },
      startedAt: now,
      scenario,
      vaultUrl(name) {
        const v = world.vault(name);
        if (v === undefined) throw new RangeError(`no vault '${name}' in the scenario`);
        return v.url;
      },
      appUrl(ref) {
        const a = world.requireApp(ref);
        if (a.app === undefined) throw new RangeError(`apps are not simulated (simulateApps: false): ${a.id} has no URL`);
        return `https://${a.app.hostName}`;
      },
      downstreamUrl(name) {
        const d = downstreams.get(name);
        if (d === undefined) throw new RangeError(`no downstream '${name}' in the scenario`);
        return d.url;
      },
      control,
      eventGrid,
      stop: stopAll,
    };
    infoFn = () => ({
      scenario: scenario.name,
      armEndpoint,
      tenantId,
      startedAt: now.toISOString(),
      vaults: Object.fromEntries([...world.vaults.values()].map((v) => [v.name, v.url])),
      downstreams: Object.fromEntries([...downstreams.values()].map((d) => [d.name, d.url])),
      apps: [...world.apps.values()].map((a) => ({ id: a.id, hostName: hostNameOf(a) })),
      throttling: throttle.options,
    });
    return sandbox;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function addVersion(
  vault: VaultState,
  cert: VaultCertificate,
  spec: CertificateVersionSpec,
  index: number,
  materials: MaterialFactory,
  now: Date,
  renewal: boolean,
): VaultVersion {
  const latest = cert.versions[cert.versions.length - 1];
  const cn = spec.commonName ?? latest?.material.subjectCommonName ?? cert.name;
  const material = spec.pems
    ? materialFromPems(spec.pems.certPem, spec.pems.keyPem, spec.pems.chainPems ?? [])
    : materials.issue({ ...spec, commonName: cn, notBeforeDays: spec.notBeforeDays ?? (renewal ? 0 : -30) }, cn);
  const version = (spec.version ?? versionId(vault.name, cert.name, index)).toLowerCase();
  if (cert.byVersion.has(version)) throw new RangeError(`vault '${vault.name}' certificate '${cert.name}' already has version ${version}`);
  const created =
    spec.createdDays !== undefined
      ? new Date(now.getTime() + spec.createdDays * DAY_MS)
      : renewal
        ? new Date()
        : new Date(now.getTime() + Math.min(spec.notBeforeDays ?? -30, 0) * DAY_MS);
  const v: VaultVersion = { version, material, enabled: spec.enabled !== false, created, updated: created, defect: spec.defect };
  // A hostile vault answers GET /secrets with exactly this (an oversized value, a PFX asking for 2M iterations).
  if (spec.hostileSecret !== undefined) v.secret = spec.hostileSecret;
  cert.versions.push(v);
  cert.byVersion.set(version, v);
  return v;
}

interface ControlDeps {
  world: World;
  materials: MaterialFactory;
  recorder: Recorder;
  throttle: ArmThrottle;
  faults: FaultRegistry;
  downstreams: Map<string, Downstream>;
  seed: number;
  now: Date;
  serverCert: IssuedCertificate;
  thumbprintOf(ref: string): string;
  /** Key Vault publishes CertificateNewVersionCreated for every version it creates. */
  onVersionCreated?: (vault: VaultState, certificate: VaultCertificate, version: VaultVersion) => void;
}

function createControl(d: ControlDeps): SandboxControl {
  const initialThrottling = d.throttle.options;
  const vaultCert = (vault: string, certificate: string): { v: VaultState; c: VaultCertificate } => {
    const v = d.world.vault(vault);
    if (v === undefined) throw new RangeError(`no vault '${vault}'`);
    const c = v.certificates.get(certificate.toLowerCase());
    if (c === undefined) throw new RangeError(`vault '${vault}' has no certificate '${certificate}'`);
    return { v, c };
  };
  const info = (v: VaultState, c: VaultCertificate, x: VaultVersion): KeyVaultVersionInfo => ({
    version: x.version,
    id: `${v.url}/certificates/${c.name}/${x.version}`,
    thumbprint: x.material.thumbprint,
    x5t: x.material.x5t,
    enabled: x.enabled,
    notBefore: x.material.notBefore.toISOString(),
    notAfter: x.material.notAfter.toISOString(),
    created: x.created.toISOString(),
    issuer: x.material.issuer,
    subject: x.material.subject,
    ...(x.defect !== undefined ? { defect: x.defect } : {}),
  });
  const downstream = (name: string): Downstream => {
    const ds = d.downstreams.get(name);
    if (ds === undefined) throw new RangeError(`no downstream '${name}'`);
    return ds;
  };

  return {
    renew(vault, certificate, spec) {
      const { v, c } = vaultCert(vault, certificate);
      if (typeof spec?.issuer !== 'string' || typeof spec.notAfterDays !== 'number') {
        throw new RangeError('renew needs { issuer: <CA name>, notAfterDays: <days from the sandbox start> }');
      }
      const x = addVersion(v, c, spec, c.versions.length, d.materials, d.now, true);
      d.onVersionCreated?.(v, c, x);
      return info(v, c, x);
    },
    setVersionEnabled(vault, certificate, version, enabled) {
      const { c } = vaultCert(vault, certificate);
      const x =
        typeof version === 'number' ? c.versions[version < 0 ? c.versions.length + version : version] : c.byVersion.get(version.toLowerCase());
      if (x === undefined) throw new RangeError(`vault '${vault}' certificate '${certificate}' has no version ${String(version)}`);
      x.enabled = enabled;
      x.updated = new Date();
    },
    setForbidden(vault, certificate, forbidden) {
      if (certificate === undefined) {
        const v = d.world.vault(vault);
        if (v === undefined) throw new RangeError(`no vault '${vault}'`);
        v.forbidden = forbidden;
      } else {
        vaultCert(vault, certificate).c.forbidden = forbidden;
      }
    },
    keyVaultVersions(vault, certificate) {
      const { v, c } = vaultCert(vault, certificate);
      return c.versions.map((x) => info(v, c, x));
    },

    addFault: (spec) => d.faults.add(spec),
    removeFault: (id) => d.faults.remove(id),
    clearFaults: (seed) => d.faults.clear(seed ?? d.seed),
    faults: () => d.faults.list(),
    setThrottling: (opts) => d.throttle.configure(opts),
    throttling: () => d.throttle.options,

    setDownstreamTrust(name, cas) {
      downstream(name).setTrustedCas(cas.map((c) => (c.includes('-----BEGIN') ? c : d.materials.ca(c).certPem)));
    },
    setDownstreamAllowedThumbprints: (name, thumbprints) => downstream(name).setAllowedThumbprints(thumbprints),
    setDownstreamHang: (name, hang) => downstream(name).setHang(hang),
    downstreamSeen: (name) => [...downstream(name).seen],

    setRestartBehaviour(ref, b) {
      const a = d.world.requireApp(ref);
      if (b.restartMs !== undefined) {
        if (!(b.restartMs >= 0)) throw new RangeError('restartMs must be >= 0');
        a.behaviour.restartMs = b.restartMs;
      }
      if (b.hang !== undefined) a.behaviour.hangRestart = b.hang;
      if (b.stale !== undefined) a.behaviour.staleRestart = b.stale;
    },
    setAppSettings(ref, settings) {
      const a = d.world.requireApp(ref);
      for (const [k, v] of Object.entries(settings)) if (typeof v !== 'string' && v !== null) throw new RangeError(`setting '${k}' must be a string or null`);
      // Null is what ARM can return for a setting; the simulated app reads it as unset.
      a.settings = { ...settings } as Record<string, string>;
      a.lastModified = new Date();
    },
    appSettings: (ref) => ({ ...d.world.requireApp(ref).settings }),
    loadedThumbprints(ref) {
      const a = d.world.requireApp(ref);
      return a.app !== undefined ? a.app.loadedThumbprints() : d.world.loadCertificates(a).map((c) => c.thumbprint);
    },
    restarts: (ref) => d.world.requireApp(ref).restarts,
    slotSettingNames: (ref) => [...(d.world.requireApp({ ...ref, slot: undefined }).slotConfigNames?.appSettingNames ?? [])],

    certificates(subscriptionId) {
      const s = d.world.subscription(subscriptionId);
      if (s === undefined) throw new RangeError(`no subscription '${subscriptionId}'`);
      return [...s.certificates.values()].map(
        (c): SandboxCertificateInfo => ({
          id: c.id,
          name: c.name,
          resourceGroup: c.resourceGroup,
          location: c.location,
          thumbprint: c.material.thumbprint,
          subjectName: c.material.subjectCommonName ?? c.material.subject,
          issuer: c.material.issuerCommonName ?? c.material.issuer,
          notBefore: c.material.notBefore.toISOString(),
          notAfter: c.material.notAfter.toISOString(),
          ...(c.keyVaultId !== undefined ? { keyVaultId: c.keyVaultId, keyVaultSecretName: c.keyVaultSecretName } : {}),
          tags: { ...c.tags },
        }),
      );
    },
    deleteCertificate: (subscriptionId, resourceGroup, name) => d.world.deleteCertificate(subscriptionId, resourceGroup, name),

    thumbprint: (ref) => d.thumbprintOf(ref),
    caPem: (name) => d.materials.ca(name).certPem,

    requests: (filter) => d.recorder.entries(filter),
    counters: () => d.recorder.counters(),
    resetCounters: () => d.recorder.reset(),
    reset() {
      d.recorder.reset();
      d.faults.clear(d.seed);
      d.throttle.configure(initialThrottling);
      for (const a of d.world.apps.values()) a.behaviour = { ...a.initialBehaviour };
    },
  };
}

/**
 * The sandbox's vault owners grant their certificates to every subscription of the scenario, unless a certificate's
 * tags say otherwise (a `<prefix>-consumers` tag of its own, possibly empty: granted to nobody). Real vaults grant
 * nothing by default; docs/operations.md "Trust model".
 */
function withDefaultConsumers(tags: Record<string, string> | undefined, scenario: Scenario): Record<string, string> {
  const own = { ...(tags ?? {}) };
  if (Object.keys(own).some((name) => /-consumers$/i.test(name))) return own;
  own['mtls-rotation-consumers'] = scenario.subscriptions.map((s) => `/subscriptions/${s.id}`).join(' ');
  return own;
}
