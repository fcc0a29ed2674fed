import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  issueCertificate,
  readPfx,
  writePfx,
  type CertificateFormatErrorCode,
  type IssuedCertificate,
} from '../../src/crypto/index.js';
import { MAX_ITERATIONS, pfxReadPaths, readPfxNative } from '../../src/crypto/pfxNative.js';
import { codeOf } from '../helpers/certificateErrors.js';

const PASSWORD = 'S3cret-Pfx-Passw0rd';
const RECORDED_PKCS12 = '/work/shared/azure-examples/recordings/kv-certificates_get-secret-pkcs12.excerpt.json';

let ca: IssuedCertificate;
let leaf: IssuedCertificate;
let workDir: string;

beforeAll(() => {
  ca = createCertificateAuthority({ commonName: 'Native PFX CA' });
  leaf = issueCertificate(ca, { commonName: 'native-pfx-leaf', usage: 'client' });
  workDir = mkdtempSync(join(tmpdir(), 'pfx-native-'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

// The OpenSSL command line is an independent writer; where it (or its legacy provider, for RC2) is missing,
// the cases that need it are skipped rather than faked.
const opensslVersion = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const hasOpenssl = opensslVersion.status === 0 && /OpenSSL 3/.test(opensslVersion.stdout);
const hasLegacyProvider =
  hasOpenssl && /status: active/.test(spawnSync('openssl', ['list', '-providers', '-provider', 'legacy'], { encoding: 'utf8' }).stdout ?? '');

function opensslPfx(extraArgs: string[]): Buffer {
  writeFileSync(join(workDir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
  writeFileSync(join(workDir, 'cert.pem'), leaf.certPem);
  writeFileSync(join(workDir, 'ca.pem'), ca.certPem);
  const out = join(workDir, 'out.pfx');
  const run = spawnSync(
    'openssl',
    ['pkcs12', '-export', '-inkey', 'key.pem', '-in', 'cert.pem', '-certfile', 'ca.pem', '-passout', `pass:${PASSWORD}`, '-out', out, ...extraArgs],
    { cwd: workDir, encoding: 'utf8', timeout: 30_000 },
  );
  if (run.status !== 0) throw new Error(`openssl pkcs12 -export failed: ${run.stderr}`);
  return readFileSync(out);
}

/** forge's own PKCS#12 writer: the key bag encrypted with `algorithm`, the certificate bags in the clear. */
function forgePfx(password: string | null, options: { algorithm?: string; useMac?: boolean }): Buffer {
  const p12 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(leaf.keyPem),
    [forge.pki.certificateFromPem(leaf.certPem), forge.pki.certificateFromPem(ca.certPem)],
    password as string,
    options as never,
  );
  return Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
}

function recordedKeyVaultPfx(): Buffer {
  const recording = JSON.parse(readFileSync(RECORDED_PKCS12, 'utf8')) as { Entries: Array<{ ResponseBody: unknown }> };
  for (const entry of recording.Entries) {
    const body = entry.ResponseBody as { value?: unknown; contentType?: unknown } | null;
    if (body && typeof body.value === 'string' && body.contentType === 'application/x-pkcs12') return Buffer.from(body.value, 'base64');
  }
  throw new Error('the recording has no PKCS#12 secret');
}

/** Rewrites one part of a PFX's outer ASN.1 (its MAC), keeping everything else byte for byte. */
function withMacData(pfx: Buffer, edit: (macData: forge.asn1.Asn1) => void): Buffer {
  const parsed = forge.asn1.fromDer(pfx.toString('binary'));
  edit((parsed.value as forge.asn1.Asn1[])[2]!);
  return Buffer.from(forge.asn1.toDer(parsed).getBytes(), 'binary');
}

function readCounting(pfx: Buffer, password: string): { thumbprint: string; keyPem: string; chainLength: number; path: 'native' | 'forge' } {
  const before = { ...pfxReadPaths };
  const bundle = readPfx(pfx, password);
  const native = pfxReadPaths.native - before.native;
  const viaForge = pfxReadPaths.forge - before.forge;
  expect(native + viaForge).toBe(1);
  return { thumbprint: bundle.thumbprint, keyPem: bundle.keyPem, chainLength: bundle.chainPems.length, path: native === 1 ? 'native' : 'forge' };
}

describe('which reader opens a PFX', () => {
  it.each<[string, 'native' | 'forge', () => Buffer, string]>([
    ['our default PFX (PBE-SHA1-3DES, SHA-1 MAC)', 'native', () => writePfx({ ...leaf, chainPems: [ca.certPem] }, PASSWORD), PASSWORD],
    ['our 3DES PFX with the empty password', 'native', () => writePfx({ ...leaf, chainPems: [ca.certPem] }, ''), ''],
    ['our AES-256 PFX (PBES2 HMAC-SHA256, SHA-256 MAC)', 'native', () => writePfx({ ...leaf, chainPems: [ca.certPem] }, PASSWORD, { algorithm: 'aes256' }), PASSWORD],
    ['our AES-256 PFX with the empty password', 'native', () => writePfx({ ...leaf, chainPems: [ca.certPem] }, '', { algorithm: 'aes256' }), ''],
    ['forge\'s writer with a 3DES key bag', 'native', () => forgePfx(PASSWORD, { algorithm: '3des' }), PASSWORD],
    ['forge\'s writer with its default PBES2 AES-128 (implicit SHA-1 PRF)', 'native', () => forgePfx(PASSWORD, {}), PASSWORD],
    ['forge\'s writer with the absent password, no MAC and no encryption', 'native', () => forgePfx(null, { useMac: false }), ''],
    ['forge\'s writer with PBES2 single DES (not in node\'s OpenSSL 3)', 'forge', () => forgePfx(PASSWORD, { algorithm: 'des' }), PASSWORD],
  ])('%s -> %s', (_name, path, make, password) => {
    const read = readCounting(make(), password);
    expect(read.path).toBe(path);
    expect(read.thumbprint).toBe(leaf.thumbprint);
    expect(read.chainLength).toBe(1);
    expect(createPrivateKey(read.keyPem).equals(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it('the recorded Key Vault PFX (3DES bags, 2000 iterations, SHA-1 MAC over a 20-byte salt) opens natively', () => {
    const read = readCounting(recordedKeyVaultPfx(), '');
    expect(read.path).toBe('native');
    expect(read.thumbprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it.skipIf(!hasOpenssl)('OpenSSL 3\'s default PFX (PBES2 AES-256-CBC, SHA-256 MAC) opens natively', () => {
    const read = readCounting(opensslPfx([]), PASSWORD);
    expect(read).toMatchObject({ path: 'native', thumbprint: leaf.thumbprint, chainLength: 1 });
  });

  it.skipIf(!hasLegacyProvider)('OpenSSL\'s -legacy PFX (RC2-40 certificate bags) still opens, through forge', () => {
    const read = readCounting(opensslPfx(['-legacy']), PASSWORD);
    expect(read).toMatchObject({ path: 'forge', thumbprint: leaf.thumbprint, chainLength: 1 });
  });

  it('readPfxNative names why it leaves a PFX to forge', () => {
    const parsed = forge.asn1.fromDer(forgePfx(PASSWORD, { algorithm: 'des' }).toString('binary'));
    expect(readPfxNative(parsed, [PASSWORD])).toEqual({ kind: 'fallback', reason: 'PBES2 cipher' });
  });
});

describe('OpenSSL (tls.createSecureContext) loads what writePfx writes', () => {
  it.each([
    ['3DES', '3des' as const, PASSWORD],
    ['AES-256', 'aes256' as const, PASSWORD],
    ['AES-256 with the empty password', 'aes256' as const, ''],
  ])('%s', (_name, algorithm, password) => {
    const pfx = writePfx({ ...leaf, chainPems: [ca.certPem] }, password, { algorithm });
    expect(() => tls.createSecureContext({ pfx, passphrase: password })).not.toThrow();
    expect(() => tls.createSecureContext({ pfx, passphrase: 'wrong' })).toThrow();
  });

  it('the AES-256 PFX encrypts both the key and the certificates with PBES2/HMAC-SHA256/AES-256 and MACs with SHA-256', () => {
    const der = writePfx(leaf, PASSWORD, { algorithm: 'aes256' }).toString('binary');
    const occurrences = (oid: string) => der.split(forge.asn1.oidToDer(oid).getBytes()).length - 1;
    expect(occurrences('1.2.840.113549.1.5.13')).toBe(2); // PBES2
    expect(occurrences('1.2.840.113549.2.9')).toBe(2); // hmacWithSHA256
    expect(occurrences('2.16.840.1.101.3.4.1.42')).toBe(2); // aes256-CBC
    expect(occurrences('2.16.840.1.101.3.4.2.1')).toBe(1); // SHA-256 MAC
    expect(occurrences('1.2.840.113549.1.7.6')).toBe(1); // encryptedData
  });
});

describe('errors keep their codes on the native path', () => {
  const tamperMac = (pfx: Buffer) =>
    withMacData(pfx, (macData) => {
      const digest = ((macData.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])[1]!;
      const bytes = digest.value as string;
      digest.value = bytes.slice(0, -1) + String.fromCharCode(bytes.charCodeAt(bytes.length - 1) ^ 1);
    });
  const iterations = (count: string) => (pfx: Buffer) =>
    withMacData(pfx, (macData) => {
      (macData.value as forge.asn1.Asn1[])[2]!.value = count;
    });

  it.each<[string, CertificateFormatErrorCode, 'yes' | 'no', () => Buffer, string]>([
    ['a wrong password', 'WrongPassword', 'no', () => writePfx(leaf, PASSWORD), 'not-the-password'],
    ['the empty password for a protected PFX', 'WrongPassword', 'no', () => writePfx(leaf, PASSWORD, { algorithm: 'aes256' }), ''],
    ['a tampered MAC', 'WrongPassword', 'no', () => tamperMac(writePfx(leaf, PASSWORD)), PASSWORD],
    ['a truncated PFX', 'Corrupt', 'no', () => writePfx(leaf, PASSWORD).subarray(0, 300), PASSWORD],
    ['a MAC iteration count above the bound', 'TooManyIterations', 'no', () => iterations(forge.asn1.integerToDer(MAX_ITERATIONS + 1).getBytes())(writePfx(leaf, PASSWORD)), PASSWORD],
    ['a MAC iteration count wider than 48 bits', 'TooManyIterations', 'no', () => iterations('\x01\x00\x00\x00\x00\x00\x00')(writePfx(leaf, PASSWORD)), PASSWORD],
    ['a wrong password for a PFX without a MAC (only decryption can tell)', 'WrongPassword', 'yes', () => forgePfx(PASSWORD, { algorithm: '3des', useMac: false }), 'not-the-password'],
  ])('%s -> %s (forge consulted: %s)', (_name, code, forgeConsulted, make, password) => {
    const pfx = make();
    const before = { ...pfxReadPaths };
    expect(codeOf(() => readPfx(pfx, password))).toBe(code);
    const delta = { native: pfxReadPaths.native - before.native, forge: pfxReadPaths.forge - before.forge };
    expect(delta).toEqual({ native: 0, forge: forgeConsulted === 'yes' ? 1 : 0 });
  });

  it('the bound names the iteration count, not the password', () => {
    const pfx = iterations(forge.asn1.integerToDer(MAX_ITERATIONS + 1).getBytes())(writePfx(leaf, PASSWORD));
    let message = '';
    try {
      readPfx(pfx, PASSWORD);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('iterations');
    expect(message).not.toContain(PASSWORD);
  });
});
