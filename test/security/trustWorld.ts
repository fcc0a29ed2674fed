// The world of the source and candidate attacks: team B's vault and app, and one attacker app per attack
// in its own resource group (its own webspace) with Contributor-like control over its tags, settings and certificate
// resources. The engine runs as deployed: real SDKs over HTTPS to the sandbox, records in Azurite, Key Vault hosts
// allow-listed by exact host:port (the sandbox vaults only), and a hostile HTTPS server on 127.0.0.1 that the engine
// trusts at the TLS level, so only the trust rules can keep a request (and a token) from reaching it.
// Both attack files share one world (one sandbox start; RSA keys dominate it): acquire() and release() count users.
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import type { AppServiceCertificateSpec, CertificateVersionSpec, SiteSpec } from '../../sandbox/scenario.js';
import { startAzurite, type Azurite } from '../../sandbox/azurite.js';
import { createRotator, loadConfig, type RotationResult, type Rotator } from '../../src/core/index.js';
import type { AppRef } from '../../src/core/ports.js';
import { createDependencies } from '../../src/composition.js';
import type { AttackOutcome } from './harness.js';
import { startHostileServer, type HostileServer } from './hostile.js';
import { sandboxEnv, watch } from '../integration/world.js';

export const SUB = '44444444-4444-4444-8444-444444444444';
export const TEAM_B_RG = 'rg-team-b';

/** One attacker app: its resource group, tags, settings and certificate resources. */
export interface AttackerApp {
  name: string;
  /** Default `rg-<name>`. */
  resourceGroup?: string;
  tags?: Record<string, string>;
  settings: Record<string, string>;
  certificates?: AppServiceCertificateSpec[];
}

/** A certificate in the attacker's own vault (kv-evil): version 0 is loaded, version 1 is the hostile candidate. */
export interface EvilCertificate {
  name: string;
  candidate: CertificateVersionSpec;
}

export interface TrustWorld {
  sb: Sandbox;
  hostile: HostileServer;
  rotator: Rotator;
  /** Runs one attacker app through the engine and measures from outside. */
  attack(app: string, expected: RegExp): Promise<AttackOutcome>;
}

const OLD: CertificateVersionSpec = { issuer: 'ca', notBeforeDays: -355, notAfterDays: 10 };
const NEW: CertificateVersionSpec = { issuer: 'ca', notBeforeDays: -1, notAfterDays: 365 };

const attackers: AttackerApp[] = [];
const evil: EvilCertificate[] = [];
const portUsers: Array<(port: number) => void> = [];

/** Registers attacker apps (at module load of an attack file, before the world starts). */
export function addAttackers(...apps: AttackerApp[]): void {
  attackers.push(...apps);
}

export function addEvilCertificates(...certificates: EvilCertificate[]): void {
  evil.push(...certificates);
}

/** Attack apps whose tags need the hostile server's port fill them in here, once it is known. */
export function onHostilePort(use: (port: number) => void): void {
  portUsers.push(use);
}

export const rgOf = (app: AttackerApp): string => app.resourceGroup ?? `rg-${app.name}`;

function scenario(): Scenario {
  return {
    name: 'trust-boundaries',
    cas: [{ name: 'ca' }],
    vaults: [
      {
        name: 'kv-a',
        subscriptionId: SUB,
        resourceGroup: 'rg-sec-a',
        certificates: [
          { name: 'a-client', tags: { 'mtls-rotation-consumers': `/subscriptions/${SUB}/resourceGroups/rg-team-a` }, versions: [OLD, NEW] },
          // Granted to nobody by its owner, and not matched by the operator's policy (which names a-client only).
          { name: 'a-unshared', tags: { 'mtls-rotation-consumers': '' }, versions: [OLD, NEW] },
        ],
      },
      {
        name: 'kv-b',
        subscriptionId: SUB,
        resourceGroup: 'rg-sec-b',
        certificates: [
          { name: 'b-client', tags: { 'mtls-rotation-consumers': `/subscriptions/${SUB}/resourceGroups/${TEAM_B_RG}` }, versions: [OLD, NEW] },
          {
            name: 'b-site',
            tags: { 'mtls-rotation-consumers': `/subscriptions/${SUB}/resourceGroups/${TEAM_B_RG}/providers/Microsoft.Web/sites/b-app` },
            versions: [OLD, NEW],
          },
        ],
      },
      {
        // The attacker's own vault: they may grant its certificates to their apps, and serve whatever they like.
        name: 'kv-evil',
        subscriptionId: SUB,
        resourceGroup: 'rg-sec-evil',
        certificates: evil.map((c) => ({
          name: c.name,
          tags: { 'mtls-rotation-consumers': `/subscriptions/${SUB}` },
          versions: [OLD, c.candidate],
        })),
      },
    ],
    downstreams: [{ name: 'partner', trusts: ['ca'] }],
    subscriptions: [
      {
        id: SUB,
        resourceGroups: [
          { name: 'rg-sec-a', location: 'West Europe' },
          { name: 'rg-sec-b', location: 'West Europe' },
          { name: 'rg-sec-evil', location: 'West Europe' },
          {
            name: TEAM_B_RG,
            location: 'West Europe',
            // Imported from Key Vault (linked): how the repair of a dangling pin would find B's source.
            certificates: [{ name: 'b-client-v0', fromVault: { vault: 'kv-b', certificate: 'b-client', version: 0 }, linked: true }],
            sites: [
              {
                name: 'b-app',
                downstream: 'partner',
                restartMs: 20,
                tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-health': '/healthz/outbound-mtls' },
                settings: { WEBSITE_LOAD_CERTIFICATES: '{{thumbprint:kv-b/b-client/0}}' },
              },
            ],
          },
          ...attackers.map((app) => ({
            name: rgOf(app),
            location: 'West Europe',
            certificates: app.certificates ?? [],
            sites: [
              {
                name: app.name,
                downstream: 'partner',
                restartMs: 20,
                tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-health': '/healthz/outbound-mtls', ...app.tags },
                settings: app.settings,
              } satisfies SiteSpec,
            ],
          })),
        ],
      },
    ],
  };
}

/** What an operator reads about a result: the record's reason, or the plan's refusals and problems. */
export function messageOf(result: RotationResult): string {
  const lines = [result.reason ?? '', ...(result.problems ?? [])];
  for (const b of result.plan?.bindings ?? []) {
    if (b.refusal) lines.push(`${b.refusal.refusal}: ${b.refusal.message}`);
    if (b.problem) lines.push(b.problem);
  }
  return lines.join('\n');
}

async function start(): Promise<{ world: TrustWorld; stop(): Promise<void> }> {
  const hostile = await startHostileServer();
  for (const use of portUsers) use(hostile.port);
  const azurite: Azurite = await startAzurite();
  let sb: Sandbox | undefined;
  try {
    sb = await startSandbox(scenario());
    const vaultHosts = ['kv-a', 'kv-b', 'kv-evil'].map((name) => new URL(sb!.vaultUrl(name)).host);
    const config = loadConfig(
      sandboxEnv(sb, azurite.connectionString, SUB, {
        // Exactly the sandbox's vaults: another port on 127.0.0.1 (the hostile server) is not a vault.
        KEYVAULT_ALLOWED_HOSTS: vaultHosts.join(','),
        // The operator grants kv-a's a-client to the whole subscription; nothing else.
        SOURCE_POLICY: `/subscriptions/${SUB} => ${vaultHosts[0]}/a-client`,
      }),
    );
    const deps = createDependencies(config, { tlsCa: `${sb.caPem}\n${hostile.caPem}`, owner: `trust-${process.pid}` });
    const rotator = createRotator(deps, config);
    const sandbox = sb;
    const world: TrustWorld = {
      sb: sandbox,
      hostile,
      rotator,
      attack: async (name, expected) => {
        const app = attackers.find((a) => a.name === name);
        if (!app) throw new Error(`no attacker app '${name}'`);
        const ref: AppRef = { subscriptionId: SUB, resourceGroup: rgOf(app), site: app.name };
        const settingsBefore = sandbox.control.appSettings(ref);
        const certificatesBefore = sandbox.control.certificates(SUB).length;
        const heardBefore = hostile.log.length;
        const w = watch(sandbox);
        // By resource id: an attacker may well name their app like the victim's.
        const result = await rotator.rotateApp(`/subscriptions/${SUB}/resourceGroups/${rgOf(app)}/providers/Microsoft.Web/sites/${app.name}`, { trigger: 'cli' });
        const message = messageOf(result);
        const writes = w.changes().length;
        const heard = hostile.log.slice(heardBefore);
        const tokens = heard.filter((entry) => entry.authorization !== undefined).length;
        const settingsChanged = JSON.stringify(sandbox.control.appSettings(ref)) !== JSON.stringify(settingsBefore);
        const uploaded = sandbox.control.certificates(SUB).length - certificatesBefore;
        const refusedAsDocumented = expected.test(message);
        const succeeded = writes > 0 || heard.length > 0 || settingsChanged || uploaded > 0 || result.outcome === 'committed' || !refusedAsDocumented;
        return {
          succeeded,
          writes,
          tokensOffVault: tokens,
          evidence:
            `outcome ${result.outcome}; ${writes} ARM writes; ${uploaded} certificates added; settings ${settingsChanged ? 'CHANGED' : 'kept'}; ` +
            `hostile server heard ${heard.length} requests (${tokens} with a token); ` +
            `refusal ${refusedAsDocumented ? 'as documented' : `NOT matching ${expected}`}: ${message.replace(/\s+/g, ' ').slice(0, 400)}`,
        };
      },
    };
    return {
      world,
      stop: async () => {
        await sandbox.stop();
        await azurite.stop();
        await hostile.close();
      },
    };
  } catch (error) {
    await sb?.stop();
    await azurite.stop();
    await hostile.close();
    throw error;
  }
}

let shared: Promise<{ world: TrustWorld; stop(): Promise<void> }> | undefined;
let groups = 0;
let released = 0;

/**
 * Each attack group that uses the world says so at module load; the runner's groups run one after the other, so
 * the world is stopped when the last of them releases it, not when the first one finishes.
 */
export function useTrustWorld(): { acquire(): Promise<TrustWorld>; release(): Promise<void> } {
  groups += 1;
  return {
    acquire: async () => {
      shared ??= start();
      return (await shared).world;
    },
    release: async () => {
      released += 1;
      if (released < groups || !shared) return;
      const started = shared;
      shared = undefined;
      await (await started).stop();
    },
  };
}
