// Attacks on the HTTP API's client-certificate authentication, through the real HTTP path: the
// function app under the local host, over real HTTP, against the sandbox's demo world and Azurite, with
// CLIENT_CERT_AUTH=required. Every attacker sends the most damaging call there is, a forced rotation of `orders`
// (it runs inline), so a bypass would show up as ARM writes in the sandbox's request log. `succeeded` = the request
// was authorized (a 2xx); `writes` = the ARM writes it caused. Each attack also names the refusal it expects: a
// different answer (a 500 above all) fails the attack even when nothing was authorized.
import { DEMO_SUBSCRIPTION_ID, demoScenario, startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { startAzurite, type Azurite } from '../../../sandbox/azurite.js';
import { sandboxAppSettings } from '../../../local/sandboxSettings.js';
import { configureServices, resetServices } from '../../../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../../../src/host/index.js';
import { uniqueName } from '../../helpers/azurite.js';
import { issue, makeCa, makeCertificate, SERVER_AUTH, type TestCertificate } from '../../helpers/callerPki.js';
import { rawRequest, type RawResponse } from '../../helpers/rawHttp.js';
import { watch } from '../../integration/world.js';
import { defineAttacks, type AttackOutcome } from '../harness.js';

const KEY = 'trust-api-callers-key';
const FORCE = JSON.stringify({ app: 'orders', force: true });

interface World {
  sb: Sandbox;
  azurite: Azurite;
  host: LocalHost;
  root: TestCertificate;
  issuing: TestCertificate;
  opsCli: TestCertificate;
  otherRoot: TestCertificate;
}

const OPS = [['O', 'Contoso'], ['CN', 'ops-cli']] as Array<[string, string]>;
const ALLOWED_SUBJECT = 'CN=ops-cli,O=Contoso | CN=Contoso Issuing CA,O=Contoso';

/** Runs `work` with some app settings changed, as an operator (or an attacker with settings access) would set them. */
async function withSettings<T>(overrides: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(overrides).map((k) => [k, process.env[k]]));
  Object.assign(process.env, overrides);
  resetServices();
  try {
    return await work();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetServices();
  }
}

/** One request with exactly these header lines; the outcome measured from the sandbox's request log. */
async function attempt(
  w: World,
  certificateHeaders: string[],
  expected: number[],
  options: { method?: string; path?: string; body?: string; key?: string | null } = {},
): Promise<AttackOutcome> {
  const mark = watch(w.sb);
  const headers: Array<[string, string]> = certificateHeaders.map((value) => ['X-ARR-ClientCert', value]);
  if (options.key !== null) headers.push(['x-functions-key', options.key ?? KEY]);
  let res: RawResponse;
  try {
    res = await rawRequest(`${w.host.apiUrl}${options.path ?? '/rotations'}`, options.method ?? 'POST', headers, options.method === 'GET' ? undefined : (options.body ?? FORCE));
  } catch (error) {
    // The server closing the connection on an oversized request is a refusal too.
    res = { status: 0, headers: {}, text: String(error), json: undefined };
  }
  const writes = mark.changes().length;
  const evidence = `HTTP ${res.status} ${res.json?.error?.code ?? ''}: ${String(res.json?.error?.message ?? res.text).slice(0, 300)}`;
  if (!expected.includes(res.status)) throw new Error(`expected HTTP ${expected.join(' or ')}, got ${evidence}`);
  return { succeeded: res.status >= 200 && res.status < 300, writes, tokensOffVault: 0, evidence };
}

const merge = (a: AttackOutcome, b: AttackOutcome): AttackOutcome => ({
  succeeded: a.succeeded || b.succeeded,
  writes: a.writes + b.writes,
  tokensOffVault: 0,
  evidence: `${a.evidence} | ${b.evidence}`,
});

export default defineAttacks<World>({
  name: 'API callers: client-certificate authentication of the HTTP API',
  async setup() {
    const root = makeCa('Contoso Root CA');
    const issuing = issue(root, [['O', 'Contoso'], ['CN', 'Contoso Issuing CA']], { ca: true, pathLength: 0 });
    const opsCli = issue(issuing, OPS);
    const otherRoot = makeCa('Fabrikam Root CA');
    const sb = await startSandbox(demoScenario());
    const azurite = await startAzurite();
    configureServices({ tlsCa: sb.caPem });
    const host = await startLocalHost({
      register: () => import('../../../src/functions/index.js'),
      settings: {
        ...sandboxAppSettings({
          armEndpoint: sb.armEndpoint,
          token: sb.token,
          subscriptionId: DEMO_SUBSCRIPTION_ID,
          storageConnectionString: azurite.connectionString,
          functionsKey: KEY,
          rotationQueue: uniqueName('attackq'),
          rotationTable: uniqueName('attackt'),
        }),
        CLIENT_CERT_AUTH: 'required',
        CLIENT_CERT_TRUSTED_CA: root.pem,
        CLIENT_CERT_INTERMEDIATES: issuing.pem,
        CLIENT_CERT_ALLOWED_SUBJECTS: ALLOWED_SUBJECT,
        CLIENT_CERT_ALLOWED_THUMBPRINTS: '',
      },
      localSettings: false,
      port: 0,
      log: () => undefined,
      timers: { scheduled: false },
      queues: { enabled: false },
    });
    const world = { sb, azurite, host, root, issuing, opsCli, otherRoot };
    // The control: the allowed caller is served (a read, no writes). Without it a world that refuses everyone would
    // make every attack look defended.
    const control = await rawRequest(`${host.apiUrl}/certificates`, 'GET', [['x-functions-key', KEY], ['X-ARR-ClientCert', opsCli.header]]);
    if (control.status !== 200) throw new Error(`the allowed caller is not served (HTTP ${control.status} ${control.text.slice(0, 300)})`);
    return world;
  },
  async teardown(w) {
    await w.host.stop();
    resetServices();
    await w.sb.stop();
    await w.azurite.stop();
  },
  attacks: [
    {
      name: 'configures a leaf (CA:FALSE) as CLIENT_CERT_TRUSTED_CA and calls with a certificate signed by that leaf\'s key',
      attempt: async (w) => {
        const minted = issue(w.opsCli, OPS);
        // Refused at start-up: every protected call answers 503 naming the setting until it is fixed.
        const misconfigured = await withSettings({ CLIENT_CERT_TRUSTED_CA: w.opsCli.pem, CLIENT_CERT_INTERMEDIATES: '' }, () => attempt(w, [minted.header], [503]));
        if (!/CLIENT_CERT_TRUSTED_CA \(CN=ops-cli,O=Contoso\) is not a CA certificate/.test(misconfigured.evidence ?? '')) {
          throw new Error(`the start-up refusal does not name the setting: ${misconfigured.evidence}`);
        }
        // With the real CA as anchor, the leaf's signature leads nowhere.
        return merge(misconfigured, await attempt(w, [minted.header], [401]));
      },
    },
    {
      name: 'presents a certificate minted with a trusted caller\'s key (the leaf used as a CA), alone and with the leaf as its "chain"',
      attempt: async (w) => {
        const minted = issue(w.opsCli, OPS);
        const alone = await attempt(w, [minted.header], [401]);
        return merge(alone, await attempt(w, [(minted.pem + w.opsCli.pem).replace(/\n/g, ' ')], [400]));
      },
    },
    {
      name: 'sends the allowed certificate as DER followed by extra bytes',
      attempt: (w) => attempt(w, [Buffer.concat([w.opsCli.der, Buffer.from('{"admin":true}')]).toString('base64')], [400]),
    },
    {
      name: 'sends two DER certificates joined in one header (its own first, the allowed one second)',
      attempt: (w) => attempt(w, [Buffer.concat([issue(w.otherRoot, OPS).der, w.opsCli.der]).toString('base64')], [400]),
    },
    {
      name: 'repeats the X-ARR-ClientCert header: the allowed certificate in one line, its own in the other (both orders)',
      attempt: async (w) => {
        const own = issue(w.otherRoot, OPS).header;
        return merge(await attempt(w, [w.opsCli.header, own], [400]), await attempt(w, [own, w.opsCli.header], [400]));
      },
    },
    {
      name: 'puts two PEM certificates in one header (one-line PEM, as a front end folds it)',
      attempt: (w) => attempt(w, [(w.opsCli.pem + issue(w.otherRoot, OPS).pem).replace(/\n/g, ' ')], [400]),
    },
    {
      name: 'calls with an expired certificate of the allowed subject',
      attempt: (w) => attempt(w, [issue(w.issuing, OPS, { notBefore: new Date(Date.now() - 400 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }).header], [401]),
    },
    {
      name: 'calls with a not-yet-valid certificate of the allowed subject',
      attempt: (w) => attempt(w, [issue(w.issuing, OPS, { notBefore: new Date(Date.now() + 86_400_000), notAfter: new Date(Date.now() + 400 * 86_400_000) }).header], [401]),
    },
    {
      name: 'calls with a self-signed certificate that carries the allowed subject',
      attempt: (w) => attempt(w, [makeCertificate({ subject: OPS }).header], [401]),
    },
    {
      name: 'calls with a certificate from another CA whose subject is the allowed subject with a thumbprint-lookalike CN',
      attempt: async (w) => {
        const lookalike = issue(w.otherRoot, [['O', 'Contoso'], ['CN', w.opsCli.thumbprint]]);
        return merge(await attempt(w, [lookalike.header], [401]), await attempt(w, [issue(w.otherRoot, OPS).header], [401]));
      },
    },
    {
      name: 'spoofs the issuer: the allowed subject and issuer names, signed by a CA of its own with the issuing CA\'s name',
      attempt: (w) => {
        const fakeIssuing = makeCertificate({ subject: w.issuing.subject, issuerName: w.root.subject, ca: true });
        return attempt(w, [issue(fakeIssuing, OPS).header], [401]);
      },
    },
    {
      name: 'gets an intermediate without the CA flag configured (CLIENT_CERT_INTERMEDIATES) and calls with a certificate it signed',
      attempt: async (w) => {
        const rogue = issue(w.root, [['O', 'Contoso'], ['CN', 'Rogue Issuing CA']], { ca: false, keyUsage: ['keyCertSign', 'digitalSignature'], extendedKeyUsage: null });
        const caller = issue(rogue, OPS);
        const configured = await withSettings({ CLIENT_CERT_INTERMEDIATES: w.issuing.pem + rogue.pem }, () => attempt(w, [caller.header], [503]));
        return merge(configured, await attempt(w, [caller.header], [401]));
      },
    },
    {
      name: 'calls through a sub-CA configured below the issuing CA, whose pathLen 0 forbids any CA below it',
      attempt: (w) => {
        const deeper = issue(w.issuing, [['O', 'Contoso'], ['CN', 'Deeper CA']], { ca: true });
        return withSettings({ CLIENT_CERT_INTERMEDIATES: w.issuing.pem + deeper.pem }, () => attempt(w, [issue(deeper, OPS).header], [401]));
      },
    },
    {
      name: 'takes the API down with an unreadable CLIENT_CERT_TRUSTED_CA while CLIENT_CERT_AUTH=off (the API must keep serving)',
      attempt: async (w) => {
        const outcome = await withSettings(
          { CLIENT_CERT_AUTH: 'off', CLIENT_CERT_TRUSTED_CA: 'garbage', CLIENT_CERT_INTERMEDIATES: '-----BEGIN CERTIFICATE-----', CLIENT_CERT_ALLOWED_SUBJECTS: '|||' },
          () => attempt(w, [], [200, 503], { method: 'GET', path: '/certificates' }),
        );
        // The attacker wins when the inventory is down (503); a 200 is the API serving on.
        return { ...outcome, succeeded: !outcome.succeeded };
      },
    },
    {
      name: 'stuffs the header: 200 KB (past the server\'s header limit) and 15 KB of base64 junk (under it)',
      attempt: async (w) => {
        const huge = await attempt(w, ['A'.repeat(200_000)], [0, 431]);
        return merge(huge, await attempt(w, [Buffer.alloc(11_000, 0x30).toString('base64')], [400]));
      },
    },
    {
      name: 'calls with a trusted certificate whose subject is the allowed one in reversed RDN order, and one in other case',
      attempt: async (w) => {
        const reversed = issue(w.issuing, [['CN', 'ops-cli'], ['O', 'Contoso']]);
        return merge(await attempt(w, [reversed.header], [403]), await attempt(w, [issue(w.issuing, [['O', 'Contoso'], ['CN', 'OPS-CLI']]).header], [403]));
      },
    },
    {
      name: 'presents the trust anchor itself (public) as its client certificate',
      attempt: (w) => attempt(w, [w.root.header], [401]),
    },
    {
      name: 'calls with a server-only certificate (EKU serverAuth) of the allowed subject from the issuing CA',
      attempt: (w) => attempt(w, [issue(w.issuing, OPS, { extendedKeyUsage: [SERVER_AUTH] }).header], [401]),
    },
    {
      name: 'replays the allowed certificate (it is public) without the function key',
      attempt: (w) => attempt(w, [w.opsCli.header], [401], { key: null }),
    },
  ],
});
