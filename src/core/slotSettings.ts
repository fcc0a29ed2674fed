// Slot-sticky settings and what they mean for a rotation (docs/operations.md, "Deployment slots and swaps").
//
// App Service swaps a slot into production with its content and its settings, except the names listed in the site's
// `config/slotConfigNames.appSettingNames` ("deployment slot settings"), which stay with their slot. The settings a
// rotation owns are WEBSITE_LOAD_CERTIFICATES (which certificates the platform loads) and the thumbprint settings
// the `<prefix>-settings` tag names (which one the code presents). After a swap:
// - all of them sticky: each slot keeps its own certificate; a slot's rotation is its own business.
// - none sticky: they travel together with the code; the certificate a slot was rotated (and verified) to goes into
//   production with the swap, and production's goes to the slot. Both stay uploaded (one webspace), so both work.
// - some sticky, some not: a swap splits them. The code asks for the thumbprint that travelled while the platform
//   loads the certificates the sticky WEBSITE_LOAD_CERTIFICATES names. Before any rotation both sides hold the same
//   pair and nothing breaks; once one side is rotated, the next swap leaves production asking for a certificate
//   it does not load. So the rotator does not rotate a site with slots, or a slot, whose owned settings are split,
//   and says which setting to make sticky (or not).
import type { AppRef } from './ports.js';
import { LOAD_CERTIFICATES_SETTING } from './tags.js';

export type SwapBehaviour = 'sticky' | 'travels' | 'split';

/** The port's optional read (`GET …/config/slotConfigNames`; the site's, slots have none of their own). */
export interface SlotSettingsReader {
  readSlotSettingNames?(site: AppRef): Promise<string[]>;
}

export interface SlotSettingsVerdict {
  behaviour: SwapBehaviour;
  sticky: string[];
  travelling: string[];
}

/** How a swap treats the settings a rotation owns. Names compare case-insensitively, as App Service does. */
export function swapBehaviourOf(ownedSettings: readonly string[], slotSettingNames: readonly string[]): SlotSettingsVerdict {
  const stickyNames = new Set(slotSettingNames.map((n) => n.toUpperCase()));
  const owned = [LOAD_CERTIFICATES_SETTING, ...ownedSettings.filter((n) => n.toUpperCase() !== LOAD_CERTIFICATES_SETTING)];
  const sticky = owned.filter((n) => stickyNames.has(n.toUpperCase()));
  const travelling = owned.filter((n) => !stickyNames.has(n.toUpperCase()));
  const behaviour: SwapBehaviour = travelling.length === 0 ? 'sticky' : sticky.length === 0 ? 'travels' : 'split';
  return { behaviour, sticky, travelling };
}

/**
 * The problem that keeps a rotation from starting, or undefined. Only an app that can take part in a swap is
 * checked: a slot, or a site whose slots the rotator manages (`<prefix>-slots=true`). The read goes to the site.
 */
export async function slotSettingsProblem(
  gateway: SlotSettingsReader,
  app: { ref: AppRef; name: string; hasSlots: boolean },
  ownedSettings: readonly string[],
): Promise<string | undefined> {
  if (gateway.readSlotSettingNames === undefined) return undefined;
  if (app.ref.slot === undefined && !app.hasSlots) return undefined;
  const site: AppRef = { subscriptionId: app.ref.subscriptionId, resourceGroup: app.ref.resourceGroup, site: app.ref.site };
  const verdict = swapBehaviourOf(ownedSettings, await gateway.readSlotSettingNames(site));
  if (verdict.behaviour !== 'split') return undefined;
  return (
    `slot settings of ${app.ref.site} split the settings a rotation owns: ${verdict.sticky.join(', ')} stay with their slot in a swap, ` +
    `${verdict.travelling.join(', ')} travel; a swap after a rotation would leave the app asking for a certificate it does not load. ` +
    `Make all of them deployment slot settings, or none (az webapp config appsettings set --slot-settings …)`
  );
}
