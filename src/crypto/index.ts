export * from './pki.js';
export * from './pkcs12.js';
