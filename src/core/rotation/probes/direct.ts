// The direct probe: the rotator itself opens an mTLS connection to each downstream of the app (tag `<p>-probe`),
// presenting the candidate. It needs the candidate's private key, which the rotator holds only while rotating, so it
// runs in preflight (the partner accepts the candidate before the app changes) and in verify.
import type { ClientCredential, ProbeResult } from '../../ports.js';
import { guarded, type ProbeKind, type ProbeTarget } from './probeKind.js';

export const DIRECT = 'direct';

export interface DirectTarget extends ProbeTarget {
  url: string;
  /** The URL passes when any of them is accepted: the tags do not say which downstream takes which certificate. */
  credentials: ClientCredential[];
}

export const directProbe: ProbeKind<DirectTarget> = {
  name: DIRECT,
  async targets(ctx) {
    const urls = ctx.tags.probeUrls;
    if ((ctx.phase !== 'preflight' && ctx.phase !== 'verify') || urls.length === 0 || !ctx.candidateCredentials) return [];
    const credentials = await ctx.candidateCredentials();
    if (!Array.isArray(credentials)) {
      ctx.notes.push(`direct probes skipped: ${credentials.message}`);
      return [];
    }
    if (credentials.length === 0) return [];
    return urls.map((url) => ({ key: url, url, credentials }));
  },
  async run(ctx, { url, credentials }) {
    const results: ProbeResult[] = [];
    for (const credential of credentials) {
      const result = await guarded(ctx, DIRECT, url, () => ctx.deps.prober.direct(url, credential));
      results.push(result);
      if (result.ok) break;
    }
    return results;
  },
};
