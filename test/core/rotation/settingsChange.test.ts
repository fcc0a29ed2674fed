// The one comparison of a recorded settings change with the settings as they are (src/core/rotation/settingsChange.ts):
// the switch writes the keys still holding their previous value, the rollback restores the keys still holding what
// the switch wrote, and neither touches a key someone else changed.
import { describe, expect, it } from 'vitest';
import { applyValues, compareSettings, type SettingsChange } from '../../../src/core/rotation/settingsChange.js';
import type { AppSettings } from '../../../src/core/ports.js';

const change: SettingsChange = {
  previous: { WEBSITE_LOAD_CERTIFICATES: 'OLD', CLIENT_CERT_THUMBPRINT: 'OLD', ADDED: null },
  written: { WEBSITE_LOAD_CERTIFICATES: 'NEW', CLIENT_CERT_THUMBPRINT: 'NEW', ADDED: 'NEW' },
};

describe('compareSettings', () => {
  it.each([
    ['nothing written yet: every key holds its previous value', { WEBSITE_LOAD_CERTIFICATES: 'OLD', CLIENT_CERT_THUMBPRINT: 'OLD' }, { holdingPrevious: ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT', 'ADDED'], holdingWritten: [], conflicts: [] }],
    ['the switch went through: every key holds what it wrote', { WEBSITE_LOAD_CERTIFICATES: 'NEW', CLIENT_CERT_THUMBPRINT: 'NEW', ADDED: 'NEW' }, { holdingPrevious: [], holdingWritten: ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT', 'ADDED'], conflicts: [] }],
    ['an operator changed one key since: only that key is a conflict', { WEBSITE_LOAD_CERTIFICATES: 'NEW', CLIENT_CERT_THUMBPRINT: 'MINE', ADDED: 'NEW' }, { holdingPrevious: [], holdingWritten: ['WEBSITE_LOAD_CERTIFICATES', 'ADDED'], conflicts: ['CLIENT_CERT_THUMBPRINT'] }],
    ['a key ARM returns as null reads as absent, like a key that never existed', { WEBSITE_LOAD_CERTIFICATES: 'OLD', CLIENT_CERT_THUMBPRINT: 'OLD', ADDED: null }, { holdingPrevious: ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT', 'ADDED'], holdingWritten: [], conflicts: [] }],
    ['a key deleted by someone since the switch is a conflict, not a restore', { WEBSITE_LOAD_CERTIFICATES: 'NEW', ADDED: 'NEW' }, { holdingPrevious: [], holdingWritten: ['WEBSITE_LOAD_CERTIFICATES', 'ADDED'], conflicts: ['CLIENT_CERT_THUMBPRINT'] }],
    ['an added key someone removed again holds its previous (absent) value', { WEBSITE_LOAD_CERTIFICATES: 'NEW', CLIENT_CERT_THUMBPRINT: 'NEW' }, { holdingPrevious: ['ADDED'], holdingWritten: ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT'], conflicts: [] }],
    ['keys the change does not own are never compared', { WEBSITE_LOAD_CERTIFICATES: 'OLD', CLIENT_CERT_THUMBPRINT: 'OLD', OTHER: 'changed' }, { holdingPrevious: ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT', 'ADDED'], holdingWritten: [], conflicts: [] }],
  ] as const)('%s', (_sentence, settings, expected) => {
    expect(compareSettings(settings as AppSettings, change)).toEqual(expected);
  });
});

describe('applyValues', () => {
  it.each([
    ['sets only the named keys and keeps every other value byte for byte', { A: 'old', B: '  spaced  ', C: null }, { A: 'new' }, ['A'], { A: 'new', B: '  spaced  ', C: null }],
    ['a null value removes the key (it did not exist before)', { A: 'x', B: 'y' }, { A: null }, ['A'], { B: 'y' }],
    ['a key not named is left alone even when a value is given', { A: 'x' }, { A: 'new', B: 'new' }, ['B'], { A: 'x', B: 'new' }],
  ] as const)('%s', (_sentence, settings, values, keys, expected) => {
    expect(applyValues(settings as AppSettings, values as Record<string, string | null>, keys)).toEqual(expected);
  });
});
