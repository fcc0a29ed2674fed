// A name resolver for the probe target gate that answers from a script instead of DNS (the network guard allows no
// real look-up but `localhost`), so a test can make a name's answer change between the check and the connection.
import type { LookupAddress } from 'node:dns';
import type { Resolver } from '../../src/probes/targetPolicy.js';

/** Answers from a list, one entry per call (the last one repeats), and counts the calls. */
export function scriptedResolver(...answers: LookupAddress[][]): Resolver & { calls: number } {
  const resolver = (async () => {
    const answer = answers[Math.min(resolver.calls, answers.length - 1)]!;
    resolver.calls += 1;
    return answer;
  }) as unknown as Resolver & { calls: number };
  resolver.calls = 0;
  return resolver;
}
