// Stage: make the candidate exist as a certificate resource in the app's webspace, without touching
// the app. Every candidate is read and checked before anything is uploaded, so a refused candidate
// leaves nothing behind.
import { randomPassword, writePfx } from '../../crypto/index.js';
import type { ReadCandidate } from '../candidate.js';
import { collect } from '../concurrency.js';
import { PreconditionError } from '../errors.js';
import type { CertificateInfo } from '../ports.js';
import { sameThumbprint } from '../thumbprints.js';
import { versionIdOf } from '../sources/sourceRef.js';
import { getTag } from '../tags.js';
import { TRUST_REFUSALS } from '../refusals.js';
import { addStep, crash, dimensionsOf, finish, loadCandidates, save, type RotationContext } from './context.js';

/** `<kv-name>-<first 8 of thumbprint>`, lowercase; the full thumbprint when the short name is taken. */
export function certificateResourceName(keyVaultName: string, thumbprint: string, taken: (name: string) => boolean): string {
  const base = keyVaultName.toLowerCase();
  const short = `${base}-${thumbprint.slice(0, 8).toLowerCase()}`;
  if (!taken(short)) return short;
  const long = `${base}-${thumbprint.toLowerCase()}`;
  if (!taken(long)) return long;
  throw new PreconditionError(`certificate names ${short} and ${long} are both taken by other certificates`);
}

export async function stageCandidate(ctx: RotationContext): Promise<void> {
  const { gateway } = ctx.deps;
  const refusal = await loadCandidates(ctx);
  if (refusal) {
    // A secret that breaks a trust boundary (oversized, a PFX asking for hours of KDF, a weak key) needs a person,
    // like a refused source at a scan: the same event and alert, besides the aborted outcome.
    if (TRUST_REFUSALS.includes(refusal.refusal)) {
      ctx.deps.telemetry.event('TrustRefused', dimensionsOf(ctx.record, { refusal: refusal.refusal, problem: refusal.message }));
    }
    await finish(ctx, 'aborted', `CandidateRefused: ${refusal.refusal}: ${refusal.message}`);
    return;
  }
  const { subscriptionId } = ctx.record.app;
  const resourceGroup = ctx.site.ref.resourceGroup;
  const inGroup = await collect(gateway.listCertificatesInResourceGroup(subscriptionId, resourceGroup));
  const webspace = ctx.site.webspace.toLowerCase();
  const details: string[] = [];

  for (const binding of ctx.record.bindings) {
    const byName = (name: string) => inGroup.find((c) => c.name.toLowerCase() === name.toLowerCase());
    // Already done: the resource named in the record exists and holds the candidate.
    if (binding.certificateResourceName) {
      const existing = byName(binding.certificateResourceName);
      if (existing && sameThumbprint(existing.thumbprint, binding.newThumbprint)) {
        details.push(`${existing.name} already staged`);
        continue;
      }
    }
    // A resource of the webspace that already holds this thumbprint is reused: no upload.
    const reusable = inGroup.find(
      (c) => c.webspace.toLowerCase() === webspace && sameThumbprint(c.thumbprint, binding.newThumbprint),
    );
    if (reusable) {
      binding.certificateResourceName = reusable.name;
      if (binding.uploaded && !isOurs(ctx, reusable, binding.source.version)) binding.uploaded = false;
      binding.uploaded ??= false;
      details.push(`reused ${reusable.name}`);
      continue;
    }
    const source = ctx.deps.sources.parseRef(binding.source);
    if (typeof source === 'string') throw new PreconditionError(`the source of ${versionIdOf(binding.source)} cannot be read: ${source}`);
    const name =
      binding.certificateResourceName && !byName(binding.certificateResourceName)
        ? binding.certificateResourceName
        : certificateResourceName(source.name, binding.newThumbprint, (n) => !!byName(n));
    // Intent first: if the process dies after the upload, resume finds the resource by this name.
    binding.certificateResourceName = name;
    binding.uploaded = true;
    await save(ctx);
    await crash(ctx, 'beforeUpload');

    const candidate = ctx.candidates.get(binding.newThumbprint);
    if (!candidate) throw new PreconditionError(`candidate ${binding.newThumbprint} was not read`);
    const { pfx, password } = uploadFormOf(candidate);
    const uploaded = await gateway.uploadCertificate({
      subscriptionId,
      resourceGroup,
      name,
      location: ctx.site.location,
      pfx,
      password,
      ...(ctx.site.serverFarmId ? { serverFarmId: ctx.site.serverFarmId } : {}),
      tags: {
        [ctx.names.source]: binding.source.uri,
        [ctx.names.version]: binding.source.version,
        [ctx.names.managed]: 'true',
      },
    });
    await crash(ctx, 'afterUpload');
    if (!sameThumbprint(uploaded.thumbprint, binding.newThumbprint)) {
      throw new PreconditionError(
        `ARM reports thumbprint ${uploaded.thumbprint} for uploaded certificate ${name}, expected ${binding.newThumbprint}`,
      );
    }
    inGroup.push(uploaded);
    details.push(`uploaded ${name}`);
  }
  addStep(ctx, 'staged', details.join('; '));
  await save(ctx);
  await crash(ctx, 'afterStage');
}

/**
 * The PFX App Service is given for a candidate: written once per read candidate, so the apps of one batch that
 * share a Key Vault version (see CandidateReads) share one encryption of it. Held by the candidate object only,
 * and gone with it.
 */
const uploadForms = new WeakMap<ReadCandidate, { pfx: Buffer; password: string }>();
function uploadFormOf(candidate: ReadCandidate): { pfx: Buffer; password: string } {
  let form = uploadForms.get(candidate);
  if (form === undefined) {
    const password = randomPassword();
    form = { pfx: writePfx(candidate.bundle, password, { algorithm: '3des' }), password };
    uploadForms.set(candidate, form);
  }
  return form;
}

function isOurs(ctx: RotationContext, certificate: CertificateInfo, version: string): boolean {
  return (
    getTag(certificate.tags, ctx.names.managed)?.toLowerCase() === 'true' &&
    getTag(certificate.tags, ctx.names.version) === version
  );
}
