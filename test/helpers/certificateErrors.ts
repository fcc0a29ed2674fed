// Which CertificateFormatError a call throws, as a value a table of cases can compare.
import { CertificateFormatError, type CertificateFormatErrorCode } from '../../src/crypto/index.js';

export function codeOf(act: () => unknown): CertificateFormatErrorCode | 'no error' | 'other error' {
  try {
    act();
    return 'no error';
  } catch (err) {
    return err instanceof CertificateFormatError ? err.code : 'other error';
  }
}
