// Binding resolution: which certificate resources an app loads, where each comes from, whether the app may use that
// source, and what the source has now. Facts only; whether a binding is due is the decision's (src/core/decision/).
import { describeError, toRotatorError } from '../errors.js';
import type { CertificateInfo, KeyVaultCertificateVersion, KeyVaultSource } from '../ports.js';
import type { CandidateRefusal } from '../refusals.js';
import { authorizeSource, checkVaultHost } from '../trust.js';
import { getTag, LOAD_CERTIFICATES_SETTING, parseKeyVaultSourceUrl, sourceKeyOf, sourceUrlOf } from '../tags.js';
import { sameThumbprint } from '../thumbprints.js';
import type { InventoryContext } from './context.js';
import type { InventoryApp, InventoryBinding, LoadedCertificate, SourceOrigin } from './types.js';

export async function explicitBinding(
  ctx: InventoryContext,
  app: InventoryApp,
  thumbprint: string,
  webspaceCertificates: CertificateInfo[],
  findByThumbprint: (thumbprint: string) => Promise<CertificateInfo[]>,
): Promise<InventoryBinding> {
  thumbprint = ctx.strings.intern(thumbprint);
  const binding: InventoryBinding = { key: thumbprint, mode: 'explicit', dangling: false, loaded: { thumbprint } };
  const resources = webspaceCertificates.filter((c) => sameThumbprint(c.thumbprint, thumbprint));
  // Several resources may hold one thumbprint; prefer one whose source is known.
  const resource = resources.find((c) => isLinked(c) || hasRotatorSource(ctx, c)) ?? resources[0];
  try {
    if (resource) {
      binding.certificate = resource;
      binding.loaded = loadedOf(ctx, resource);
      const found = (await sourceOfCertificate(ctx, resource)) ?? (app.tags.source ? { source: app.tags.source, origin: 'appTag' as const } : undefined);
      if (found) {
        binding.source = found.source;
        binding.sourceOrigin = found.origin;
      } else {
        binding.problem = `certificate ${resource.name} (${thumbprint}) has no Key Vault source: link it to Key Vault or tag the app ${ctx.names.source}`;
      }
    } else {
      binding.dangling = true;
      let refusedElsewhere: CandidateRefusal | undefined;
      if (app.tags.source) {
        binding.source = app.tags.source;
        binding.sourceOrigin = 'appTag';
      } else {
        // The pin is the app owner's to write, so a certificate elsewhere with that thumbprint names a source only
        // if the app is authorized for it: pinning another team's (public) thumbprint must not fetch their key.
        for (const elsewhere of await findByThumbprint(thumbprint)) {
          const found = await sourceOfCertificate(ctx, elsewhere);
          if (!found) continue;
          const checked = await authorizedLatest(ctx, app, found.source);
          if (checked.refused) {
            refusedElsewhere ??= checked.refused;
            continue;
          }
          binding.source = found.source;
          binding.sourceOrigin = 'elsewhere';
          binding.latest = checked.latest;
          break;
        }
      }
      if (!binding.source && refusedElsewhere) {
        binding.refused = refusedElsewhere;
        binding.problem = `SourceNotAuthorized: ${thumbprint} is pinned in ${LOAD_CERTIFICATES_SETTING} but has no certificate resource in the webspace, and the only sources that hold it are not granted to this app: ${refusedElsewhere.message}`;
      } else if (!binding.source) {
        binding.problem = `DanglingThumbprint without a source: ${thumbprint} is pinned in ${LOAD_CERTIFICATES_SETTING} but no certificate resource in the webspace has it, and no Key Vault source is known (tag the app ${ctx.names.source})`;
      }
    }
    if (binding.source && binding.sourceOrigin !== 'elsewhere') await applyAuthorizedLatest(ctx, app, binding);
  } catch (error) {
    binding.problem = describeError(error);
  }
  return binding;
}

/**
 * `*` mode: the bindings are the webspace's certificates that have a Key Vault source, narrowed to the
 * app's source tag when it has one; per source the app loads (picks) the newest version present.
 */
export async function wildcardBindings(
  ctx: InventoryContext,
  app: InventoryApp,
  webspaceCertificates: CertificateInfo[],
): Promise<InventoryBinding[]> {
  const groups = new Map<string, { source: KeyVaultSource; origin: SourceOrigin; certificates: CertificateInfo[] }>();
  const problems: string[] = [];
  for (const certificate of webspaceCertificates) {
    let found: { source: KeyVaultSource; origin: SourceOrigin } | undefined;
    try {
      found = await sourceOfCertificate(ctx, certificate);
    } catch (error) {
      problems.push(`source of certificate ${certificate.name} cannot be resolved: ${describeError(error)}`);
      continue;
    }
    if (!found) continue;
    const key = sourceKeyOf(found.source);
    if (app.tags.source && key !== sourceKeyOf(app.tags.source)) continue;
    const group = groups.get(key);
    if (group) group.certificates.push(certificate);
    else groups.set(key, { ...found, certificates: [certificate] });
  }
  if (app.tags.source && !groups.has(sourceKeyOf(app.tags.source))) {
    groups.set(sourceKeyOf(app.tags.source), { source: app.tags.source, origin: 'appTag', certificates: [] });
  }
  app.problems.push(...problems);
  const bindings: InventoryBinding[] = [];
  for (const [key, group] of groups) {
    const newest = [...group.certificates].sort(
      (a, b) => (b.expirationDate?.getTime() ?? 0) - (a.expirationDate?.getTime() ?? 0),
    )[0];
    const binding: InventoryBinding = {
      key,
      mode: 'wildcard',
      dangling: false,
      source: group.source,
      sourceOrigin: group.origin,
    };
    if (newest) {
      binding.certificate = newest;
      binding.loaded = loadedOf(ctx, newest);
    }
    try {
      await applyAuthorizedLatest(ctx, app, binding);
    } catch (error) {
      binding.problem = describeError(error);
    }
    bindings.push(binding);
  }
  return bindings;
}

/** What an app loads from a certificate resource; one object per resource, shared by the apps of its webspace. */
function loadedOf(ctx: InventoryContext, certificate: CertificateInfo): LoadedCertificate {
  let loaded = ctx.loaded.get(certificate);
  if (loaded === undefined) {
    loaded = { thumbprint: ctx.strings.intern(certificate.thumbprint.toUpperCase()) };
    if (certificate.issueDate) loaded.notBefore = certificate.issueDate;
    if (certificate.expirationDate) loaded.notAfter = certificate.expirationDate;
    ctx.loaded.set(certificate, loaded);
  }
  return loaded;
}

function isLinked(certificate: CertificateInfo): boolean {
  return !!certificate.keyVaultId && !!certificate.keyVaultSecretName;
}

function hasRotatorSource(ctx: InventoryContext, certificate: CertificateInfo): boolean {
  return getTag(certificate.tags, ctx.names.source) !== undefined;
}

/**
 * The Key Vault source a certificate resource names itself: its link, or the rotator's tag. Resolved once per
 * resource (every app of the webspace asks), so the apps share one source object.
 */
function sourceOfCertificate(
  ctx: InventoryContext,
  certificate: CertificateInfo,
): Promise<{ source: KeyVaultSource; origin: SourceOrigin } | undefined> {
  let found = ctx.sources.get(certificate);
  if (found === undefined) {
    found = resolveSourceOfCertificate(ctx, certificate);
    found.catch(() => undefined);
    ctx.sources.set(certificate, found);
  }
  return found;
}

async function resolveSourceOfCertificate(
  ctx: InventoryContext,
  certificate: CertificateInfo,
): Promise<{ source: KeyVaultSource; origin: SourceOrigin } | undefined> {
  if (certificate.keyVaultId && certificate.keyVaultSecretName) {
    const vaultId = certificate.keyVaultId;
    const uri = await ctx.vaultUris.get(vaultId.toLowerCase(), async () => {
      try {
        return await ctx.deps.gateway.resolveVaultUri(vaultId);
      } catch (error) {
        throw toRotatorError(error, `vault ${vaultId} cannot be resolved`);
      }
    });
    return { source: { vaultUrl: uri.replace(/\/+$/, ''), name: certificate.keyVaultSecretName }, origin: 'linked' };
  }
  const tagged = getTag(certificate.tags, ctx.names.source);
  if (tagged !== undefined) {
    const parsed = parseKeyVaultSourceUrl(tagged);
    if (typeof parsed !== 'string') return { source: parsed, origin: 'rotatorTag' };
  }
  return undefined;
}

/**
 * Key Vault's latest version of a source, if this app may use it: the host must be a Key Vault host (or allow-listed)
 * before anything is sent, and an operator grant or the vault owner's consumers tag on the certificate must name the
 * app's scope. Reading the certificate (public data) to see its tag happens only on a vault host.
 */
async function authorizedLatest(
  ctx: InventoryContext,
  app: InventoryApp,
  source: KeyVaultSource,
): Promise<{ latest?: KeyVaultCertificateVersion; refused?: CandidateRefusal }> {
  const host = checkVaultHost(source.vaultUrl, ctx.config.keyVaultAllowedHosts);
  if (host.kind === 'refused') {
    return { refused: { refusal: 'SourceNotAuthorized', message: `${sourceUrlOf(source)} is not a Key Vault source: ${host.message}` } };
  }
  const byPolicy = authorizeSource(app.ref, source, ctx.config.sourcePolicy, undefined, ctx.names.consumers);
  const latest = await latestOf(ctx, source);
  if (byPolicy.authorized) return latest ? { latest } : {};
  const byTag = authorizeSource(app.ref, source, ctx.config.sourcePolicy, getTag(latest?.tags, ctx.names.consumers), ctx.names.consumers);
  if (byTag.authorized) return latest ? { latest } : {};
  return { refused: { refusal: 'SourceNotAuthorized', message: byTag.message } };
}

async function applyAuthorizedLatest(ctx: InventoryContext, app: InventoryApp, binding: InventoryBinding): Promise<void> {
  if (!binding.source) return;
  const checked = await authorizedLatest(ctx, app, binding.source);
  if (checked.refused) {
    binding.refused = checked.refused;
    binding.problem = `SourceNotAuthorized: ${checked.refused.message}`;
    return;
  }
  if (checked.latest) binding.latest = checked.latest;
}

async function latestOf(ctx: InventoryContext, source: KeyVaultSource): Promise<KeyVaultCertificateVersion | undefined> {
  return ctx.latest.get(sourceKeyOf(source), async () => {
    try {
      return await ctx.deps.sources.getLatest(source);
    } catch (error) {
      throw toRotatorError(error, `Key Vault certificate ${sourceUrlOf(source)} cannot be read`);
    }
  });
}