// The kit finds the certificate App Service loaded: by thumbprint setting, by WEBSITE_LOAD_CERTIFICATES, or the
// newest of a subject in '*' mode; and when it is not there, it says what to change.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientCertificateNotFoundError, loadClientCertificate, type LoadClientCertificateOptions } from '../../kit/src/index.js';
import type { IssuedCertificate } from '../../src/crypto/index.js';
import { certsDirectory, makeKitFixtures, type KitFixtures } from './fixtures.js';

let f: KitFixtures;
let dir: { path: string; remove(): void };

beforeAll(() => {
  f = makeKitFixtures();
  dir = certsDirectory([f.ordersOld, f.ordersNew, f.billing]);
  // Not a certificate file: App Service keeps nothing else there, but a '*' reader must not trip over it.
  writeFileSync(join(dir.path, 'README.txt'), 'not a certificate');
});

afterAll(() => dir?.remove());

const env = (settings: Record<string, string>) => ({ WEBSITE_PRIVATE_CERTS_PATH: dir.path, ...settings });

describe('loadClientCertificate picks the certificate the app should present', () => {
  it.each<[string, () => LoadClientCertificateOptions, () => IssuedCertificate]>([
    [
      'the thumbprint setting names a loaded certificate: that one, even when a newer one is loaded',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: '*', CLIENT_CERT_THUMBPRINT: f.ordersOld.thumbprint }), thumbprintSetting: 'CLIENT_CERT_THUMBPRINT' }),
      () => f.ordersOld,
    ],
    [
      'the thumbprint setting is empty: WEBSITE_LOAD_CERTIFICATES decides',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.ordersNew.thumbprint, CLIENT_CERT_THUMBPRINT: '' }), thumbprintSetting: 'CLIENT_CERT_THUMBPRINT' }),
      () => f.ordersNew,
    ],
    [
      'WEBSITE_LOAD_CERTIFICATES names one, in lowercase with spaces: that one',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: ` ${f.ordersOld.thumbprint.toLowerCase()} ` }) }),
      () => f.ordersOld,
    ],
    [
      'an explicit thumbprint with colons wins over every setting',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.ordersNew.thumbprint }), thumbprint: f.billing.thumbprint.replace(/(..)(?!$)/g, '$1:') }),
      () => f.billing,
    ],
    [
      "'*' without a subject: the newest of all loaded",
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: '*' }) }),
      () => f.billing,
    ],
    [
      "'*' with a subject: the newest of that subject (the renewal, not the older one nor another subject's newer one)",
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: '*' }), subject: 'orders.contoso.example' }),
      () => f.ordersNew,
    ],
    [
      'a list of two: the newer of those listed, a newer file that is not listed is ignored',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: `${f.ordersOld.thumbprint},${f.ordersNew.thumbprint}` }) }),
      () => f.ordersNew,
    ],
    [
      'the directory option wins over WEBSITE_PRIVATE_CERTS_PATH',
      () => ({ env: { WEBSITE_PRIVATE_CERTS_PATH: '/nonexistent', WEBSITE_LOAD_CERTIFICATES: f.billing.thumbprint }, directory: dir.path }),
      () => f.billing,
    ],
  ])('%s', (_name, options, expected) => {
    const loaded = loadClientCertificate(options());
    const want = expected();
    expect(loaded.thumbprint).toBe(want.thumbprint);
    expect(loaded.path).toBe(join(dir.path, `${want.thumbprint}.p12`));
    expect(loaded.passphrase).toBe('');
    expect(loaded.pfx.length).toBeGreaterThan(0);
  });

  it('describes the certificate it loaded: subject, common name and validity from the file itself', () => {
    const loaded = loadClientCertificate({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.ordersNew.thumbprint }) });
    expect(loaded).toMatchObject({ subject: 'CN=orders.contoso.example', commonName: 'orders.contoso.example' });
    const older = loadClientCertificate({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.ordersOld.thumbprint }) });
    expect(loaded.notBefore.getTime()).toBeGreaterThan(older.notBefore.getTime());
    expect(loaded.notAfter.getTime()).toBeGreaterThan(loaded.notBefore.getTime());
  });
});

describe('loadClientCertificate says what is wrong when the certificate is not there', () => {
  it.each<[string, () => LoadClientCertificateOptions, () => RegExp[]]>([
    [
      'the setting names a certificate App Service did not load: names it, the file and that WEBSITE_LOAD_CERTIFICATES does not list it',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.ordersOld.thumbprint, CLIENT_CERT_THUMBPRINT: f.untrusted.thumbprint }), thumbprintSetting: 'CLIENT_CERT_THUMBPRINT' }),
      () => [new RegExp(`certificate ${f.untrusted.thumbprint} named by CLIENT_CERT_THUMBPRINT is not loaded`), /\.p12 does not exist/, /does not list it/],
    ],
    [
      'WEBSITE_LOAD_CERTIFICATES lists it but the file is missing: the certificate must exist in the webspace and the app restart',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.untrusted.thumbprint }) }),
      () => [/named by WEBSITE_LOAD_CERTIFICATES is not loaded/, /must have restarted since/],
    ],
    [
      'no WEBSITE_LOAD_CERTIFICATES and no thumbprint: nothing is loaded, the default directory is named',
      () => ({ env: {} }),
      () => [/WEBSITE_LOAD_CERTIFICATES is not set/, /\/var\/ssl\/private/],
    ],
    [
      'a thumbprint setting that is not a thumbprint: names the setting',
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: '*', CLIENT_CERT_THUMBPRINT: 'my-cert' }), thumbprintSetting: 'CLIENT_CERT_THUMBPRINT' }),
      () => [/CLIENT_CERT_THUMBPRINT must be a SHA-1 thumbprint \(40 hex characters\), got 'my-cert'/],
    ],
    [
      "'*' with a subject nothing has: names the subject and the directory",
      () => ({ env: env({ WEBSITE_LOAD_CERTIFICATES: '*' }), subject: 'payments.contoso.example' }),
      () => [/no client certificate is loaded with subject 'payments.contoso.example' in /],
    ],
    [
      "'*' and the directory does not exist",
      () => ({ env: { WEBSITE_LOAD_CERTIFICATES: '*', WEBSITE_PRIVATE_CERTS_PATH: join(dir.path, 'missing') } }),
      () => [/no client certificate is loaded: .*missing does not exist/],
    ],
  ])('%s', (_name, options, messages) => {
    let thrown: unknown;
    try {
      loadClientCertificate(options());
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ClientCertificateNotFoundError);
    for (const message of messages()) expect((thrown as Error).message).toMatch(message);
  });

  it.each<[string, (path: string) => void, RegExp]>([
    ['a file named by one thumbprint that holds another certificate', (path) => writeFileSync(path, readPfxOf('billing')), /holds certificate .* not /],
    ['a file that is not PKCS#12', (path) => writeFileSync(path, 'garbage'), /cannot be opened as a PKCS#12 file with an empty password/],
  ])('%s: refused with a message naming the file', (_name, write, message) => {
    const path = join(dir.path, `${f.untrusted.thumbprint}.p12`);
    write(path);
    try {
      expect(() => loadClientCertificate({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.untrusted.thumbprint }) })).toThrow(message);
      expect(() => loadClientCertificate({ env: env({ WEBSITE_LOAD_CERTIFICATES: f.untrusted.thumbprint }) })).toThrow(path);
    } finally {
      rmSync(path, { force: true });
    }
  });
});

function readPfxOf(name: 'billing'): Buffer {
  return loadClientCertificate({ env: env({ WEBSITE_LOAD_CERTIFICATES: f[name].thumbprint }) }).pfx;
}
