// Who may grant a source, end to end through the real SDKs: the vault owner's consumers tag or the
// operator's SOURCE_POLICY each suffice; without either the source is refused with SourceNotAuthorized and nothing is
// written. The refusals themselves, with every trick an app owner has, are the trust suite's (test/security/).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createRotator, type Rotator } from '../../src/core/index.js';
import { useAzurite } from '../helpers/azurite.js';
import { appRef, deps as makeDeps, independentApps, sandboxConfig, SUB, VAULT, watch } from './world.js';

const GRANTS = {
  'the vault owner lists the app\'s resource group in the certificate\'s consumers tag': { app: 'by-tag', consumers: `/subscriptions/${SUB}/resourceGroups/rg-by-tag`, committed: true },
  'the operator grants the certificate to the app\'s resource group in SOURCE_POLICY': { app: 'by-policy', consumers: '', committed: true },
  'neither grants it (the vault owner names another resource group)': { app: 'by-nobody', consumers: `/subscriptions/${SUB}/resourceGroups/rg-by-tag`, committed: false },
} as const;

const azurite = useAzurite();
let sb: Sandbox;
let rotator: Rotator;

beforeAll(async () => {
  const scenario = independentApps(Object.values(GRANTS).map((g) => ({ name: g.app })));
  for (const grant of Object.values(GRANTS)) {
    const certificate = scenario.vaults![0]!.certificates!.find((c) => c.name === `${grant.app}-client`)!;
    certificate.tags = { 'mtls-rotation-consumers': grant.consumers };
  }
  sb = await startSandbox(scenario);
  const vaultHost = new URL(sb.vaultUrl(VAULT)).host;
  const config = sandboxConfig(sb, azurite().connectionString, SUB, {
    KEYVAULT_ALLOWED_HOSTS: vaultHost,
    SOURCE_POLICY: `/subscriptions/${SUB}/resourceGroups/rg-by-policy => ${vaultHost}/by-policy-client`,
  });
  rotator = createRotator(makeDeps(sb, config), config);
}, 120_000);

afterAll(async () => {
  await sb?.stop();
});

describe('a source is granted by its vault owner or by the operator, and by nobody else', () => {
  it.each(Object.entries(GRANTS))('%s', async (_sentence, grant) => {
    const w = watch(sb);
    const result = await rotator.rotateApp(grant.app, { trigger: 'cli' });
    if (grant.committed) {
      expect(result.outcome, result.reason).toBe('committed');
      expect(sb.control.loadedThumbprints(appRef(grant.app))).toEqual([sb.control.thumbprint(`${VAULT}/${grant.app}-client/latest`)]);
      return;
    }
    expect(result.outcome).toBe('skipped');
    expect(result.plan?.bindings[0]?.refusal).toMatchObject({ refusal: 'SourceNotAuthorized' });
    expect(result.plan?.bindings[0]?.refusal?.message).toMatch(/no grant lets \/subscriptions\/.*\/resourceGroups\/rg-by-nobody/);
    expect(result.plan?.action).toBe('alert');
    expect(w.changes()).toEqual([]);
  });
});
