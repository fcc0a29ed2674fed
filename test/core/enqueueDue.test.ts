import { describe, expect, it } from 'vitest';
import type { AppPlan, Plan } from '../../src/core/decision/plan.js';
import { enqueueDueApps, type RotationRequest } from '../../src/core/enqueueDue.js';

function app(name: string, action: AppPlan['action'], reasons: AppPlan['due'][number]['reason'][] = []): AppPlan {
  return {
    appId: `/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/${name}`,
    name,
    ref: { subscriptionId: 's', resourceGroup: 'rg', site: name },
    mode: 'explicit',
    action,
    due: reasons.map((reason) => ({ key: reason, reason, message: reason, candidate: {} as AppPlan['due'][number]['candidate'], sourceUrl: 'https://kv.vault.azure.net/certificates/c' })),
    bindings: [],
    problems: [],
  };
}

const planOf = (...apps: AppPlan[]): Plan => ({ generatedAt: '2026-01-01T00:00:00.000Z', apps, dueApps: 0, dueBindings: 0 });

describe('enqueueDueApps', () => {
  it.each([
    ['an up-to-date fleet sends nothing', planOf(app('a', 'none'), app('b', 'alert')), [], ['a', 'b']],
    ['each due app is one request naming its reasons, in plan order', planOf(app('a', 'rotate', ['NearingExpiry']), app('b', 'none'), app('c', 'rotate', ['DanglingThumbprint', 'Expired'])),
      [['a', 'NearingExpiry'], ['c', 'DanglingThumbprint,Expired']], ['b']],
  ])('%s', async (_sentence, plan, expectedSent, expectedNotDue) => {
    const sent: RotationRequest[] = [];
    const result = await enqueueDueApps({ send: async (r) => void sent.push(r) }, plan, { requestedBy: 'timer', requestId: 'inv-1' });
    expect(sent.map((r) => [r.appId.split('/').pop(), r.reason])).toEqual(expectedSent);
    expect(sent.every((r) => r.requestedBy === 'timer' && r.requestId === 'inv-1')).toBe(true);
    expect(result.queued.map((a) => a.name)).toEqual(expectedSent.map(([name]) => name));
    expect(result.notDue.map((a) => a.name)).toEqual(expectedNotDue);
  });

  it('carries the API caller to every request, and stops at the first send that fails', async () => {
    const sent: RotationRequest[] = [];
    const caller = { via: 'clientCertificate' as const, thumbprint: 'A'.repeat(40) };
    const queue = { send: async (r: RotationRequest) => {
      if (sent.length === 1) throw new Error('queue unavailable');
      sent.push(r);
    } };
    await expect(enqueueDueApps(queue, planOf(app('a', 'rotate', ['Expired']), app('b', 'rotate', ['Expired']), app('c', 'rotate', ['Expired'])), { requestedBy: 'http', requestId: 'r', caller })).rejects.toThrow('queue unavailable');
    expect(sent).toEqual([expect.objectContaining({ appId: expect.stringContaining('/sites/a'), caller })]);
  });
});
