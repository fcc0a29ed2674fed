// The bounds on PKCS#12 key derivation: a hostile PFX is refused by its iteration counts before the KDF
// runs, on the native reader and on the forge reader (RC2-40), while what real producers write still opens.
import { describe, expect, it } from 'vitest';
import { CertificateFormatError, readPfx, writePfx } from '../../src/crypto/index.js';
import { pfxReadPaths } from '../../src/crypto/pfxNative.js';
import forge from 'node-forge';
import { IterationBudget, MAX_ITERATIONS, NATIVE_ITERATION_BUDGET, TooManyIterations, withForgeBudget } from '../../src/crypto/pkcs12Bounds.js';
import { ordinaryClient, pfxWithMacIterations, rc2PfxWithIterations, tripleDesPfxAllAt, tripleDesPfxWithKeyIterations } from '../security/hostile.js';

const material = ordinaryClient('bounds client');

function outcomeOf(pfx: Buffer): { code: string; path: 'native' | 'forge' | 'none'; message: string } {
  const before = { ...pfxReadPaths };
  try {
    readPfx(pfx, '');
    const path = pfxReadPaths.forge > before.forge ? 'forge' : 'native';
    return { code: 'opened', path, message: '' };
  } catch (error) {
    if (!(error instanceof CertificateFormatError)) throw error;
    return { code: error.code, path: 'none', message: error.message };
  }
}

describe('what real producers write opens', () => {
  it.each<[string, () => Buffer, 'native' | 'forge']>([
    ["Key Vault's and Windows' form: 3DES, 2048 iterations", () => writePfx(material, ''), 'native'],
    ["Java keytool's count: 10,000 iterations for every encryption and the MAC", () => writePfx(material, '', { iterations: 10_000 }), 'native'],
    ['AES-256 (PBES2, OpenSSL 3) at 10,000 iterations', () => writePfx(material, '', { algorithm: 'aes256', iterations: 10_000 }), 'native'],
    ["OpenSSL -legacy: RC2-40 certificate bags at 2048 iterations, read by forge under the guard", () => rc2PfxWithIterations(material, 2048), 'forge'],
  ])('%s', (_sentence, build, path) => {
    expect(outcomeOf(build())).toMatchObject({ code: 'opened', path });
  });
});

describe('a PFX asking for too much key derivation is refused before deriving', () => {
  it.each<[string, () => Buffer, RegExp]>([
    ['RC2-40 (forge path) at 2,000,000 iterations', () => rc2PfxWithIterations(material, 2_000_000), /\(2000000 iterations; at most 100000 per derivation\)/],
    ['RC2-40 (forge path) at 2^31 - 1 iterations', () => rc2PfxWithIterations(material, 2 ** 31 - 1), /\(2147483647 iterations/],
    ['RC2-40 (forge path) just over the per-derivation bound', () => rc2PfxWithIterations(material, MAX_ITERATIONS + 1), /\(100001 iterations/],
    ['a 3DES key bag at 10,000,000 iterations', () => tripleDesPfxWithKeyIterations(material, 10_000_000), /\(10000000 iterations/],
    ['a 3DES key bag just over the per-derivation bound', () => tripleDesPfxWithKeyIterations(material, MAX_ITERATIONS + 1), /\(100001 iterations/],
    ['a MAC at 2^31 - 1 iterations', () => pfxWithMacIterations(material, 2 ** 31 - 1), /\(2147483647 iterations/],
    ['every encryption at 90,000 (each under the bound, their sum over the budget)', () => tripleDesPfxAllAt(material, 90_000), /\(\d{6} iterations; at most 100000 per derivation\)/],
  ])('%s', (_sentence, build, message) => {
    const outcome = outcomeOf(build());
    expect(outcome.code).toBe('TooManyIterations');
    expect(outcome.message).toMatch(message);
  });
});

describe('IterationBudget', () => {
  it.each<[string, Array<[number, number]>, boolean]>([
    ['charges within the budget pass', [[2048, 2], [2048, 2], [2048, 1]], true],
    ['one count over the per-derivation bound fails at once', [[MAX_ITERATIONS + 1, 1]], false],
    ['counts under the bound whose runs add up over the budget fail', [[MAX_ITERATIONS, 2], [MAX_ITERATIONS, 2]], false],
  ])('%s', (_sentence, charges, passes) => {
    const budget = new IterationBudget(NATIVE_ITERATION_BUDGET);
    const run = () => charges.forEach(([count, runs]) => budget.charge(count, runs));
    if (passes) expect(run).not.toThrow();
    else expect(run).toThrow(TooManyIterations);
  });

  // What a PFX hides inside an encrypted SafeContents (a shrouded key bag in an RC2-40 safe) is only seen by forge
  // once it decrypts: its three KDF entry points charge the budget before they derive.
  it.each<[string, () => unknown]>([
    ['the PKCS#12 KDF of a PBE', () => (forge.pki as unknown as { pbe: { generatePkcs12Key(...a: unknown[]): unknown } }).pbe.generatePkcs12Key('', forge.util.createBuffer('salt'), 1, 5000, 8)],
    ['the PKCS#12 KDF of the MAC', () => (forge.pkcs12 as unknown as { generateKey(...a: unknown[]): unknown }).generateKey('', forge.util.createBuffer('salt'), 3, 5000, 20)],
    ['PBKDF2 of a PBES2', () => forge.pkcs5.pbkdf2('', 'salt', 5000, 32)],
  ])('inside a guarded forge read, %s is charged before it runs', (_sentence, derive) => {
    expect(() => withForgeBudget(new IterationBudget(4000), derive)).toThrow(TooManyIterations);
    // Outside a read (writing PFX files, the sandbox) forge is not bounded.
    expect(derive).not.toThrow();
  });
});
