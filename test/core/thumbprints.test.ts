import { describe, expect, it } from 'vitest';
import {
  normaliseThumbprint,
  parseLoadCertificates,
  replaceThumbprint,
  replaceThumbprintInValue,
} from '../../src/core/thumbprints.js';

const A = 'A'.repeat(40);
const B = 'B'.repeat(39) + '1';
const C = '0123456789ABCDEF0123456789ABCDEF01234567';

describe('normaliseThumbprint', () => {
  it.each([
    ['an App Service thumbprint stays as it is', A, A],
    ['lowercase is uppercased', C.toLowerCase(), C],
    ['spaces around are trimmed', `  ${C}\t`, C],
    ['39 characters are refused', C.slice(1), undefined],
    ['41 characters are refused', `${C}0`, undefined],
    ['a non-hex character is refused', `${C.slice(1)}G`, undefined],
    ['inner spaces (as the portal shows) are refused', C.replace(/(.{8})/g, '$1 ').trim(), undefined],
  ])('%s', (_sentence, input, expected) => {
    expect(normaliseThumbprint(input)).toBe(expected);
  });
});

describe('parseLoadCertificates', () => {
  it.each([
    ['an unset setting loads nothing', undefined, { mode: 'explicit', thumbprints: [], invalid: [] }],
    ['an empty setting loads nothing', '', { mode: 'explicit', thumbprints: [], invalid: [] }],
    ['one thumbprint', A, { mode: 'explicit', thumbprints: [A], invalid: [] }],
    ['a list with spaces and lowercase keeps the order', ` ${C.toLowerCase()} , ${A}`, { mode: 'explicit', thumbprints: [C, A], invalid: [] }],
    ['duplicates in different case count once', `${A},${A.toLowerCase()}, ${A} `, { mode: 'explicit', thumbprints: [A], invalid: [] }],
    ['empty entries are ignored', `,${A},,${B},`, { mode: 'explicit', thumbprints: [A, B], invalid: [] }],
    ['malformed entries are reported, the others kept', `${A},not-a-thumbprint, ${C.slice(2)}`,
      { mode: 'explicit', thumbprints: [A], invalid: ['not-a-thumbprint', C.slice(2)] }],
    ['a star loads everything', '*', { mode: 'wildcard' }],
    ['a padded star loads everything', ' * ', { mode: 'wildcard' }],
    ['a star among thumbprints loads everything', `${A},*`, { mode: 'wildcard' }],
  ])('%s', (_sentence, input, expected) => {
    expect(parseLoadCertificates(input)).toEqual(expected);
  });
});

describe('replaceThumbprint', () => {
  it.each([
    ['the only entry is replaced', A, A, B, B, true],
    ['order and the other entries keep their spelling', `${C.toLowerCase()}, ${A} ,x`, A, B, `${C.toLowerCase()}, ${B} ,x`, true],
    ['a lowercase old entry is matched and written back uppercase', A.toLowerCase(), A, C, C, true],
    ['a duplicated old entry becomes one new entry', `${A},${B},${A}`, A, C, `${C},${B}`, true],
    ['when the new one is already listed, the old one is dropped', `${A},${B}`, A, B, B, true],
    ['a list without the old thumbprint is unchanged', `${B},${C}`, A, C, `${B},${C}`, false],
  ])('%s', (_sentence, value, oldT, newT, expected, changed) => {
    expect(replaceThumbprint(value, oldT, newT)).toEqual({ value: expected, changed });
  });

  it('refuses to write something that is not a thumbprint', () => {
    expect(() => replaceThumbprint(A, A, 'nope')).toThrow(/Not a thumbprint/);
  });
});

describe('replaceThumbprintInValue', () => {
  it.each([
    ['a setting holding the thumbprint', A.toLowerCase(), A, B, B, true],
    ['a file path keeps its case', `/var/ssl/private/${A.toLowerCase()}.p12`, A, C, `/var/ssl/private/${C.toLowerCase()}.p12`, true],
    ['a longer hex run is not a thumbprint', `x${A}A`, A, B, `x${A}A`, false],
    ['a Key Vault reference is left alone', '@Microsoft.KeyVault(SecretUri=https://kv/secrets/x)', A, B,
      '@Microsoft.KeyVault(SecretUri=https://kv/secrets/x)', false],
  ])('%s', (_sentence, value, oldT, newT, expected, changed) => {
    expect(replaceThumbprintInValue(value, oldT, newT)).toEqual({ value: expected, changed });
  });
});
