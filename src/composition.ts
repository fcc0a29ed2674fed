// The one composition root: builds the credential, the SDK clients and the ports once, from the validated
// configuration, and hands the engine its dependencies. Everything else receives them; nothing else constructs a
// client.
import type { TokenCredential } from '@azure/core-auth';
import { ArmAppServiceGateway } from './azure/appServiceGateway.js';
import { createArmPacing, type ArmPacer, type ArmRequestCounter, type PacingOptions, type PacingStats } from './azure/armPacing.js';
import { createCredential, defaultAzureCredential, managedIdentityCredential } from './azure/credentials.js';
import { KeyVaultCertificateSource } from './azure/keyVaultSource.js';
import { RotationQueue } from './azure/rotationQueue.js';
import { ArmSubscriptionDirectory } from './azure/subscriptionDirectory.js';
import { TableRotationStore } from './azure/tableRotationStore.js';
import { TableRotationSlots } from './azure/tableRotationSlots.js';
import { TableRolloutStore } from './azure/tableRolloutStore.js';
import { TableSourceIndex } from './azure/tableSourceIndex.js';
import type { CrashBoundary } from './core/boundaries.js';
import type { Config, StorageSettings } from './core/config.js';
import type { RotatorDeps } from './core/deps.js';
import { noTelemetry, type Telemetry } from './core/events.js';
import { silentLogger, type Logger } from './core/logger.js';
import { systemClock, type Clock } from './core/ports.js';
import { SourceRegistry } from './core/sources/registry.js';
import { HttpsProber } from './probes/prober.js';
import { probeTargetPolicyOf } from './core/config.js';
import { ProbeTargetGate, type Resolver } from './probes/targetPolicy.js';

export interface CompositionOverrides {
  /** Extra CA (PEM) every client trusts besides the system roots: the sandbox CA. */
  tlsCa?: string;
  clock?: Clock;
  logger?: Logger;
  /** Defaults to no telemetry; the host plugs in Application Insights. */
  telemetry?: Telemetry;
  faultHook?: (boundary: CrashBoundary) => Promise<void> | void;
  /** Lease owner (default: chosen by the engine). */
  owner?: string;
  /** Refill rates and bursts of the ARM pacer; the sandbox's time-scaled throttling model needs matching ones. */
  pacing?: PacingOptions;
  /** A credential to use instead of the one AZURE_CREDENTIAL describes (tests, tools). */
  credential?: TokenCredential;
  /** Name resolution of probe targets (tests answer from a table: the network guard allows no real look-up). */
  resolver?: Resolver;
}

export interface Dependencies extends RotatorDeps {
  gateway: ArmAppServiceGateway;
  /** The Key Vault adapter, also registered in `sources`. */
  keyVault: KeyVaultCertificateSource;
  sources: SourceRegistry;
  store: TableRotationStore;
  prober: HttpsProber;
  queue: RotationQueue;
  /** ARM attempts, 429s and pacing waits (live object: read it after a run). */
  pacingStats: PacingStats;
  pacer: ArmPacer | ArmRequestCounter;
  credential: TokenCredential;
  /** Canary rollouts' state, in the rotation table. */
  rollouts: TableRolloutStore;
  sourceIndex: TableSourceIndex;
}

export function createDependencies(config: Config, overrides: CompositionOverrides = {}): Dependencies {
  const clock = overrides.clock ?? systemClock;
  const credential =
    overrides.credential ?? createCredential({ kind: config.credential, clientId: config.clientId, staticToken: config.staticToken });
  const pacer = createArmPacing(config.armPacing, overrides.pacing);

  const gateway = new ArmAppServiceGateway({
    endpoint: config.armEndpoint,
    audience: config.armAudience,
    credential,
    tlsCa: overrides.tlsCa,
    perRetryPolicies: [pacer.policy()],
  });
  const keyVault = new KeyVaultCertificateSource({
    credential,
    challengeVerification: config.keyVaultChallengeVerification,
    allowedHosts: config.keyVaultAllowedHosts,
    tlsCa: overrides.tlsCa,
  });
  // One line per kind of certificate source. Key Vault stays first: a `-source` tag value without a `<kind>:` prefix is
  // read by the first kind that accepts it, so Key Vault URLs keep their meaning whatever is added after it.
  const sources = new SourceRegistry().register(keyVault);
  const storage = storageClients(config.storage, config.clientId);
  // The sandbox CA also covers its HTTPS Azurite, which identity-based storage needs (bearer tokens need HTTPS).
  const storageTls = config.storage.kind === 'identity' && overrides.tlsCa ? { tlsCa: overrides.tlsCa } : {};
  const store = new TableRotationStore({ ...storage.table, ...storageTls, tableName: config.rotationTable, clock });
  const queue = new RotationQueue({ ...storage.queue, ...storageTls, queueName: config.rotationQueue });
  const logger = overrides.logger ?? silentLogger;
  // MAX_PARALLEL_ROTATIONS is the fleet's bound: every instance takes its slots from the same table.
  // Slots, rollouts and the source index live in the rotation table, created on first use.
  const rotationTable = async () => {
    await store.ensureTable();
    return store.client();
  };
  const slots = new TableRotationSlots({
    table: rotationTable,
    size: config.maxParallelRotations,
    clock,
    onLost: (index, reason) => logger.warn(`rotation slot ${index} lost while rotating: ${reason}`),
  });
  const rollouts = new TableRolloutStore(rotationTable);
  // Key Vault events look apps up in the index the scan keeps in the same table.
  const sourceIndex = new TableSourceIndex({ table: rotationTable });
  const prober = new HttpsProber({
    timeoutMs: config.probeTimeoutSeconds * 1000,
    extraCaPems: overrides.tlsCa ? [overrides.tlsCa] : [],
    now: () => clock.now(),
    targets: new ProbeTargetGate(probeTargetPolicyOf(config), overrides.resolver ? { resolver: overrides.resolver } : {}),
  });

  const deps: Dependencies = {
    gateway,
    keyVault,
    sources,
    store,
    prober,
    telemetry: overrides.telemetry ?? noTelemetry,
    clock,
    logger,
    queue,
    slots,
    pacingStats: pacer.stats,
    pacer,
    credential,
    rollouts,
    sourceIndex,
  };
  // Only with AZURE_SUBSCRIPTION_IDS unset or '*': the subscriptions the identity can list (src/core/subscriptions.ts).
  if (config.subscriptionDiscovery) {
    deps.subscriptions = new ArmSubscriptionDirectory({ endpoint: config.armEndpoint, audience: config.armAudience, credential, tlsCa: overrides.tlsCa });
  }
  if (overrides.faultHook) deps.faultHook = overrides.faultHook;
  if (overrides.owner) deps.owner = overrides.owner;
  return deps;
}

/**
 * Storage as the Functions host reads AzureWebJobsStorage: a connection string, or identity-based where the account
 * refuses shared keys (the deployed template). The identity credential is built only in that case, and even then
 * @azure/identity loads on its first token request.
 */
function storageClients(
  storage: StorageSettings,
  fallbackClientId: string | undefined,
): { table: { connectionString?: string; tableServiceUri?: string; credential?: TokenCredential }; queue: { connectionString?: string; queueServiceUri?: string; credential?: TokenCredential } } {
  if (storage.kind === 'connectionString') {
    return { table: { connectionString: storage.connectionString }, queue: { connectionString: storage.connectionString } };
  }
  const clientId = storage.clientId ?? fallbackClientId;
  const setting = storage.clientId !== undefined && storage.clientId !== fallbackClientId ? 'AzureWebJobsStorage__clientId' : 'AzureWebJobsStorage__clientId or AZURE_CLIENT_ID';
  const credential: TokenCredential =
    storage.credential?.toLowerCase() === 'managedidentity' ? managedIdentityCredential(clientId, setting) : defaultAzureCredential(clientId);
  return {
    table: { tableServiceUri: storage.tableServiceUri, credential },
    queue: { queueServiceUri: storage.queueServiceUri, credential },
  };
}
