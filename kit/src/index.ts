// @mtls-rotator/app-kit: what an App Service app needs so that mtls-rotator can rotate its client certificate and
// verify the rotation (docs/app-kit.md). Node built-ins only.
export {
  ClientCertificateNotFoundError,
  DEFAULT_PRIVATE_CERTS_PATH,
  loadClientCertificate,
  type LoadClientCertificateOptions,
  type LoadedClientCertificate,
} from './certificates.js';
export { clientTlsOptions, createClientAgent, createUndiciDispatcher, type ClientTlsOptions, type UndiciDispatcher } from './agent.js';
export {
  checkPartner,
  createHealthHandler,
  healthAnswer,
  PRESENTED_THUMBPRINT_HEADER,
  runHealthCheck,
  writeHealthAnswer,
  type HealthAnswer,
  type HealthHandlerOptions,
  type PartnerCheck,
  type PartnerCheckOptions,
} from './health.js';
