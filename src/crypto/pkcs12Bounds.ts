// How much key-derivation work a PFX may ask for. A PFX names its own iteration counts (in its MAC and in every
// PBE's parameters), and the KDF is sequential hashing on the event loop: unbounded, a hostile "secret" pinned a core
// for 11.6 s (RC2-40, 2M iterations, forge) or 94 s (3DES, 10M, native). So every count is checked, and the work of
// the whole file is charged against a budget, BEFORE the KDF runs, on both readers (native and forge).
//
// Real producers write small counts: OpenSSL 2048 (PKCS12_DEFAULT_ITER, also for -legacy RC2-40), Windows
// (CNG/CAPI export) and .NET 2000, Java keytool 10000 (Java 8 wrote up to 100,000 for the MAC); the Key Vault secret
// recorded in shared/azure-examples is 3DES at 2000. 100,000 per KDF admits all of them. The budget counts iterations of all KDF runs of one read (a 3DES PBE runs two: key and
// IV; an empty password tries two readings): measured on a busy core the native PKCS#12 KDF takes ~1.2 us per
// iteration and forge's ~3.6 us, so 300,000 native and 100,000 forge iterations stay well under a second each.
import forge from 'node-forge';

export const MAX_ITERATIONS = 100_000;
export const NATIVE_ITERATION_BUDGET = 300_000;
export const FORGE_ITERATION_BUDGET = 100_000;

/** A PFX asked for more key-derivation work than the bounds allow; nothing was derived for the refused step. */
export class TooManyIterations extends Error {
  constructor(readonly iterations: number) {
    super(`the PFX asks for ${Number.isFinite(iterations) ? iterations : 'more than 2^48'} key-derivation iterations`);
  }
}

export class IterationBudget {
  private spent = 0;

  constructor(private readonly limit: number) {}

  /** Charges `runs` KDF runs of `count` iterations, or throws without charging when that would exceed a bound. */
  charge(count: number, runs = 1): void {
    if (count > MAX_ITERATIONS) throw new TooManyIterations(count);
    if (this.spent + count * runs > this.limit) throw new TooManyIterations(this.spent + count * runs);
    this.spent += count * runs;
  }
}

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';
const OID_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_PBES2 = '1.2.840.113549.1.5.13';
/** pkcs-12PbeIds: pbeWithSHAAnd128BitRC4 .. pbeWithSHAAnd40BitRC2-CBC (1.2.840.113549.1.12.1.1-6). */
const PKCS12_PBE_PREFIX = '1.2.840.113549.1.12.1.';

/**
 * Charges, from forge's ASN.1 and before forge runs any KDF, every count a PFX shows: the MAC's (once per password
 * reading), each encrypted ContentInfo's PBE and each shrouded key bag in plain SafeContents. Counts inside encrypted
 * SafeContents only appear once decrypted; `guardForgeKdf` bounds those as forge reaches them.
 */
export function chargeVisibleIterations(pfx: Asn1, passwordReadings: number, budget: IterationBudget): void {
  const [, authSafe, macData] = kids(pfx);
  const macIterations = macData === undefined ? undefined : kids(macData)[2];
  if (macIterations !== undefined) budget.charge(integerOf(macIterations), passwordReadings);
  const content = authSafe === undefined ? undefined : kids(authSafe)[1];
  const octets = content === undefined ? undefined : kids(content)[0];
  if (octets === undefined) return;
  let infos: Asn1[];
  try {
    infos = kids(asn1.fromDer(bytesOf(octets), false));
  } catch {
    return; // not a structure forge reads either: it refuses it without deriving anything
  }
  for (const info of infos) {
    const [type, value] = kids(info);
    if (type === undefined || value === undefined) continue;
    const oid = oidOf(type);
    const inner = kids(value)[0];
    if (inner === undefined) continue;
    if (oid === OID_ENCRYPTED_DATA) {
      const algorithm = kids(kids(inner)[1] ?? inner)[1];
      if (algorithm !== undefined) chargeAlgorithm(algorithm, passwordReadings, budget);
    } else if (oid === OID_DATA) {
      let bags: Asn1[];
      try {
        bags = kids(asn1.fromDer(bytesOf(inner), false));
      } catch {
        continue;
      }
      for (const bag of bags) {
        const [bagId, bagValue] = kids(bag);
        if (bagId === undefined || bagValue === undefined || oidOf(bagId) !== OID_SHROUDED_KEY_BAG) continue;
        const algorithm = kids(kids(bagValue)[0] ?? bagValue)[0];
        if (algorithm !== undefined) chargeAlgorithm(algorithm, passwordReadings, budget);
      }
    }
  }
}

function chargeAlgorithm(algorithm: Asn1, passwordReadings: number, budget: IterationBudget): void {
  const [oidNode, params] = kids(algorithm);
  if (oidNode === undefined || params === undefined) return;
  const oid = oidOf(oidNode);
  if (oid.startsWith(PKCS12_PBE_PREFIX)) {
    const count = kids(params)[1];
    // Key and IV are two KDF runs.
    if (count !== undefined) budget.charge(integerOf(count), 2 * passwordReadings);
  } else if (oid === OID_PBES2) {
    const kdfParams = kids(kids(params)[0] ?? params)[1];
    const count = kdfParams === undefined ? undefined : kids(kdfParams)[1];
    if (count !== undefined) budget.charge(integerOf(count), passwordReadings);
  }
}

let activeForgeBudget: IterationBudget | undefined;
let guarded = false;

/**
 * Runs `read` (a synchronous forge call) with forge's three KDF entry points charging `budget` before they derive:
 * what a PFX hides inside its encrypted SafeContents (a shrouded key bag in an RC2-40 safe) is bounded too.
 */
export function withForgeBudget<T>(budget: IterationBudget, read: () => T): T {
  installForgeGuards();
  activeForgeBudget = budget;
  try {
    return read();
  } finally {
    activeForgeBudget = undefined;
  }
}

function installForgeGuards(): void {
  if (guarded) return;
  guarded = true;
  const pbe = (forge.pki as unknown as { pbe: { generatePkcs12Key: (...args: unknown[]) => unknown } }).pbe;
  const p12 = forge.pkcs12 as unknown as { generateKey: (...args: unknown[]) => unknown };
  const pkcs5 = forge.pkcs5 as unknown as { pbkdf2: (...args: unknown[]) => unknown };
  const guard = (original: (...args: unknown[]) => unknown) =>
    function guardedKdf(this: unknown, ...args: unknown[]) {
      // (password, salt, id, iterations, n, md) for the PKCS#12 KDF; (password, salt, iterations, ...) for PBKDF2.
      const count = original === pkcs5Original ? args[2] : args[3];
      activeForgeBudget?.charge(typeof count === 'number' ? count : Number.POSITIVE_INFINITY);
      return original.apply(this, args);
    };
  const pbeOriginal = pbe.generatePkcs12Key;
  const p12Original = p12.generateKey;
  const pkcs5Original = pkcs5.pbkdf2;
  pbe.generatePkcs12Key = guard(pbeOriginal);
  // forge.pkcs12.generateKey is the same function as pki.pbe.generatePkcs12Key in forge 1.x; guard it once.
  if (p12Original !== pbeOriginal) p12.generateKey = guard(p12Original);
  else p12.generateKey = pbe.generatePkcs12Key;
  pkcs5.pbkdf2 = guard(pkcs5Original);
}

function kids(node: Asn1): Asn1[] {
  return Array.isArray(node.value) ? node.value : [];
}

function oidOf(node: Asn1): string {
  if (node.type !== asn1.Type.OID || typeof node.value !== 'string') return '';
  return asn1.derToOid(node.value);
}

function integerOf(node: Asn1): number {
  if (node.type !== asn1.Type.INTEGER || typeof node.value !== 'string' || node.value.length === 0) return Number.POSITIVE_INFINITY;
  if (node.value.length > 6) return Number.POSITIVE_INFINITY;
  return asn1.derToInteger(node.value);
}

function bytesOf(node: Asn1): string {
  if (typeof node.value === 'string') return node.value;
  return node.value.map((piece) => bytesOf(piece)).join('');
}
