// Attacks on the probe targets: an app owner points the `-probe` tag (or the `-health` tag) at
// what the rotator's network position reaches and theirs does not: the metadata endpoint, loopback services, private
// ranges, through every spelling and every trick of the URL and of DNS. The direct probe would present the candidate
// certificate there. The engine here runs WITHOUT loopback on its allow-list (unlike the sandbox's settings), so any
// connection to the recording server on loopback is a success for the attacker.
//
// Measured from the outside: the recording TLS server's own log (every TCP connection, every client certificate),
// the network guard's log of attempts beyond loopback, and the sandbox's request log for ARM writes.
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { startAzurite, type Azurite } from '../../../sandbox/azurite.js';
import { createDependencies, type Dependencies } from '../../../src/composition.js';
import { createRotator, type Config, type RotationResult, type Rotator } from '../../../src/core/index.js';
import type { ClientCredential } from '../../../src/core/ports.js';
import { issueCertificate } from '../../../src/crypto/index.js';
import { probeTargetPolicyOf } from '../../../src/core/config.js';
import { HttpsProber } from '../../../src/probes/prober.js';
import { ProbeTargetGate, type Resolver } from '../../../src/probes/targetPolicy.js';
import { uniqueName } from '../../helpers/azurite.js';
import { blockedAttempts } from '../../helpers/network-guard.js';
import { recordingPki, startRecordingTlsServer, type RecordingTlsServer } from '../../helpers/recordingTlsServer.js';
import { scriptedResolver } from '../../helpers/scriptedResolver.js';
import { independentApps, sandboxConfig, SUB, watch } from '../../integration/world.js';
import { defineAttacks, type AttackOutcome } from '../harness.js';

interface World {
  sb: Sandbox;
  azurite: Azurite;
  /** Listens on 127.0.0.1 and ::1, same port: where a loopback probe lands. */
  hostile: RecordingTlsServer;
  hostile6: RecordingTlsServer | undefined;
  /** An allowed partner on 127.0.0.2 and the attacker's server on 127.0.0.1, on one port (the rebinding attack). */
  partner: RecordingTlsServer;
  rebound: RecordingTlsServer;
  config: Config;
  deps: (resolver?: Resolver) => Dependencies;
  rotator: (resolver?: Resolver) => Rotator;
  credential: ClientCredential;
}

/** The engine's settings here: the sandbox's, minus loopback on the probe allow-list. */
function attackConfig(sb: Sandbox, azurite: Azurite, extra: Record<string, string> = {}): Config {
  return sandboxConfig(sb, azurite.connectionString, SUB, {
    PROBE_ALLOWED_TARGETS: '',
    ROTATION_TABLE: uniqueName('probeatk'),
    PROBE_ATTEMPTS: '1',
    ...extra,
  });
}

/** Every app of the group: its name and the tags that carry the attack (`PORT` is the hostile server's port). */
const APPS: Record<string, Record<string, string>> = {
  'pt-metadata': { 'mtls-rotation-probe': 'https://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/' },
  'pt-metadata-hex': { 'mtls-rotation-probe': 'https://0xa9fea9fe/metadata/instance' },
  'pt-wireserver': { 'mtls-rotation-probe': 'https://168.63.129.16/machine?comp=goalstate' },
  'pt-hex': { 'mtls-rotation-probe': 'https://0x7f000001:PORT/' },
  'pt-decimal': { 'mtls-rotation-probe': 'https://2130706433:PORT/' },
  'pt-mapped': { 'mtls-rotation-probe': 'https://[::ffff:127.0.0.1]:PORT/' },
  'pt-short': { 'mtls-rotation-probe': 'https://127.1:PORT/' },
  'pt-octal': { 'mtls-rotation-probe': 'https://0177.0.0.1:PORT/' },
  'pt-ipv6-loopback': { 'mtls-rotation-probe': 'https://[::1]:PORT/' },
  'pt-http': { 'mtls-rotation-probe': 'http://localhost:PORT/' },
  'pt-private': { 'mtls-rotation-probe': 'https://10.0.0.1/' },
  'pt-file': { 'mtls-rotation-probe': 'file:///etc/passwd' },
  'pt-ftp': { 'mtls-rotation-probe': 'ftp://127.0.0.1:PORT/' },
  'pt-userinfo': { 'mtls-rotation-probe': 'https://partner.example.com@127.0.0.1:PORT/' },
  'pt-backslash': { 'mtls-rotation-probe': 'https://127.0.0.1:PORT\\@partner.example.com/' },
  'pt-many': { 'mtls-rotation-probe': Array.from({ length: 5000 }, (_, i) => `https://localhost:PORT/p${i}`).join(' ') },
  'pt-localhost': { 'mtls-rotation-probe': 'https://localhost:PORT/' },
  'pt-split-answer': { 'mtls-rotation-probe': 'https://localhost:PORT/split' },
  'pt-health-escape': { 'mtls-rotation-health': '/\\127.0.0.1:PORT/x' },
};

const STATIC_REFUSAL = /tag mtls-rotation-(probe|health): /;
const RESOLVED_REFUSAL = /^ProbeTargetRefused: tag mtls-rotation-probe: /;

/** What the operator reads about the attempt: the record's reason or the app's problems. */
function messageOf(result: RotationResult): string {
  return [result.reason ?? '', ...(result.problems ?? [])].join('\n');
}

/**
 * Rotates the attacker's app and measures what reached the outside. An attempt that was not refused for its probe
 * target at all (for example the app was not due) proves nothing: the attack breaks instead of passing.
 */
async function rotateAndMeasure(world: World, app: string, refusal: RegExp, resolver?: Resolver): Promise<AttackOutcome> {
  const w = watch(world.sb);
  const seen = world.hostile.seen.length + (world.hostile6?.seen.length ?? 0);
  const blocked = blockedAttempts.length;
  const result = await world.rotator(resolver).rotateApp(app, { trigger: 'cli' });
  const message = messageOf(result);
  const reached = world.hostile.seen.length + (world.hostile6?.seen.length ?? 0) - seen;
  const beyond = blockedAttempts.slice(blocked).map((a) => a.target);
  const writes = w.changes().length;
  const succeeded = reached > 0 || beyond.length > 0;
  if (!succeeded && !refusal.test(message)) {
    throw new Error(`${app}: expected a probe-target refusal, got ${result.outcome}: ${message.slice(0, 400)}`);
  }
  return {
    succeeded,
    writes,
    tokensOffVault: 0,
    evidence: `${result.outcome}: ${message.slice(0, 300)}; ${reached} connection(s) to the loopback server, attempts beyond loopback: ${beyond.join(', ') || 'none'}`,
  };
}

const attack = (name: string, app: string, refusal: RegExp = STATIC_REFUSAL, resolver?: () => Resolver) => ({
  name,
  attempt: (world: World) => rotateAndMeasure(world, app, refusal, resolver?.()),
});

export default defineAttacks<World>({
  name: 'probe targets: the probe tag points where the rotator can reach and the app owner cannot',
  async setup() {
    const hostile = await startRecordingTlsServer('127.0.0.1');
    const hostile6 = await startRecordingTlsServer('::1', hostile.port).catch(() => undefined);
    const partner = await startRecordingTlsServer('127.0.0.2');
    const rebound = await startRecordingTlsServer('127.0.0.1', partner.port);
    const scenario = independentApps(Object.keys(APPS).map((name) => ({ name })));
    for (const group of scenario.subscriptions[0]!.resourceGroups) {
      const site = group.sites?.[0];
      const tags = site ? APPS[site.name] : undefined;
      if (!site || !tags) continue;
      // The attacker's tags replace the world's own probe tag (its partner would be refused here anyway).
      delete site.tags!['mtls-rotation-probe'];
      for (const [key, value] of Object.entries(tags)) site.tags![key] = value.replaceAll('PORT', String(hostile.port));
    }
    const sb = await startSandbox(scenario);
    const azurite = await startAzurite();
    const config = attackConfig(sb, azurite);
    const deps = (resolver?: Resolver) =>
      createDependencies(config, { tlsCa: sb.caPem, owner: `probe-attacks-${process.pid}`, ...(resolver ? { resolver } : {}) });
    const client = issueCertificate(recordingPki().ca, { commonName: 'candidate of pt-rebind', usage: 'client' });
    return {
      sb,
      azurite,
      hostile,
      hostile6,
      partner,
      rebound,
      config,
      deps,
      rotator: (resolver) => createRotator(deps(resolver), config),
      credential: { certPem: client.certPem, keyPem: client.keyPem, thumbprint: client.thumbprint },
    };
  },
  async teardown(world) {
    await world.sb.stop();
    await world.azurite.stop();
    for (const server of [world.hostile, world.hostile6, world.partner, world.rebound]) await server?.close();
  },
  attacks: [
    attack('the probe tag is the managed identity token URL of the metadata endpoint (169.254.169.254)', 'pt-metadata'),
    attack('the probe tag is the metadata endpoint spelled as one hex number (0xa9fea9fe)', 'pt-metadata-hex'),
    attack("the probe tag is the Azure platform's wireserver (168.63.129.16)", 'pt-wireserver'),
    attack('the probe tag is loopback spelled as one hex number (https://0x7f000001:PORT/)', 'pt-hex'),
    attack('the probe tag is loopback spelled as one decimal number (https://2130706433:PORT/)', 'pt-decimal'),
    attack('the probe tag is IPv4-mapped IPv6 loopback (https://[::ffff:127.0.0.1]:PORT/)', 'pt-mapped'),
    attack('the probe tag is loopback in short form (https://127.1:PORT/)', 'pt-short'),
    attack('the probe tag is loopback in octal (https://0177.0.0.1:PORT/)', 'pt-octal'),
    attack('the probe tag is IPv6 loopback (https://[::1]:PORT/)', 'pt-ipv6-loopback'),
    attack('the probe tag is plain http (http://localhost:PORT/)', 'pt-http'),
    attack('the probe tag is a private address (https://10.0.0.1/)', 'pt-private'),
    attack('the probe tag is a file: URL', 'pt-file'),
    attack('the probe tag is an ftp: URL on loopback', 'pt-ftp'),
    attack('the probe tag hides loopback behind userinfo (https://partner.example.com@127.0.0.1:PORT/)', 'pt-userinfo'),
    attack('the probe tag hides loopback behind a backslash and userinfo (https://127.0.0.1:PORT\\@partner.example.com/)', 'pt-backslash'),
    attack('the probe tag lists 5,000 URLs', 'pt-many', /tag mtls-rotation-probe: 5000 probe targets, at most 5 are allowed \(PROBE_MAX_TARGETS\)/),
    attack('the probe tag is a name that resolves to loopback (localhost:PORT, the system resolver)', 'pt-localhost', RESOLVED_REFUSAL),
    attack(
      'the probe tag is a name that resolves to one public and one loopback address',
      'pt-split-answer',
      RESOLVED_REFUSAL,
      () => scriptedResolver([{ address: '20.50.2.1', family: 4 }, { address: '127.0.0.1', family: 4 }]),
    ),
    attack('the health tag tries to turn the via-app probe to another host (/\\127.0.0.1:PORT/x)', 'pt-health-escape', /tag mtls-rotation-health: /),
    {
      name: "DNS rebinding: the partner's name answers an allowed address to the check and loopback afterwards",
      async attempt(world) {
        // Only the partner's address is allowed; the name's second answer is the attacker's server on loopback.
        const config = attackConfig(world.sb, world.azurite, { PROBE_ALLOWED_TARGETS: '127.0.0.2' });
        const resolver = scriptedResolver([{ address: '127.0.0.2', family: 4 }], [{ address: '127.0.0.1', family: 4 }]);
        // The production prober and gate, trusting the recording servers' CA (the partner's certificate is from it).
        const prober = new HttpsProber({
          timeoutMs: config.probeTimeoutSeconds * 1000,
          extraCaPems: [recordingPki().ca.certPem],
          targets: new ProbeTargetGate(probeTargetPolicyOf(config), { resolver }),
        });
        const url = `https://localhost:${world.partner.port}/`;
        const w = watch(world.sb);
        const rebound = world.rebound.seen.length;
        const partner = world.partner.presented().length;
        const admitted = await prober.admitTarget(url);
        const results = [];
        for (let i = 0; i < 3; i += 1) results.push(await prober.direct(url, world.credential));
        const reachedPartner = world.partner.presented().length - partner;
        if (admitted !== undefined || reachedPartner === 0) {
          throw new Error(`the allowed partner was not probed (${admitted ?? results.map((r) => r.detail).join('; ')}): the attack proves nothing`);
        }
        const reboundSeen = world.rebound.seen.length - rebound;
        return {
          succeeded: reboundSeen > 0,
          writes: w.changes().length,
          tokensOffVault: 0,
          evidence: `resolver asked ${resolver.calls} time(s); ${reachedPartner} handshake(s) at the checked address, ${reboundSeen} connection(s) at the rebound one`,
        };
      },
    },
  ],
});
