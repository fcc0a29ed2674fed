// The trust suite's shape. Each file in ./attacks/ default-exports one AttackGroup (or an array of them): a world
// it sets up once (a sandbox, Azurite, an engine, an HTTP handler: whatever the attacks need, through the real SDKs)
// and attacks tried against it. An attack reports what it achieved, measured from the outside (the sandbox's request
// log, a hostile server's own log), never what the engine says it did.
export interface AttackOutcome {
  /** The attacker got what they wanted (a key, a token, a probe to a forbidden address, an accepted identity, ...). */
  succeeded: boolean;
  /** ARM writes (settings, restarts, certificate uploads or deletes) the attack caused. */
  writes: number;
  /** Bearer tokens that reached a host that is not a Key Vault data-plane host (or the sandbox's allow-listed vault). */
  tokensOffVault: number;
  /** What was observed, shown when an attack succeeds. */
  evidence?: string;
}

export interface Attack<W> {
  /** A sentence: what the attacker does. */
  name: string;
  attempt(world: W): Promise<AttackOutcome>;
}

export interface AttackGroup<W = unknown> {
  name: string;
  setup(): Promise<W>;
  teardown(world: W): Promise<void>;
  attacks: Attack<W>[];
}

export function defineAttacks<W>(group: AttackGroup<W>): AttackGroup<W> {
  return group;
}

/** The outcome of an attempt that was refused before anything was written or sent. */
export const refused = (evidence?: string): AttackOutcome => ({ succeeded: false, writes: 0, tokensOffVault: 0, ...(evidence ? { evidence } : {}) });
