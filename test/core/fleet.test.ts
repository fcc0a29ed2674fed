// The rotator takes one of the fleet's slots (RotationSlots) around every rotation that may write, so
// MAX_PARALLEL_ROTATIONS bounds the whole fleet and not one run. The slots here are an in-memory port; the Table
// implementation and its cross-process bound are tested in test/azure/tableRotationSlots.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { FleetBusyError } from '../../src/core/fleet.js';
import type { RotationSlot, RotationSlots } from '../../src/core/ports.js';
import { CertificatePool, DOWNSTREAM, HEALTH, standardWorld, SUB } from '../helpers/memory-ports.js';

const pool = new CertificatePool();
beforeAll(() => {
  pool.get('old');
  pool.get('new');
});

/** `size` slots in memory; a taker waits (polling) until one frees. Counts what it handed out. */
class MemorySlots implements RotationSlots {
  held = 0;
  peak = 0;
  taken = 0;
  constructor(private readonly size: number) {}
  async acquire(_owner: string, waitMs: number): Promise<RotationSlot | undefined> {
    const deadline = Date.now() + waitMs;
    while (this.held >= this.size) {
      if (this.size === 0 || Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.held += 1;
    this.taken += 1;
    this.peak = Math.max(this.peak, this.held);
    let released = false;
    return {
      index: this.taken,
      release: async () => {
        if (!released) this.held -= 1;
        released = true;
      },
    };
  }
}

function fourDueApps(slots: MemorySlots) {
  const s = standardWorld(pool, { config: { MAX_PARALLEL_ROTATIONS: '4' }, deps: { slots } });
  for (const name of ['b', 'c', 'd']) {
    s.world.appService.addSite({
      subscriptionId: SUB,
      name,
      tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-health': HEALTH, 'mtls-rotation-probe': DOWNSTREAM },
      settings: { WEBSITE_LOAD_CERTIFICATES: s.old.thumbprint },
    });
  }
  return s;
}

describe('the fleet bound in the rotator', () => {
  it('rotateDue with four due apps and one fleet slot rotates them one at a time, all committed', async () => {
    const slots = new MemorySlots(1);
    const s = fourDueApps(slots);
    // Rotations in flight, seen from the store: an app is leased from before its first write until its rotation ends.
    let leased = 0;
    let peak = 0;
    const acquire = s.world.store.acquireLease.bind(s.world.store);
    const release = s.world.store.releaseLease.bind(s.world.store);
    s.world.store.acquireLease = async (...args) => {
      const lease = await acquire(...args);
      if (lease) peak = Math.max(peak, ++leased);
      return lease;
    };
    s.world.store.releaseLease = async (lease) => {
      leased -= 1;
      return release(lease);
    };
    const report = await s.world.rotator.rotateDue({ trigger: 'timer' });
    expect(report.results.map((r) => r.outcome)).toEqual(['committed', 'committed', 'committed', 'committed']);
    expect(slots.taken).toBe(4);
    expect(peak).toBe(1);
    expect(slots.held).toBe(0);
  });

  it('rotateDue reports FleetBusy for apps that got no slot, changes none of them and goes on', async () => {
    const slots = new MemorySlots(0);
    const s = fourDueApps(slots);
    const report = await s.world.rotator.rotateDue({ trigger: 'timer' });
    expect(report.results.map((r) => [r.outcome, r.reason])).toEqual(Array(4).fill(['skipped', 'FleetBusy']));
    expect(s.world.appService.writes()).toEqual([]);
  });

  it('rotateApp (the queue path) throws a retryable FleetBusyError when no slot frees, having written nothing', async () => {
    const slots = new MemorySlots(0);
    const s = fourDueApps(slots);
    const failure = await s.world.rotator.rotateApp('b', { trigger: 'queue' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FleetBusyError);
    expect((failure as FleetBusyError).retryable).toBe(true);
    expect(s.world.appService.writes()).toEqual([]);
  });

  it('a dry run takes no slot', async () => {
    const slots = new MemorySlots(1);
    const s = fourDueApps(slots);
    const result = await s.world.rotator.rotateApp('b', { trigger: 'http', dryRun: true });
    expect(result.reason).toBe('DryRun');
    expect(slots.taken).toBe(0);
  });
});
