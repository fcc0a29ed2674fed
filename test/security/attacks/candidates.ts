// Attacks with what a source serves: the attacker owns a vault (kv-evil, a real vault
// host in production) and may grant its certificates to their own apps, so the only defences left are the candidate
// policy and the bounds on reading the secret. Each candidate must be refused with its documented reason before
// anything is written: weak keys, a CA, a server-only EKU, a 20-year lifetime, a key that is not the certificate's,
// a 50 MB secret, and PFX files whose key derivation would pin the event loop for seconds to hours.
import type { CertificateVersionSpec } from '../../../sandbox/scenario.js';
import { createCertificateAuthority } from '../../../src/crypto/index.js';
import { defineAttacks } from '../harness.js';
import {
  hostileCertificate,
  ordinaryClient,
  pfxWithMacIterations,
  rc2PfxWithIterations,
  tripleDesPfxAllAt,
  tripleDesPfxWithKeyIterations,
  type HostileCertificateSpec,
} from '../hostile.js';
import { addAttackers, addEvilCertificates, useTrustWorld, type TrustWorld } from '../trustWorld.js';

// The hostile certificates come from a CA of their own: the defence must not depend on who issued them.
const ca = createCertificateAuthority({ commonName: 'attacker CA' });
const certificate = (spec: Omit<HostileCertificateSpec, 'commonName' | 'notAfterDays'> & { notAfterDays?: number }) =>
  hostileCertificate(ca, { commonName: 'attacker client', notAfterDays: 365, ...spec });

const pkcs12 = (pfx: Buffer) => ({ contentType: 'application/x-pkcs12', value: pfx.toString('base64') });

interface CandidateAttack {
  app: string;
  candidate: () => CertificateVersionSpec;
  expected: RegExp;
}

const ATTACKS: Record<string, CandidateAttack> = {
  'the candidate has an RSA-1024 key': {
    app: 'cand-rsa1024',
    candidate: () => ({ issuer: 'ca', notAfterDays: 365, pems: certificate({ key: { type: 'rsa', bits: 1024 } }) }),
    expected: /WeakKey: version \w+ has an RSA key of 1024 bits/,
  },
  'the candidate has an RSA-512 key': {
    app: 'cand-rsa512',
    candidate: () => ({ issuer: 'ca', notAfterDays: 365, pems: certificate({ key: { type: 'rsa', bits: 512 } }) }),
    expected: /WeakKey: version \w+ has an RSA key of 512 bits/,
  },
  'the candidate has an EC key on P-192': {
    app: 'cand-p192',
    candidate: () => ({ issuer: 'ca', notAfterDays: 365, pems: certificate({ key: { type: 'ec', curve: 'prime192v1' } }) }),
    expected: /WeakKey: version \w+ has an EC key on curve prime192v1/,
  },
  'the candidate is a CA certificate (basicConstraints CA:TRUE)': {
    app: 'cand-ca',
    candidate: () => ({ issuer: 'ca', notAfterDays: 365, pems: certificate({ ca: true, eku: 'none' }) }),
    expected: /CertificateAuthority: version \w+ is a CA certificate/,
  },
  'the candidate is for servers only (EKU serverAuth without clientAuth)': {
    app: 'cand-serverauth',
    candidate: () => ({ issuer: 'ca', notAfterDays: 365, pems: certificate({ eku: 'server' }) }),
    expected: /NoClientAuth: version \w+ restricts its use \(extended key usage 1\.3\.6\.1\.5\.5\.7\.3\.1\) without clientAuth/,
  },
  'the candidate is valid for 20 years': {
    app: 'cand-20years',
    candidate: () => ({ issuer: 'ca', notAfterDays: 7300, pems: certificate({ notAfterDays: 7300 }) }),
    expected: /LifetimeTooLong: version \w+ is valid for 7301 days, more than CANDIDATE_MAX_LIFETIME_DAYS \(825\)/,
  },
  'the candidate is not valid yet (notBefore in the future)': {
    app: 'cand-future',
    candidate: () => ({ issuer: 'ca', notBeforeDays: 30, notAfterDays: 365 }),
    expected: /NotYetValid: version \w+ is not valid before/,
  },
  "the candidate's secret holds a key that is not the certificate's": {
    app: 'cand-keymismatch',
    candidate: () => ({ issuer: 'ca', notBeforeDays: -1, notAfterDays: 365, defect: 'keyMismatch' }),
    expected: /CandidateRefused: KeyMismatch/,
  },
  "the candidate's secret holds another (RSA-1024) certificate than the one Key Vault describes": {
    app: 'cand-swapped',
    candidate: () => {
      const described = ordinaryClient('described client');
      const served = certificate({ key: { type: 'rsa', bits: 1024 } });
      return { issuer: 'ca', notAfterDays: 365, pems: described, hostileSecret: pkcs12(tripleDesPfxAllAt(served, 2048)) };
    },
    expected: /CandidateRefused: ThumbprintMismatch/,
  },
  'the secret is 50 MB (served by a vault the attacker owns)': {
    app: 'cand-50mb',
    candidate: () => ({
      issuer: 'ca',
      notAfterDays: 365,
      pems: ordinaryClient('big client'),
      hostileSecret: { contentType: 'application/x-pkcs12', value: 'A'.repeat(50 * 1024 * 1024) },
    }),
    expected: /CandidateRefused: SecretTooLarge: .*declares \d+ bytes, more than the 1048576 bytes allowed/,
  },
  'the secret is 300,000 characters: under the transport bound, over any Key Vault secret': {
    app: 'cand-300k',
    candidate: () => ({
      issuer: 'ca',
      notAfterDays: 365,
      pems: ordinaryClient('long client'),
      hostileSecret: { contentType: 'application/x-pkcs12', value: 'A'.repeat(300_000) },
    }),
    expected: /CandidateRefused: SecretTooLarge: .* is 300000 characters, more than 262144/,
  },
  'the secret is an RC2-40 PFX asking for 2,000,000 iterations (the forge path)': {
    app: 'cand-rc2-2m',
    candidate: () => {
      const material = ordinaryClient('rc2 client');
      return { issuer: 'ca', notAfterDays: 365, pems: material, hostileSecret: pkcs12(rc2PfxWithIterations(material, 2_000_000)) };
    },
    expected: /CandidateRefused: TooManyIterations: .*\(2000000 iterations; at most 100000 per derivation\)/,
  },
  'the secret is a 3DES PFX whose key bag asks for 10,000,000 iterations': {
    app: 'cand-3des-10m',
    candidate: () => {
      const material = ordinaryClient('3des client');
      return { issuer: 'ca', notAfterDays: 365, pems: material, hostileSecret: pkcs12(tripleDesPfxWithKeyIterations(material, 10_000_000)) };
    },
    expected: /CandidateRefused: TooManyIterations: .*\(10000000 iterations/,
  },
  'the secret is a PFX whose MAC asks for 2^31 - 1 iterations': {
    app: 'cand-mac-huge',
    candidate: () => {
      const material = ordinaryClient('mac client');
      return { issuer: 'ca', notAfterDays: 365, pems: material, hostileSecret: pkcs12(pfxWithMacIterations(material, 2 ** 31 - 1)) };
    },
    expected: /CandidateRefused: TooManyIterations: .*\(2147483647 iterations/,
  },
  'the secret is a PFX whose every encryption stays under the per-derivation bound (90,000) but whose sum does not': {
    app: 'cand-budget',
    candidate: () => {
      const material = ordinaryClient('budget client');
      return { issuer: 'ca', notAfterDays: 365, pems: material, hostileSecret: pkcs12(tripleDesPfxAllAt(material, 90_000)) };
    },
    expected: /CandidateRefused: TooManyIterations: .*\(\d+ iterations; at most 100000 per derivation\)/,
  },
};

for (const [, attack] of Object.entries(ATTACKS)) {
  addEvilCertificates({ name: `${attack.app}-client`, candidate: attack.candidate() });
  addAttackers({
    name: attack.app,
    tags: { 'mtls-rotation-source': `{{source:kv-evil/${attack.app}-client}}` },
    settings: { WEBSITE_LOAD_CERTIFICATES: `{{thumbprint:kv-evil/${attack.app}-client/0}}` },
    certificates: [{ name: `${attack.app}-v0`, fromVault: { vault: 'kv-evil', certificate: `${attack.app}-client`, version: 0 } }],
  });
}

const world = useTrustWorld();

export default defineAttacks<TrustWorld>({
  name: "candidates: the policy and the secret's bounds hold against a vault the attacker owns",
  setup: () => world.acquire(),
  teardown: () => world.release(),
  attacks: Object.entries(ATTACKS).map(([name, a]) => ({ name, attempt: (w: TrustWorld) => w.attack(a.app, a.expected) })),
});
