// Hostile material for the trust suite: certificates the candidate policy must refuse (weak keys, a CA, a server-only
// EKU, a 20-year lifetime), PFX files that ask for too much key-derivation work, and an HTTPS server on 127.0.0.1 that
// logs every request and Authorization header it receives (what a stolen token would look like from outside).
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { createCertificateAuthority, derToPem, issueCertificate, writePfx, type IssuedCertificate } from '../../src/crypto/index.js';
import { pfxMac } from '../../src/crypto/pfxNative.js';

const DAY_MS = 86_400_000;
const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

export type KeySpec = { type: 'rsa'; bits: number } | { type: 'ec'; curve: string };

export interface HostileCertificateSpec {
  commonName: string;
  key?: KeySpec;
  /** basicConstraints CA:TRUE. */
  ca?: boolean;
  /** Extended key usage: client (clientAuth), server (serverAuth only), or none (no EKU extension). */
  eku?: 'client' | 'server' | 'none';
  notBeforeDays?: number;
  notAfterDays: number;
}

/**
 * A certificate issued by `issuer` with exactly the properties the spec names. forge assembles the structure with a
 * placeholder RSA key (it cannot hold EC keys); the real SubjectPublicKeyInfo from node replaces it before OpenSSL
 * signs the TBS with the issuer's key.
 */
export function hostileCertificate(issuer: IssuedCertificate, spec: HostileCertificateSpec): { certPem: string; keyPem: string } {
  const key = spec.key ?? { type: 'rsa', bits: 2048 };
  const { privateKey } =
    key.type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: key.bits }) : generateKeyPairSync('ec', { namedCurve: key.curve });
  const spkiDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const issuerCert = forge.pki.certificateFromPem(issuer.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(new forge.jsbn.BigInteger('00c3', 16), new forge.jsbn.BigInteger('010001', 16));
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  const now = Date.now();
  cert.validity.notBefore = new Date(now + (spec.notBeforeDays ?? -1) * DAY_MS);
  cert.validity.notAfter = new Date(now + spec.notAfterDays * DAY_MS);
  cert.setSubject([{ shortName: 'CN', value: spec.commonName }]);
  cert.setIssuer(issuerCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: spec.ca === true, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: key.type === 'rsa', keyCertSign: spec.ca === true, critical: true },
  ];
  const eku = spec.eku ?? 'client';
  if (eku !== 'none') extensions.push({ name: 'extKeyUsage', clientAuth: eku === 'client', serverAuth: eku === 'server' });
  cert.setExtensions(extensions);
  const sigOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.siginfo.algorithmOid = sigOid;
  (cert as unknown as { signatureOid: string }).signatureOid = sigOid;
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): Asn1 }).getTBSCertificate(cert);
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, [3] extensions.
  (tbs.value as Asn1[])[6] = asn1.fromDer(forge.util.createBuffer(spkiDer.toString('binary')));
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign('sha256', tbsDer, createPrivateKey(issuer.keyPem));
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(sigOid).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`),
  ]);
  return {
    certPem: derToPem(Buffer.from(asn1.toDer(certificate).getBytes(), 'binary')),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A plain client certificate (RSA-2048, clientAuth, one year) from a throwaway CA: the base of the PFX attacks. */
export function ordinaryClient(commonName: string): { certPem: string; keyPem: string } {
  const ca = createCertificateAuthority({ commonName: `${commonName} CA` });
  return issueCertificate(ca, { commonName, usage: 'client' });
}

// ---- PFX files that ask for too much work -------------------------------------------------------------------

function parse(pfx: Buffer): Asn1 {
  return asn1.fromDer(forge.util.createBuffer(pfx.toString('binary')));
}
const kids = (node: Asn1): Asn1[] => node.value as Asn1[];
const intBytes = (value: number) => asn1.integerToDer(value).getBytes();

/**
 * Rewrites a PFX: `edit` changes the authenticated safe's ContentInfos (they are re-encoded afterwards), then the MAC
 * is recomputed over the new bytes (with `macIterations` if given), so the file is intact apart from what was edited.
 */
function rewrite(pfx: Buffer, edit: (contentInfos: Asn1[]) => void, options: { macIterations?: number; password?: string } = {}): Buffer {
  const root = parse(pfx);
  const [, authSafe, macData] = kids(root) as [Asn1, Asn1, Asn1];
  const octets = kids(kids(authSafe)[1]!)[0]!;
  const safe = asn1.fromDer(forge.util.createBuffer(octets.value as string));
  edit(kids(safe));
  const safeBytes = asn1.toDer(safe).getBytes();
  octets.value = safeBytes;
  const [digestInfo, salt, iterations] = kids(macData) as [Asn1, Asn1, Asn1];
  const macCount = options.macIterations ?? asn1.derToInteger(iterations.value as string);
  iterations.value = intBytes(macCount);
  // A MAC iteration count too large to compute is refused before the MAC is checked: any digest will do then.
  if (macCount <= 100_000) {
    const mac = pfxMac(Buffer.from(safeBytes, 'binary'), options.password ?? '', 'sha1', Buffer.from(salt.value as string, 'binary'), macCount);
    kids(digestInfo)[1]!.value = mac.toString('binary');
  }
  return Buffer.from(asn1.toDer(root).getBytes(), 'binary');
}

/** The iterations INTEGER of a PKCS#12 PBE AlgorithmIdentifier (SEQUENCE { oid, SEQUENCE { salt, iterations } }). */
function setPbeIterations(algorithm: Asn1, count: number): void {
  kids(kids(algorithm)[1]!)[1]!.value = intBytes(count);
}

/** The AlgorithmIdentifier of an encryptedData ContentInfo. */
function encryptedDataAlgorithm(contentInfo: Asn1): Asn1 {
  const encryptedData = kids(kids(contentInfo)[1]!)[0]!;
  return kids(kids(encryptedData)[1]!)[1]!;
}

/** The shrouded key bag's AlgorithmIdentifier in a data ContentInfo; the bag is rewritten in place by `edit`. */
function editShroudedKeyBag(contentInfo: Asn1, edit: (algorithm: Asn1) => void): void {
  const octets = kids(kids(contentInfo)[1]!)[0]!;
  const bags = asn1.fromDer(forge.util.createBuffer(octets.value as string));
  for (const bag of kids(bags)) {
    const epki = kids(kids(bag)[1]!)[0]!;
    edit(kids(epki)[0]!);
  }
  octets.value = asn1.toDer(bags).getBytes();
}

const isEncryptedData = (contentInfo: Asn1) => asn1.derToOid(kids(contentInfo)[0]!.value as string) === forge.pki.oids.encryptedData;

/**
 * A PFX as OpenSSL -legacy writes it: the certificate bags in an RC2-40 encryptedData (what node's OpenSSL 3 cannot
 * decrypt, so it is read by forge), encrypted at 2048 iterations and then made to claim `count`.
 */
export function rc2PfxWithIterations(material: { certPem: string; keyPem: string }, count: number): Buffer {
  const salt = randomBytes(8).toString('binary');
  return rewrite(writePfx(material, ''), (infos) => {
    const at = infos.findIndex(isEncryptedData);
    const certBag = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      oid(forge.pki.oids.certBag!),
      explicit0(
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
          oid(forge.pki.oids.x509Certificate!),
          explicit0(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, pemBytes(material.certPem))),
        ]),
      ),
    ]);
    const plaintext = asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [certBag]));
    const generate = (forge.pkcs12 as unknown as {
      generateKey(p: string, s: forge.util.ByteStringBuffer, id: number, iter: number, n: number): forge.util.ByteStringBuffer;
    }).generateKey;
    const key = generate('', forge.util.createBuffer(salt), 1, 2048, 5);
    const iv = generate('', forge.util.createBuffer(salt), 2, 2048, 8);
    const cipher = forge.rc2.createEncryptionCipher(key, 40);
    cipher.start(iv);
    cipher.update(plaintext);
    cipher.finish();
    infos[at] = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      oid(forge.pki.oids.encryptedData!),
      explicit0(
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, intBytes(0)),
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
            oid(forge.pki.oids.data!),
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
              oid('1.2.840.113549.1.12.1.6'), // pbeWithSHAAnd40BitRC2-CBC
              asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
                asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, salt),
                asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, intBytes(count)),
              ]),
            ]),
            asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, cipher.output.getBytes()),
          ]),
        ]),
      ),
    ]);
  });
}

const oid = (value: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
const explicit0 = (value: Asn1) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [value]);
const pemBytes = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64').toString('binary');

/** Key Vault's own form (3DES bags, SHA-1 MAC), its key bag asking for `count` iterations. */
export function tripleDesPfxWithKeyIterations(material: { certPem: string; keyPem: string }, count: number): Buffer {
  return rewrite(writePfx(material, ''), (infos) => {
    for (const info of infos) if (!isEncryptedData(info)) editShroudedKeyBag(info, (algorithm) => setPbeIterations(algorithm, count));
  });
}

/** Key Vault's own form, every encryption at `count` iterations (each under the per-derivation bound). */
export function tripleDesPfxAllAt(material: { certPem: string; keyPem: string }, count: number): Buffer {
  return rewrite(writePfx(material, ''), (infos) => {
    for (const info of infos) {
      if (isEncryptedData(info)) setPbeIterations(encryptedDataAlgorithm(info), count);
      else editShroudedKeyBag(info, (algorithm) => setPbeIterations(algorithm, count));
    }
  });
}

/** Key Vault's own form with a MAC that asks for `count` iterations. */
export function pfxWithMacIterations(material: { certPem: string; keyPem: string }, count: number): Buffer {
  return rewrite(writePfx(material, ''), () => undefined, { macIterations: count });
}

// ---- A hostile HTTPS server ------------------------------------------------------------------------------------

export interface HostileServer {
  port: number;
  /** Its CA (PEM): the engine under attack trusts it, so a TLS failure cannot be what stopped a request. */
  caPem: string;
  /** Every request it received, with the Authorization header if any. */
  log: Array<{ method: string; path: string; authorization?: string }>;
  tokens(): number;
  close(): Promise<void>;
}

/** Answers every request like Key Vault's challenge would, and logs it. Listens on 127.0.0.1 only. */
export async function startHostileServer(): Promise<HostileServer> {
  const ca = createCertificateAuthority({ commonName: 'hostile CA' });
  const leaf = issueCertificate(ca, { commonName: '127.0.0.1', usage: 'server', altNames: ['127.0.0.1', 'localhost'] });
  const log: HostileServer['log'] = [];
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const authorization = req.headers.authorization;
    log.push({ method: req.method ?? '', path: req.url ?? '', ...(authorization ? { authorization } : {}) });
    req.resume();
    if (!authorization) {
      res.writeHead(401, {
        'www-authenticate': 'Bearer authorization="https://login.microsoftonline.com/72f988bf-0000-4000-8000-00000000a11e", resource="https://vault.azure.net"',
        'content-type': 'application/json',
      });
      res.end('{"error":{"code":"Unauthorized","message":"token please"}}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"CertificateNotFound","message":"thanks for the token"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    caPem: ca.certPem,
    log,
    tokens: () => log.filter((entry) => entry.authorization !== undefined).length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
