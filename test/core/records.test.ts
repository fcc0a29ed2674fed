// The record predicates every store and use case share (src/core/records.ts).
import { describe, expect, it } from 'vitest';
import { isInFlight, isInVerificationWindow, isOpenRecord, isRetirementDue, isRetirementPending, refusedUpdate, type RotationRecord } from '../../src/core/records.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const base: RotationRecord = {
  id: 'r1',
  app: { subscriptionId: 's', resourceGroup: 'rg', site: 'a' },
  appId: 'a',
  mode: 'explicit',
  trigger: 'timer',
  bindings: [],
  step: 'leased',
  steps: [],
  attempts: 1,
  probes: [],
  startedAt: '2029-12-31T00:00:00.000Z',
  updatedAt: '2029-12-31T00:00:00.000Z',
};
const later = '2030-01-01T01:00:00.000Z';
const earlier = '2029-12-31T23:00:00.000Z';

describe('record predicates', () => {
  it.each([
    ['a record without an outcome is in flight and open', {}, { inFlight: true, window: false, pending: false, due: false, open: true }],
    ['a committed record inside its window is open for re-verification', { outcome: 'committed', verifyUntil: later }, { inFlight: false, window: true, pending: false, due: false, open: true }],
    ['a committed record past its window is closed', { outcome: 'committed', verifyUntil: earlier }, { inFlight: false, window: false, pending: false, due: false, open: false }],
    ['a record waiting for its grace period is open but not yet due', { outcome: 'committed', verifyUntil: earlier, retireAfter: later }, { inFlight: false, window: false, pending: true, due: false, open: true }],
    ['a record past its grace period is due for retirement', { outcome: 'rolledBack', retireAfter: earlier }, { inFlight: false, window: false, pending: true, due: true, open: true }],
    ['a retired record is closed', { outcome: 'committed', retireAfter: earlier, retiredAt: earlier }, { inFlight: false, window: false, pending: false, due: false, open: false }],
    ['a rolled-back record has no verification window', { outcome: 'rolledBack', verifyUntil: later }, { inFlight: false, window: false, pending: false, due: false, open: false }],
  ] as const)('%s', (_sentence, fields, expected) => {
    const record = { ...base, ...fields } as RotationRecord;
    expect({
      inFlight: isInFlight(record),
      window: isInVerificationWindow(record, NOW),
      pending: isRetirementPending(record),
      due: isRetirementDue(record, NOW),
      open: isOpenRecord(record, NOW),
    }).toEqual(expected);
  });

  it.each([
    ['an open record may change anything but its id and app', {}, { step: 'staged' }, undefined],
    ['an open record may not change its app', {}, { appId: 'b' }, /id and appId never change/],
    ['a finished record may be marked retired', { outcome: 'committed' }, { retiredAt: later, updatedAt: later }, undefined],
    ['a finished record may not change its outcome', { outcome: 'committed' }, { outcome: 'rolledBack' }, /audit log: only retiredAt may change, not outcome/],
    ['a finished record may not gain probes', { outcome: 'aborted' }, { probes: [{ kind: 'direct', target: 'x', ok: true, transient: false, detail: '', at: later, durationMs: 1 }] }, /not probes/],
  ] as const)('%s', (_sentence, stored, change, refusal) => {
    const before = { ...base, ...stored } as RotationRecord;
    const verdict = refusedUpdate(before, { ...before, ...change } as RotationRecord);
    if (refusal === undefined) expect(verdict).toBeUndefined();
    else expect(verdict).toMatch(refusal);
  });
});
