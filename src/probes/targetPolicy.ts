// The network half of the probe target policy (the pure half is src/core/probeTargets.ts). A name is resolved once,
// every address it resolves to is checked, and the connection goes to the checked address: the `lookup` the probe's
// socket uses answers from the pin, so no second resolution can rebind the name to something else between the check
// and the connect. SNI and the server certificate's host name check still use the name.
import dns from 'node:dns';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkProbeUrl, checkResolvedAddress, type ProbeTarget, type ProbeTargetPolicy } from '../core/probeTargets.js';

/** Resolves a host name to its addresses (the system resolver in production; a table in tests). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * How long a checked answer is used. A rotation admits its targets before staging and probes them in its preflight
 * and verification minutes later: both must see the address that was checked, or a name could answer a public
 * address to the admission and a private one to the probe. Longer than most DNS TTLs, which only means a moved
 * partner is reached at its old address for a few more minutes.
 */
export const PIN_MS = 15 * 60 * 1000;
const MAX_PINS = 1000;

export interface AdmittedTarget extends ProbeTarget {
  /** The checked address the probe connects to. */
  address: string;
  family: 4 | 6;
}

export type Admission = { ok: true; target: AdmittedTarget } | { ok: false; reason: string };

interface Pin {
  at: number;
  answer: Promise<LookupAddress[]>;
}

export interface ProbeTargetGateOptions {
  resolver?: Resolver;
  /** Milliseconds now (pin expiry). */
  now?: () => number;
}

export class ProbeTargetGate {
  private readonly resolver: Resolver;
  private readonly now: () => number;
  private readonly pins = new Map<string, Pin>();

  constructor(
    readonly policy: ProbeTargetPolicy,
    options: ProbeTargetGateOptions = {},
  ) {
    this.resolver = options.resolver ?? systemResolver;
    this.now = options.now ?? Date.now;
  }

  /** Checks a probe URL and pins the address to connect to, or says why it is refused. Never throws. */
  async admit(url: string): Promise<Admission> {
    const verdict = checkProbeUrl(url, this.policy);
    if (!verdict.ok) return verdict;
    const target = verdict.target;
    if (target.address !== undefined) return { ok: true, target: { ...target, address: target.address, family: target.address.includes(':') ? 6 : 4 } };
    let answer: LookupAddress[];
    try {
      answer = await this.resolve(target.hostname);
    } catch (error) {
      const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'no answer';
      return { ok: false, reason: `'${url}': ${target.hostname} could not be resolved (${code})` };
    }
    if (answer.length === 0) return { ok: false, reason: `'${url}': ${target.hostname} has no address` };
    // Every address must pass: a name that also points inside is not a public partner, whichever address a client
    // would happen to pick.
    for (const entry of answer) {
      const refusal = checkResolvedAddress(target, entry.address, this.policy);
      if (refusal) return { ok: false, reason: `'${url}' is refused: ${refusal}` };
    }
    const first = answer[0]!;
    return { ok: true, target: { ...target, address: first.address, family: first.family === 6 ? 6 : 4 } };
  }

  private resolve(hostname: string): Promise<LookupAddress[]> {
    const key = hostname.toLowerCase();
    const now = this.now();
    const pinned = this.pins.get(key);
    if (pinned && now - pinned.at < PIN_MS) return pinned.answer;
    const answer = this.resolver(key).then((entries) => entries.map((e) => ({ address: e.address, family: e.family })));
    this.pins.delete(key);
    this.pins.set(key, { at: now, answer });
    // A failed resolution is not pinned: the next probe asks again.
    answer.catch(() => {
      if (this.pins.get(key)?.answer === answer) this.pins.delete(key);
    });
    if (this.pins.size > MAX_PINS) this.pins.delete(this.pins.keys().next().value as string);
    return answer;
  }
}

/** A socket `lookup` that answers only the admitted address, whatever it is asked (the name was checked already). */
export function pinnedLookup(target: AdmittedTarget): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as LookupFunction;
}
