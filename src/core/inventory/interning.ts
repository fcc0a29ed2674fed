// One copy of each string that repeats across apps (thumbprints, messages): a scan of 10,000 apps on one certificate
// keeps one thumbprint string, not 10,000 (peak RSS of the large scans).
export class Interner {
  private readonly strings = new Map<string, string>();

  intern(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    this.strings.set(value, value);
    return value;
  }
}
