// Thumbprints as App Service writes them (uppercase hex SHA-1, 40 chars) and the
// WEBSITE_LOAD_CERTIFICATES list: comma separated, people type spaces, lowercase, duplicates, empty entries.

const THUMBPRINT = /^[0-9A-F]{40}$/;

/** Trimmed, uppercased thumbprint, or undefined when the value is not 40 hex characters. */
export function normaliseThumbprint(value: string): string | undefined {
  const candidate = value.trim().toUpperCase();
  return THUMBPRINT.test(candidate) ? candidate : undefined;
}

export function isThumbprint(value: string): boolean {
  return normaliseThumbprint(value) !== undefined;
}

export function sameThumbprint(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return a.trim().toUpperCase() === b.trim().toUpperCase();
}

export type LoadCertificates =
  | { mode: 'wildcard' }
  | {
      mode: 'explicit';
      /** Normalised, de-duplicated, in the order the setting lists them. */
      thumbprints: string[];
      /** Entries that are not thumbprints, as written (trimmed). */
      invalid: string[];
    };

/**
 * Parses WEBSITE_LOAD_CERTIFICATES. A `*` entry anywhere means every certificate of the webspace is
 * loaded: the conservative reading, since treating it as explicit could let retirement delete
 * something the app loads.
 */
export function parseLoadCertificates(value: string | undefined): LoadCertificates {
  const entries = (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.includes('*')) return { mode: 'wildcard' };
  const thumbprints: string[] = [];
  const invalid: string[] = [];
  for (const entry of entries) {
    const thumbprint = normaliseThumbprint(entry);
    if (thumbprint === undefined) invalid.push(entry);
    else if (!thumbprints.includes(thumbprint)) thumbprints.push(thumbprint);
  }
  return { mode: 'explicit', thumbprints, invalid };
}

/**
 * Replaces `oldThumbprint` by `newThumbprint` in a comma list, keeping the order, the other entries
 * and their original spelling (spaces and case included). The new entry is written in App Service
 * form. When the new thumbprint is already listed, the old entries are dropped instead of creating a
 * duplicate.
 */
export function replaceThumbprint(
  value: string,
  oldThumbprint: string,
  newThumbprint: string,
): { value: string; changed: boolean } {
  const target = normaliseThumbprint(oldThumbprint);
  const replacement = normaliseThumbprint(newThumbprint);
  if (target === undefined) throw new TypeError(`Not a thumbprint: '${oldThumbprint}'`);
  if (replacement === undefined) throw new TypeError(`Not a thumbprint: '${newThumbprint}'`);
  const entries = value.split(',');
  const alreadyListed = entries.some((entry) => normaliseThumbprint(entry) === replacement);
  let changed = false;
  let replaced = alreadyListed;
  const result: string[] = [];
  for (const entry of entries) {
    if (normaliseThumbprint(entry) !== target || target === replacement) {
      result.push(entry);
      continue;
    }
    changed = true;
    if (replaced) continue;
    replaced = true;
    const leading = /^\s*/.exec(entry)?.[0] ?? '';
    const trailing = /\s*$/.exec(entry)?.[0] ?? '';
    result.push(`${leading}${replacement}${trailing}`);
  }
  return { value: changed ? result.join(',') : value, changed };
}

/**
 * Replaces a thumbprint inside the value of a setting named by the `-settings` tag. Such a setting
 * holds a thumbprint (or a comma list of them), or embeds one in a longer value such as
 * `/var/ssl/private/<thumbprint>.p12`; only a whole 40-hex run equal to the old thumbprint
 * (any case) is replaced, keeping the case it was written in. Anything else is left as it is.
 */
export function replaceThumbprintInValue(
  value: string,
  oldThumbprint: string,
  newThumbprint: string,
): { value: string; changed: boolean } {
  const entries = value.split(',');
  if (entries.length > 0 && entries.every((entry) => isThumbprint(entry))) {
    return replaceThumbprint(value, oldThumbprint, newThumbprint);
  }
  const target = normaliseThumbprint(oldThumbprint);
  const replacement = normaliseThumbprint(newThumbprint);
  if (target === undefined || replacement === undefined) throw new TypeError('Not a thumbprint');
  let changed = false;
  const next = value.replace(/(?<![0-9A-Fa-f])[0-9A-Fa-f]{40}(?![0-9A-Fa-f])/g, (match) => {
    if (match.toUpperCase() !== target) return match;
    changed = true;
    return match === match.toLowerCase() ? replacement.toLowerCase() : replacement;
  });
  return { value: next, changed };
}
