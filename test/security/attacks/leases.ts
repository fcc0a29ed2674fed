// Attacks on the per-app lease: an instance whose clock is two days off, ahead or behind, tries
// to take over a live rotation (a steal: two rotations of one app at once) or leaves a lease nobody can take for two
// days (a strand: the app is not rotated, nor rolled back after a crash). Two store instances with skewed clocks
// share one table in Azurite, through the real @azure/data-tables client; the lease's owner is read from Azurite
// directly. One attack runs two whole engines against the sandbox, one paused inside a rotation.
import { TableClient } from '@azure/data-tables';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { startAzurite, type Azurite } from '../../../sandbox/azurite.js';
import { encodeKey, TableRotationStore } from '../../../src/azure/tableRotationStore.js';
import { createDependencies } from '../../../src/composition.js';
import { appIdOf, createRotator, type Config } from '../../../src/core/index.js';
import type { Clock } from '../../../src/core/ports.js';
import { uniqueName } from '../../helpers/azurite.js';
import { appRef, independentApps, sandboxConfig, SUB, watch } from '../../integration/world.js';
import { defineAttacks, refused, type AttackOutcome } from '../harness.js';

const DAY = 24 * 3600 * 1000;

interface World {
  azurite: Azurite;
  sb: Sandbox;
  config: Config;
}

/** A clock `skewMs` off the machine's (and so Azurite's). */
function skewed(skewMs: number): Clock {
  return {
    now: () => new Date(Date.now() + skewMs),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

const APP_ID = '/subscriptions/00000000-0000-4000-8000-0000000000aa/resourcegroups/rg-lease/providers/microsoft.web/sites/leased-app';

/** Who holds the lease, as Azurite has it (not as either instance believes). */
async function ownerInStorage(azurite: Azurite, tableName: string, appId: string): Promise<string | undefined> {
  const table = TableClient.fromConnectionString(azurite.connectionString, tableName, { allowInsecureConnection: true });
  try {
    return (await table.getEntity<{ Owner: string }>('lease', encodeKey(appId))).Owner;
  } catch {
    return undefined;
  }
}

/** Two Function App instances over one table: the holder's and the challenger's clocks are skewed as given. */
function instances(world: World, holderSkew: number, challengerSkew: number) {
  const tableName = uniqueName('leaseatk');
  const open = (skew: number) => new TableRotationStore({ connectionString: world.azurite.connectionString, tableName, clock: skewed(skew) });
  return { holder: open(holderSkew), challenger: open(challengerSkew), tableName };
}

/** The holder takes a 15-minute lease (a live rotation); the challenger tries to take it. */
async function stealLive(world: World, holderSkew: number, challengerSkew: number): Promise<AttackOutcome> {
  const { holder, challenger, tableName } = instances(world, holderSkew, challengerSkew);
  if (!(await holder.acquireLease(APP_ID, 'holder', 900_000))) throw new Error('the holder could not take a free lease: the attack proves nothing');
  const got = await challenger.acquireLease(APP_ID, 'challenger', 900_000);
  const owner = await ownerInStorage(world.azurite, tableName, APP_ID);
  return owner === 'holder' && got === undefined
    ? refused(`the lease stayed with the holder (holder ${holderSkew / DAY} d, challenger ${challengerSkew / DAY} d)`)
    : { succeeded: true, writes: 0, tokensOffVault: 0, evidence: `the lease now belongs to ${owner}` };
}

/** The holder's short lease runs out (a crashed instance); the challenger must get it at once, not days later. */
async function strandExpired(world: World, holderSkew: number, challengerSkew: number): Promise<AttackOutcome> {
  const { holder, challenger, tableName } = instances(world, holderSkew, challengerSkew);
  if (!(await holder.acquireLease(APP_ID, 'crashed', 1_000))) throw new Error('the holder could not take a free lease: the attack proves nothing');
  // Real time on the service (its Date header counts whole seconds).
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const got = await challenger.acquireLease(APP_ID, 'next', 900_000);
  const owner = await ownerInStorage(world.azurite, tableName, APP_ID);
  return owner === 'next' && got !== undefined
    ? refused(`the expired lease went to the next instance (holder ${holderSkew / DAY} d, challenger ${challengerSkew / DAY} d)`)
    : { succeeded: true, writes: 0, tokensOffVault: 0, evidence: `an expired lease is still held by ${owner}: the app is stranded` };
}

export default defineAttacks<World>({
  name: 'leases: an instance whose clock is two days off steals or strands a rotation',
  async setup() {
    const azurite = await startAzurite();
    const sb = await startSandbox(independentApps([{ name: 'lease-app' }]));
    const config = sandboxConfig(sb, azurite.connectionString, SUB, { ROTATION_TABLE: uniqueName('leaseeng') });
    return { azurite, sb, config };
  },
  async teardown(world) {
    await world.sb.stop();
    await world.azurite.stop();
  },
  attacks: [
    { name: 'an instance two days ahead takes over a live lease', attempt: (w) => stealLive(w, 0, 2 * DAY) },
    { name: 'an instance two days behind takes over a live lease', attempt: (w) => stealLive(w, 0, -2 * DAY) },
    { name: 'a correct instance takes over the live lease of an instance two days behind (its expiry reads as two days ago)', attempt: (w) => stealLive(w, -2 * DAY, 0) },
    { name: 'an instance two days behind takes over the live lease of one two days ahead', attempt: (w) => stealLive(w, 2 * DAY, -2 * DAY) },
    { name: 'a crashed instance two days ahead strands its app for two days', attempt: (w) => strandExpired(w, 2 * DAY, 0) },
    { name: 'an instance two days behind is stranded by an expired lease for two days', attempt: (w) => strandExpired(w, 0, -2 * DAY) },
    {
      name: 'an engine two days ahead rotates an app while another engine is inside its rotation',
      async attempt(world) {
        const { sb, config } = world;
        let paused!: () => void;
        const reachedLease = new Promise<void>((resolve) => (paused = resolve));
        let resume!: () => void;
        const resumed = new Promise<void>((resolve) => (resume = resolve));
        const first = createRotator(
          createDependencies(config, {
            tlsCa: sb.caPem,
            owner: 'engine-on-time',
            faultHook: async (boundary) => {
              if (boundary !== 'afterLease') return;
              paused();
              await resumed;
            },
          }),
          config,
        );
        const running = first.rotateApp('lease-app', { trigger: 'timer' });
        await reachedLease;
        const w = watch(sb);
        const ahead = createRotator(createDependencies(config, { tlsCa: sb.caPem, owner: 'engine-two-days-ahead', clock: skewed(2 * DAY) }), config);
        const result = await ahead.rotateApp('lease-app', { trigger: 'timer' });
        const writes = w.changes().length;
        const owner = await ownerInStorage(world.azurite, config.rotationTable, appIdOf(appRef('lease-app')));
        resume();
        const firstResult = await running;
        if (firstResult.outcome !== 'committed') throw new Error(`the engine on time did not finish its rotation (${firstResult.outcome}: ${firstResult.reason}): the attack proves nothing`);
        return {
          succeeded: owner !== 'engine-on-time' || result.outcome !== 'skipped',
          writes,
          tokensOffVault: 0,
          evidence: `the engine ahead: ${result.outcome} ${result.reason ?? ''}; lease owner while the other rotated: ${owner}`,
        };
      },
    },
  ],
});
