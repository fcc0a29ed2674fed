// Certificate material for the sandbox: the scenario's CAs, certificates generated from them (cached by
// material name, because an RSA key costs ~50 ms and scale scenarios need thousands of apps), and the
// Key Vault secret forms (PFX with an empty password, or PEM with the key first), including broken ones.
import { createHash } from 'node:crypto';
import forge from 'node-forge';
import {
  createCertificateAuthority,
  describeCertificate,
  issueCertificate,
  pemToDer,
  thumbprintToX5t,
  writePfx,
  type CertificateBundle,
  type IssuedCertificate,
} from '../src/crypto/index.js';
import { ScenarioError, type CaSpec, type CertificateMaterialSpec, type SecretContentType, type SecretDefect } from './scenario.js';

const DAY_MS = 86_400_000;

/** A certificate with its key, described once. Key material never leaves the sandbox except in secrets/apps. */
export interface Material {
  certPem: string;
  keyPem: string;
  /** Issuer chain (the CA), leaf excluded. */
  chainPems: string[];
  /** Uppercase hex SHA-1 of the DER. */
  thumbprint: string;
  der: Buffer;
  x5t: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
  issuer: string;
  subjectCommonName?: string;
  issuerCommonName?: string;
  /** Scenario CA name when the sandbox issued it. */
  caName?: string;
}

export function materialFromPems(certPem: string, keyPem: string, chainPems: string[], caName?: string): Material {
  const d = describeCertificate(certPem);
  const der = pemToDer(certPem);
  return {
    certPem,
    keyPem,
    chainPems,
    thumbprint: d.thumbprint,
    der,
    x5t: thumbprintToX5t(d.thumbprint),
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    subject: d.subject,
    issuer: d.issuer,
    subjectCommonName: d.subjectCommonName,
    issuerCommonName: d.issuerCommonName,
    caName,
  };
}

export function materialFromBundle(b: CertificateBundle): Material {
  return materialFromPems(b.certPem, b.keyPem, b.chainPems);
}

export class MaterialFactory {
  private readonly cas = new Map<string, IssuedCertificate>();
  private readonly named = new Map<string, Material>();

  constructor(
    private readonly now: Date,
    caSpecs: CaSpec[],
  ) {
    for (const ca of caSpecs) {
      this.cas.set(
        ca.name,
        createCertificateAuthority({
          commonName: ca.commonName ?? `${ca.name} (mtls-rotator sandbox)`,
          notBefore: new Date(now.getTime() - 3650 * DAY_MS),
          notAfter: new Date(now.getTime() + 3650 * DAY_MS),
        }),
      );
    }
  }

  ca(name: string): IssuedCertificate {
    const ca = this.cas.get(name);
    if (ca === undefined) throw new ScenarioError(`CA '${name}' is not part of the scenario`);
    return ca;
  }

  caNames(): string[] {
    return [...this.cas.keys()];
  }

  namedMaterial(name: string): Material | undefined {
    return this.named.get(name);
  }

  /** A client certificate per the spec; the same `material` name always gives the same certificate. */
  issue(spec: CertificateMaterialSpec, defaultCommonName: string): Material {
    if (spec.material !== undefined) {
      const cached = this.named.get(spec.material);
      if (cached !== undefined) return cached;
    }
    const ca = this.ca(spec.issuer);
    const notBefore = new Date(this.now.getTime() + (spec.notBeforeDays ?? -30) * DAY_MS);
    const notAfter = new Date(this.now.getTime() + spec.notAfterDays * DAY_MS);
    const issued = issueCertificate(ca, { commonName: spec.commonName ?? defaultCommonName, notBefore, notAfter, usage: 'client' });
    const m = materialFromPems(issued.certPem, issued.keyPem, [ca.certPem], spec.issuer);
    if (spec.material !== undefined) this.named.set(spec.material, m);
    return m;
  }
}

export interface SecretForm {
  contentType: string;
  value: string;
}

/**
 * What GET /secrets/{name}/{version} returns for a certificate version. Good secrets: PFX base64 with an EMPTY
 * password (3DES, as Key Vault's own), or PEM key first then the chain. `otherKeyPem` is a key that does not
 * belong to the certificate (for the keyMismatch defect).
 */
export function buildSecret(m: Material, contentType: SecretContentType, defect: SecretDefect | undefined, otherKeyPem: string): SecretForm {
  const chain = [m.certPem, ...m.chainPems];
  const pem = (key: string | undefined, certFirst: boolean) => {
    const certs = chain.map((c) => c.trim()).join('\n');
    if (key === undefined) return `${certs}\n`;
    return certFirst ? `${certs}\n${key.trim()}\n` : `${key.trim()}\n${certs}\n`;
  };
  const pfx = (key: string | undefined) =>
    key === undefined || key !== m.keyPem ? forgePfx(key, chain) : writePfx({ certPem: m.certPem, keyPem: m.keyPem, chainPems: m.chainPems }, '').toString('base64');

  if (contentType === 'application/x-pem-file') {
    switch (defect) {
      case 'noPrivateKey':
        return { contentType, value: pem(undefined, false) };
      case 'keyMismatch':
        return { contentType, value: pem(otherKeyPem, false) };
      case 'pemCertificateFirst':
        return { contentType, value: pem(m.keyPem, true) };
      case 'corrupt':
        return { contentType, value: pem(m.keyPem, false).replace(/[A-Za-z0-9+/]{40}\n/g, (s) => `${s.slice(0, 20)}!!${s.slice(22)}`) };
      case 'wrongContentType':
        return { contentType: 'application/octet-stream', value: pem(m.keyPem, false) };
      default:
        return { contentType, value: pem(m.keyPem, false) };
    }
  }
  switch (defect) {
    case 'noPrivateKey':
      return { contentType, value: pfx(undefined) };
    case 'keyMismatch':
      return { contentType, value: pfx(otherKeyPem) };
    case 'pemCertificateFirst':
      // A PFX has no order; the defect only exists for PEM. Serve the PEM form under the PEM content type.
      return { contentType: 'application/x-pem-file', value: pem(m.keyPem, true) };
    case 'corrupt': {
      const good = pfx(m.keyPem);
      return { contentType, value: good.slice(0, Math.floor(good.length / 2)) };
    }
    case 'wrongContentType':
      return { contentType: 'application/octet-stream', value: pfx(m.keyPem) };
    default:
      return { contentType, value: pfx(m.keyPem) };
  }
}

// Broken PFX files (no key, or a foreign key) are built with forge directly: the project's writePfx refuses
// to produce them, as it should.
function forgePfx(keyPem: string | undefined, chainPems: string[]): string {
  const key = keyPem === undefined ? null : forge.pki.privateKeyFromPem(keyPem);
  const certs = chainPems.map((c) => forge.pki.certificateFromPem(c));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, certs, '', { algorithm: '3des' });
  return forge.util.encode64(forge.asn1.toDer(asn1).getBytes());
}

/** A stable 32-hex version id (Key Vault's form) so that scenario runs replay. */
export function versionId(vault: string, certificate: string, index: number, salt = ''): string {
  return createHash('sha256').update(`${vault.toLowerCase()}/${certificate.toLowerCase()}/${index}/${salt}`).digest('hex').slice(0, 32);
}
