// The certificates of a subscription by webspace and by thumbprint, built once from the listing.
import type { CertificateInfo } from '../ports.js';

/** The certificates an inspection may need; in a subscription scan they arrive while settings are being read. */
export interface CertificateLookup {
  inWebspace(webspace: string): Promise<CertificateInfo[]>;
  withThumbprint(thumbprint: string): Promise<CertificateInfo[]>;
}

export class CertificateIndex {
  private readonly byWebspace = new Map<string, CertificateInfo[]>();
  private readonly byThumbprint = new Map<string, CertificateInfo[]>();

  constructor(certificates: readonly CertificateInfo[]) {
    for (const certificate of certificates) {
      push(this.byWebspace, certificate.webspace.toLowerCase(), certificate);
      push(this.byThumbprint, certificate.thumbprint.toUpperCase(), certificate);
    }
  }

  inWebspace(webspace: string): CertificateInfo[] {
    return this.byWebspace.get(webspace.toLowerCase()) ?? [];
  }

  withThumbprint(thumbprint: string): CertificateInfo[] {
    return this.byThumbprint.get(thumbprint.toUpperCase()) ?? [];
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}