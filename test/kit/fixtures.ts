// Certificates for the kit's tests, written the way App Service writes them for a Linux app: one
// `<THUMBPRINT>.p12` per loaded certificate, PKCS#12 with an empty password, in a directory of the app's own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate, writePfx, type IssuedCertificate } from '../../src/crypto/index.js';

const DAY_MS = 86_400_000;

export interface KitFixtures {
  sandboxCa: IssuedCertificate;
  serverCert: IssuedCertificate;
  partnerCa: IssuedCertificate;
  otherCa: IssuedCertificate;
  /** orders.contoso.example, issued 300 days ago. */
  ordersOld: IssuedCertificate;
  /** orders.contoso.example, the renewal issued yesterday. */
  ordersNew: IssuedCertificate;
  /** billing.contoso.example, issued today: the newest of all, of another subject. */
  billing: IssuedCertificate;
  /** By another CA the partner does not trust. */
  untrusted: IssuedCertificate;
}

export function makeKitFixtures(): KitFixtures {
  const now = Date.now();
  const sandboxCa = createCertificateAuthority({ commonName: 'Kit test sandbox CA' });
  const partnerCa = createCertificateAuthority({ commonName: 'Kit test partner CA' });
  const otherCa = createCertificateAuthority({ commonName: 'Kit test other CA' });
  const client = (ca: IssuedCertificate, commonName: string, issuedDaysAgo: number) =>
    issueCertificate(ca, { commonName, usage: 'client', notBefore: new Date(now - issuedDaysAgo * DAY_MS), notAfter: new Date(now + (365 - issuedDaysAgo) * DAY_MS) });
  return {
    sandboxCa,
    serverCert: issueCertificate(sandboxCa, { commonName: '127.0.0.1', usage: 'server', altNames: ['127.0.0.1', 'localhost'] }),
    partnerCa,
    otherCa,
    ordersOld: client(partnerCa, 'orders.contoso.example', 300),
    ordersNew: client(partnerCa, 'orders.contoso.example', 1),
    billing: client(partnerCa, 'billing.contoso.example', 0),
    untrusted: client(otherCa, 'orders.contoso.example', 0),
  };
}

/** A private-certificates directory holding `certs`, as App Service writes it. */
export function certsDirectory(certs: IssuedCertificate[]): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'kit-certs-'));
  for (const cert of certs) writeFileSync(join(path, `${cert.thumbprint}.p12`), writePfx({ certPem: cert.certPem, keyPem: cert.keyPem }, ''));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
