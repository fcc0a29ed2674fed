// Lives apart from pkcs12.ts so that pki.ts can throw it without an import cycle; pkcs12.ts re-exports it
// (the agreed contract names it there).

export type CertificateFormatErrorCode =
  | 'WrongPassword'
  | 'NoPrivateKey'
  | 'NoCertificate'
  | 'Corrupt'
  | 'KeyMismatch'
  | 'UnsupportedContentType'
  | 'TooManyIterations';

/**
 * Certificate material that cannot be used as given. Messages name what is wrong and never contain the input
 * (PFX bytes, PEM text, passwords): callers log them and return them in HTTP responses.
 */
export class CertificateFormatError extends Error {
  override readonly name = 'CertificateFormatError';
  readonly code: CertificateFormatErrorCode;

  constructor(code: CertificateFormatErrorCode, message: string, options?: { cause?: unknown }) {
    // forge attaches parsed ASN.1 values (possibly key bytes) as extra properties of its errors, so the cause
    // keeps only its class and message, which are fixed strings in forge and OpenSSL.
    super(message, options?.cause === undefined ? undefined : { cause: sanitizeCause(options.cause) });
    this.code = code;
  }
}

function sanitizeCause(cause: unknown): Error {
  if (!(cause instanceof Error)) return new Error(`non-Error thrown (${typeof cause})`);
  const copy = new Error(cause.message.slice(0, 200));
  copy.name = cause.name;
  return copy;
}
